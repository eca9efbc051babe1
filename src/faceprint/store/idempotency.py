"""ClientRequestToken: a call retried with the same token gets the first call's answer.

Rekognition makes StartFaceSearch, StartFaceDetection, CreateUser and other calls
idempotent by a client token: the same token with the same parameters returns the same
answer (the same JobId) instead of acting twice; the same token with other parameters
is refused with IdempotentParameterMismatchException. A token is remembered per access
key and operation, with a digest of the call's other parameters and the answer it got,
for :data:`TOKEN_HOURS`. Rekognition documents no window for these operations; 24 hours
is the longest one AWS services that state a window use.

Call :func:`recall` and :func:`remember` inside the write transaction that does the
work, so the work and its remembered answer commit together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from typing import Any, Mapping

from faceprint.errors import IdempotentParameterMismatch

TOKEN_HOURS = 24.0


def digest(params: Mapping[str, Any]) -> str:
    """A digest of a call's parameters (the token itself left out by the caller)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def recall(c: sqlite3.Connection, owner: str, operation: str, token: str, params_digest: str, now: float) -> str | None:
    """The answer remembered for ``token``, or None if it is new (or older than the window).

    Raises:
        IdempotentParameterMismatch: the token came with other parameters before.
    """
    row = c.execute("SELECT digest, response FROM request_tokens WHERE owner=? AND operation=? AND token=? AND created>=?", (owner, operation, token, now - TOKEN_HOURS * 3600)).fetchone()
    if row is None:
        return None
    if not hmac.compare_digest(row[0], params_digest):
        raise IdempotentParameterMismatch(f"ClientRequestToken {token} was used for a {operation} call with other parameters; use a new token for a new call")
    return str(row[1])


def remember(c: sqlite3.Connection, owner: str, operation: str, token: str, params_digest: str, response: str, now: float) -> None:
    c.execute(
        "INSERT INTO request_tokens(owner, operation, token, digest, response, created) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT(owner, operation, token) DO UPDATE SET digest=excluded.digest, response=excluded.response, created=excluded.created",
        (owner, operation, token, params_digest, response, now),
    )


def forget(c: sqlite3.Connection, owner: str, operation: str, token: str) -> None:
    """Drop a token whose answer no longer exists (a job erased by retention)."""
    c.execute("DELETE FROM request_tokens WHERE owner=? AND operation=? AND token=?", (owner, operation, token))


def forget_older(c: sqlite3.Connection, now: float) -> int:
    """Drop tokens past the window; returns how many."""
    return int(c.execute("DELETE FROM request_tokens WHERE created<?", (now - TOKEN_HOURS * 3600,)).rowcount)
