"""Consent, erasure, retention and the audit log: the lawful side of :class:`Store`."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sqlite3
import threading
import time
from typing import Any, Iterator, Sequence

from faceprint.errors import InvalidParameter, NotFound
from faceprint.store import audit, consent, validate

log = logging.getLogger(__name__)

# Who is acting in this thread or task, when one store serves many callers (the HTTP
# service): (actor, extra audit detail such as the access key's declared purpose).
_caller: contextvars.ContextVar[tuple[str, dict[str, object]] | None] = contextvars.ContextVar("faceprint_caller", default=None)


class GovernanceOps:
    """Consent records, erasure by subject, retention purges and the audit log, as
    methods of :class:`Store` (which provides ``_tx``, ``_cipher``, ``_audit`` and
    ``_delete_rows``)."""

    # -- consent, erasure, retention -------------------------------------------
    def add_consent(self, subject: str, *, basis: str, purpose: str, expires: float | None = None, collection: str | None = None) -> consent.ConsentRecord:
        subject = validate.external_image_id(subject)
        if basis not in consent.BASES:
            raise InvalidParameter(f"basis must be one of {', '.join(consent.BASES)}")
        purpose = validate.text(purpose, "purpose")
        if collection is not None:
            validate.collection_id(collection)
        if expires is not None and expires <= time.time():
            raise InvalidParameter("the expiry date is in the past")
        with self._tx.write() as c:
            # Consent may be gathered before its collection exists; once it exists, a
            # purpose it was not created for could never be covered: refuse it now.
            row = c.execute("SELECT purpose FROM collections WHERE name=?", (collection,)).fetchone() if collection is not None else None
            if row is not None and row[0] != purpose:
                raise InvalidParameter(f"collection {collection} was created for {row[0]!r}; consent for {purpose!r} would never cover it")
            rec = consent.insert(c, subject, basis, purpose, collection=collection, expires=expires)
            self._audit(c, "AddConsent", collection, purpose, 1, {"basis": basis})
        return rec

    def consent_records(self, subject: str | None = None) -> list[consent.ConsentRecord]:
        with self._tx.read() as c:
            return consent.records(c, subject)

    def revoke_consent(self, subject: str) -> int:
        """Revoke every consent record of ``subject`` and erase its faces; returns the
        number of faces erased.

        Raises:
            NotFound: the subject has no live consent record.
        """
        subject = validate.external_image_id(subject)
        with self._tx.write() as c:
            if consent.revoke(c, subject) == 0:
                raise NotFound(f"subject {subject} has no live consent record")
            n = self._erase_subject(c, subject)
            self._audit(c, "RevokeConsent", None, None, n)
        self._tx.checkpoint()
        return n

    def erase_subject(self, external_image_id: str) -> int:
        """Erase every face indexed under ``external_image_id`` in every collection, and
        the users of that id; returns the number of faces erased."""
        subject = validate.external_image_id(external_image_id)
        with self._tx.write() as c:
            n = self._erase_subject(c, subject)
            self._audit(c, "Erase", None, None, n)
        self._tx.checkpoint()
        return n

    def _erase_subject(self, c: sqlite3.Connection, subject: str) -> int:
        rows = c.execute("SELECT collection_id, id FROM faces WHERE external_image_id=?", (subject,)).fetchall()
        for cid in {r[0] for r in rows}:
            self._delete_rows(c, cid, [r[1] for r in rows if r[0] == cid])
        # users named after the subject go too; faces of theirs indexed under other
        # ids stay, no longer associated
        c.execute("UPDATE faces SET user_id=NULL WHERE user_id=?", (subject,))
        c.execute("DELETE FROM users WHERE user_id=?", (subject,))
        self._drop_erased_matches(c)  # video search results named them too
        return len(rows)

    def purge_expired(self) -> int:
        """Erase faces older than their collection's retention, and faces whose subject's
        consent has expired or was revoked (in collections that require consent); and
        video job results, uploads and client tokens past their time."""
        self.purge_video_data()
        now = time.time()
        with self._tx.read() as c:
            doomed = self._expired(c, now)
        if not doomed:  # a read-only store can still be opened and searched
            return 0
        with self._tx.write() as c:
            doomed = self._expired(c, now)
            for (cid, name), rowids in doomed.items():
                self._delete_rows(c, cid, rowids)
                self._audit(c, "Purge", name, None, len(rowids), {"reason": "retention or lapsed consent"})
            self._drop_erased_matches(c)
        self._tx.checkpoint()
        return sum(len(v) for v in doomed.values())

    def _expired(self, c: sqlite3.Connection, now: float) -> dict[tuple[int, str], list[int]]:
        out = {}
        for cid, name, max_age, needs_consent in c.execute("SELECT id, name, max_age_days, consent_required FROM collections").fetchall():
            # lapsed consent only matters where consent is required: no scan elsewhere
            doomed = {r[0] for r in c.execute(consent.LAPSED_FACES, (cid, now))} if needs_consent else set()
            if max_age is not None:
                doomed |= {r[0] for r in c.execute("SELECT id FROM faces WHERE collection_id=? AND indexed < ?", (cid, now - max_age * 86400))}
            if doomed:
                out[(cid, name)] = sorted(doomed)
        return out

    def start_retention(self, every_s: float = 3600.0) -> None:
        """Purge expired faces every ``every_s`` seconds from now on (opening a store
        purges once already)."""

        def tick() -> None:
            if self._closed:
                return
            try:
                self.purge_expired()
            except Exception:  # noqa: BLE001 - a failed purge is retried at the next tick
                log.exception("scheduled retention purge failed")
            if not self._closed:
                self._timer = threading.Timer(every_s, tick)
                self._timer.daemon = True
                self._timer.start()

        self._timer = threading.Timer(every_s, tick)
        self._timer.daemon = True
        self._timer.start()

    # -- audit ---------------------------------------------------------------
    def audit_verify(self, heads: Sequence[str] = ()) -> audit.AuditReport:
        """Check the chain, and that it still holds the heads kept outside the store:
        the witness file, if one is configured, and ``heads`` (e.g. the newest head
        found in syslog or wherever the hook sends them)."""
        outside: list[tuple[str, str | None]] = []
        if self._anchor is not None and self._anchor.witness is not None:
            outside.append((f"the witness {self._anchor.witness}", self._anchor.read_witness()))
        outside.extend((f"the head {h.strip()[:24]}...", h.strip()) for h in heads)
        with self._tx.read() as c:
            return audit.verify(c, self._cipher, outside)

    def audit_entries(self, **filters: Any) -> list[audit.AuditEntry]:
        with self._tx.read() as c:
            return audit.query(c, **filters)

    def record(self, action: str, *, collection: str | None = None, purpose: str | None = None, count: int = 0, detail: dict[str, object] | None = None) -> None:
        """Log an operation that changes nothing stored (a read, CompareFaces, a refusal)."""
        with self._tx.write(durable=False) as c:
            self._audit(c, action, collection, purpose, count, detail)

    @contextlib.contextmanager
    def acting(self, actor: str, **detail: object) -> Iterator[None]:
        """Attribute what this thread does inside the block to ``actor``, adding
        ``detail`` (e.g. the access key's declared purpose) to every audit entry."""
        token = _caller.set((actor, detail))
        try:
            yield
        finally:
            _caller.reset(token)

    def _audit(self, c: sqlite3.Connection, action: str, collection: str | None, purpose: str | None, count: int, detail: dict[str, object] | None = None) -> None:
        caller = _caller.get()
        actor = self.actor
        if caller is not None:
            actor, extra = caller
            detail = {**extra, **(detail or {})}
        head = audit.append(c, self._cipher, action, actor=actor, collection=collection, purpose=purpose, count=count, detail=detail)
        if self._anchor is not None:
            anchor = self._anchor
            self._tx.after_commit(lambda: anchor.publish(head))
