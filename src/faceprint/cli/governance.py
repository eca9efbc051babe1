"""faceprint consent | erase | audit | purge: the lawful side of the store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

import faceprint as fp
from faceprint.cli.collections import home_option
from faceprint.cli.common import echo_json, handle_errors
from faceprint.constants import BASES
from faceprint.errors import InvalidParameter


def _timestamp(text: str | None, name: str) -> float | None:
    """A date (YYYY-MM-DD, end of that day UTC) or an ISO 8601 time, as Unix seconds."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time, not {text!r}") from None
    if len(text) == 10:
        when = when + dt.timedelta(days=1) - dt.timedelta(seconds=1)  # the end of that day
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _iso(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@click.group("consent")
def consent_group() -> None:
    """Consent records: a subject's agreement to be indexed for a purpose."""


@consent_group.command("add")
@click.argument("subject")
@click.option("--basis", required=True, type=click.Choice(BASES), help="Legal basis.")
@click.option("--purpose", required=True, help="Must equal the purpose of the collections it covers.")
@click.option("--expires", default=None, help="Date (YYYY-MM-DD) after which it lapses; the subject's faces are then purged.")
@click.option("--collection", default=None, help="Limit it to one collection.")
@home_option
@handle_errors
def consent_add(subject: str, basis: str, purpose: str, expires: str | None, collection: str | None, home: Path | None) -> None:
    """Record SUBJECT's consent (SUBJECT is the ExternalImageId its faces use)."""
    with fp.Store(home) as store:
        rec = store.governance.add_consent(subject, basis=basis, purpose=purpose, expires=_timestamp(expires, "--expires"), collection=collection)
    click.echo(f"consent {rec.id}: {rec.subject} for {rec.purpose!r} ({rec.basis}), valid until {_iso(rec.expires)}" + (f", collection {rec.collection}" if rec.collection else ""))


@consent_group.command("list")
@click.argument("subject", required=False)
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def consent_list(subject: str | None, as_json: bool, home: Path | None) -> None:
    """List consent records (all, or one subject's)."""
    with fp.Store(home) as store:
        records = store.governance.consent_records(subject)
    if as_json:
        return echo_json([vars(r) for r in records])
    for r in records:
        state = f"revoked {_iso(r.revoked)}" if r.revoked else f"expires {_iso(r.expires)}"
        click.echo(f"{r.id}\t{r.subject}\t{r.basis}\t{r.purpose}\t{r.collection or '*'}\t{state}")


@consent_group.command("revoke")
@click.argument("subject")
@home_option
@handle_errors
def consent_revoke(subject: str, home: Path | None) -> None:
    """Revoke SUBJECT's consent and erase its faces everywhere."""
    with fp.Store(home) as store:
        n = store.governance.revoke_consent(subject)
    click.echo(f"revoked consent of {subject}; erased {n} face(s)")


@click.command("erase")
@click.option("--external-image-id", "subject", required=True, help="The subject whose faces to erase.")
@home_option
@handle_errors
def erase(subject: str, home: Path | None) -> None:
    """Erase every face of a subject from every collection (vectors, rows, free pages)."""
    with fp.Store(home) as store:
        n = store.governance.erase_subject(subject)
    click.echo(f"erased {n} face(s) of {subject}")


@click.command("purge")
@home_option
@handle_errors
def purge(home: Path | None) -> None:
    """Erase faces past their collection's retention or their subject's consent (run from cron)."""
    with fp.Store(home) as store:
        n = store.purge_expired()
    click.echo(f"purged {n} face(s)")


@click.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained audit log."""


@audit_group.command("verify")
@click.option(
    "--witness",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The audit witness file (default: $FACEPRINT_AUDIT_WITNESS); the log must still hold the head it names.",
)
@click.option("--head", "heads", multiple=True, help="A head SEQ:MAC:SIG kept elsewhere (syslog, the audit hook's destination); repeatable.")
@home_option
@handle_errors
def audit_verify(witness: Path | None, heads: tuple[str, ...], home: Path | None) -> None:
    """Check that no entry was edited, removed or cut off; exit 1 if one was.

    The store alone cannot show a cut tail whose old head was put back (or an older
    copy of the database): only a head kept outside it can, so give one.
    """
    with fp.Store(home, audit_witness=witness) as store:
        report = store.audit.verify(heads)
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries")
        if not report.anchored:
            click.echo(
                "note: no head kept outside the store was checked (--witness, --head or $FACEPRINT_AUDIT_WITNESS), so a tail cut "
                "together with its old head, or an older copy of the database, would not show; see docs/store.md#audit",
                err=True,
            )
        return
    click.echo(f"audit log BROKEN ({report.entries} entries):", err=True)
    for p in report.problems:
        click.echo(f"  {p}", err=True)
    raise SystemExit(1)


@audit_group.command("show")
@click.option("--collection", default=None)
@click.option("--action", default=None, help="e.g. IndexFaces, SearchFacesByImage, DeleteFaces, Erase.")
@click.option("--actor", default=None)
@click.option("--since", default=None, help="Date or ISO time.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def audit_show(collection: str | None, action: str | None, actor: str | None, since: str | None, limit: int, as_json: bool, home: Path | None) -> None:
    """Show the newest entries matching the filters."""
    since_ts = None
    if since is not None:
        since_ts = _timestamp(since, "--since")
        if len(since) == 10 and since_ts is not None:
            since_ts -= 86400 - 1  # a date means from the start of that day
    with fp.Store(home) as store:
        entries = store.audit.entries(collection=collection, action=action, actor=actor, since=since_ts, limit=limit)
    if as_json:
        return echo_json([{**vars(e), "detail": json.loads(e.detail)} for e in entries])
    for e in entries:
        click.echo(f"{e.seq}\t{_iso(e.ts)}\t{e.actor}\t{e.action}\t{e.collection or '-'}\t{e.purpose or '-'}\t{e.count}")
