"""faceprint serve | keys: the HTTP service and the access keys it accepts."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

import faceprint as fp
from faceprint.cli.collections import home_option
from faceprint.cli.common import echo_json, handle_errors
from faceprint.constants import ROLES
from faceprint.errors import InvalidParameter


def _bucket(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not Path(folder).is_dir():
        raise InvalidParameter(f"--bucket takes NAME=FOLDER with an existing folder, not {text!r}")
    return name, Path(folder)


def _stream(text: str) -> tuple[str, str]:
    name, sep, source = text.partition("=")
    if not sep or not name or not source:
        from faceprint.video.urls import redact  # not at the top: the video package loads FFmpeg and OpenCV

        raise InvalidParameter(f"--stream takes NAME=SOURCE, not {redact(text)!r}")
    return name, source


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8300, show_default=True, type=click.IntRange(1, 65535))
@click.option("--data", "home", type=click.Path(file_okay=False, path_type=Path), default=None, help="The store folder (default $FACEPRINT_HOME or ~/.faceprint).")
@click.option("--store", "store_url", envvar="FACEPRINT_STORE", default=None, metavar="URL", help="A postgresql:// database holding the store, shared by every server pointed at it (default $FACEPRINT_STORE; none: the embedded store in --data).")
@click.option("--accurate", is_flag=True, help="Accurate mode (about 5x slower per image).")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME=FOLDER", help="Serve FOLDER as S3 bucket NAME for S3Object images (repeatable).")
@click.option("--stream", "streams", multiple=True, metavar="NAME=SOURCE", help="A video source stream processors may read as arn:aws:kinesisvideo:local:000000000000:stream/NAME (repeatable).")
@click.option("--rate-limit", default=200.0, show_default=True, type=click.FloatRange(min=0.01), help="Requests per second per access key (bursts of twice that).")
@click.option("--max-body-mb", default=8.0, show_default=True, help="Larger requests are refused unread.")
@click.option("--max-image-mp", default=25.0, show_default=True, type=click.FloatRange(0.01, 80.0), help="Images of more megapixels are refused from their header, before decoding.")
@click.option("--workers", default=None, type=click.IntRange(1, 256), help="Inference threads (default: one per core).")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes on one port, each with its own models (needs --store: they share everything else through it).")
@click.option("--max-connections", default=1000, show_default=True, type=click.IntRange(2, 1_000_000), help="Open connections at once (alert streams hold one each); a request beyond it is answered 503.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600.0), help="Seconds a connection may take to send a request's line and headers before it is closed.")
@click.option("--body-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1, 3600.0), help="Seconds a request's body may take to arrive (RequestTimeoutException after).")
@click.option("--webhook-http-host", "webhook_http_hosts", multiple=True, metavar="HOST", help="A host stream processors' alert webhooks may reach over plain http (repeatable); others must use https.")
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None, help="Serve HTTPS with this certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None, help="The certificate's private key (PEM).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@handle_errors
def serve(
    host: str, port: int, home: Path | None, store_url: str | None, accurate: bool, buckets: tuple[str, ...], streams: tuple[str, ...], rate_limit: float, max_body_mb: float,
    max_image_mp: float, workers: int | None, processes: int, max_connections: int, header_timeout: float, body_timeout: float, webhook_http_hosts: tuple[str, ...],
    ssl_certfile: Path | None, ssl_keyfile: Path | None, log_level: str,
) -> None:  # fmt: skip
    """Serve the Rekognition-compatible API, the console (/console/), /health, /ready and /metrics.

    Clients sign with an access key from `faceprint keys create`; point any AWS SDK at
    http://HOST:PORT (boto3: endpoint_url=...).
    """
    from faceprint.api import RateLimit, ServerConfig
    from faceprint.api.server import serve as run
    from faceprint.store.anchor import require_writable_witness

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InvalidParameter("--ssl-certfile and --ssl-keyfile go together")
    require_writable_witness()  # a server must not run with its audit log unanchored
    if store_url:
        os.environ["FACEPRINT_STORE"] = store_url  # every store this process opens uses it
    config = ServerConfig(
        home=home,
        mode="accurate" if accurate else "fast",
        buckets=dict(_bucket(b) for b in buckets),
        streams=dict(_stream(s) for s in streams),
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_image_pixels=int(max_image_mp * 1_000_000),
        rate=RateLimit(per_second=rate_limit, burst=2 * rate_limit),
        max_connections=max_connections,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        webhook_http_hosts=tuple(h.lower() for h in webhook_http_hosts),
    )
    if workers:
        config.workers = workers
    run(config, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, log_level=log_level, processes=processes)


@click.group("keys")
def keys_group() -> None:
    """Access keys for the HTTP service: one role and one declared purpose each."""


@keys_group.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES), help="admin: everything; indexer: enrol; searcher: search; consent: record and revoke consent; auditor: read the audit log.")
@click.option("--purpose", required=True, help="What the key is for; recorded in the audit log with every call.")
@click.option("--json", "as_json", is_flag=True, help='Print {"AccessKeyId": ..., "SecretAccessKey": ...}.')
@home_option
@handle_errors
def keys_create(role: str, purpose: str, as_json: bool, home: Path | None) -> None:
    """Issue a key. The secret is printed once and cannot be shown again."""
    with fp.Store(home) as store:
        key, secret = store.keys.issue(role, purpose)
    if as_json:
        return echo_json({"AccessKeyId": key.key_id, "SecretAccessKey": secret, "Role": key.role, "Purpose": key.purpose})
    click.echo(f"AccessKeyId:     {key.key_id}\nSecretAccessKey: {secret}\nrole {key.role}, purpose {key.purpose!r}. Keep the secret: it is not shown again.")


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def keys_list(as_json: bool, home: Path | None) -> None:
    """Every key issued, without secrets."""
    with fp.Store(home) as store:
        keys = store.keys.list_all()
    if as_json:
        return echo_json([{"AccessKeyId": k.key_id, "Role": k.role, "Purpose": k.purpose, "Active": k.active, "Created": k.created} for k in keys])
    for k in keys:
        when = dt.datetime.fromtimestamp(k.created, dt.timezone.utc).strftime("%Y-%m-%d")
        click.echo(f"{k.key_id}  {k.role:<8}  {'active ' if k.active else 'revoked'}  {when}  {k.purpose}")


@keys_group.command("revoke")
@click.argument("key_id")
@home_option
@handle_errors
def keys_revoke(key_id: str, home: Path | None) -> None:
    """Revoke a key; a running server refuses it within 5 seconds, and ends its open
    alert streams within a second more."""
    with fp.Store(home) as store:
        store.keys.revoke(key_id)
    click.echo(f"revoked {key_id}")
