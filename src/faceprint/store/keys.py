"""Access keys: who may call the HTTP service, in which role, for which declared purpose.

A key is an id and a secret, as AWS issues them, so unmodified AWS SDKs can sign with
them. The server must recompute signatures, so the secret is kept, sealed with the
store's key (AES-GCM bound to the key id); it is shown once, when the key is made.
Keys are never deleted, only revoked, so the audit log's actors stay resolvable.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
import time
from dataclasses import dataclass

from faceprint.constants import ROLES
from faceprint.errors import InvalidParameter, NotFound
from faceprint.store import validate
from faceprint.store.audit_log import AuditLog
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions

KEY_PREFIX = "FPAK"


@dataclass(frozen=True)
class AccessKey:
    """An access key's public half: its id, role and declared purpose."""

    key_id: str
    role: str
    purpose: str
    created: float
    revoked: float | None = None

    @property
    def active(self) -> bool:
        """Whether the key has not been revoked."""
        return self.revoked is None


class Keys:
    """Issue, look up, list and revoke access keys.

    Args:
        tx: the store's transactions.
        cipher: seals each key's secret, bound to its id.
        audit: the audit writer.
    """

    def __init__(self, tx: Transactions, cipher: Cipher, audit: AuditLog) -> None:
        self._tx = tx
        self._cipher = cipher
        self._audit = audit

    def issue(self, role: str, purpose: str) -> tuple[AccessKey, str]:
        """Issue a key for one role and declared purpose; returns it and its secret.

        Example:
            >>> key, secret = store.keys.issue("searcher", "door access")   # doctest: +SKIP
            >>> key.key_id  # doctest: +SKIP
            'FPAK3J7Q...'

        Raises:
            InvalidParameter: an unknown role or an empty purpose.
        """
        if role not in ROLES:
            raise InvalidParameter(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        purpose = validate.text(purpose, "purpose")
        key_id = KEY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()[:16]
        secret = secrets.token_urlsafe(30)
        now = time.time()
        with self._tx.write() as c:
            c.execute(
                "INSERT INTO access_keys(key_id, role, purpose, secret, created) VALUES (?,?,?,?,?)",
                (key_id, role, purpose, self._cipher.seal_secret(secret, key_id), now),
            )
            self._audit.write(c, "CreateAccessKey", None, purpose, 1, {"key_id": key_id, "role": role})
        return AccessKey(key_id, role, purpose, now), secret

    def secret(self, key_id: str) -> tuple[AccessKey, str]:
        """The key and its secret, for verifying a signature.

        Raises:
            NotFound: no such key (revoked keys are returned; the caller refuses them).
        """
        with self._tx.read() as c:
            row = c.execute("SELECT key_id, role, purpose, created, revoked, secret FROM access_keys WHERE key_id=?", (key_id,)).fetchone()
        if row is None:
            raise NotFound(f"no access key {key_id}")
        return AccessKey(*row[:5]), self._cipher.open_secret(row[5], key_id)

    def list_all(self) -> list[AccessKey]:
        """Every key, revoked ones included, oldest first."""
        with self._tx.read() as c:
            rows = c.execute("SELECT key_id, role, purpose, created, revoked FROM access_keys ORDER BY created").fetchall()
        return [AccessKey(*r) for r in rows]

    def revoke(self, key_id: str) -> AccessKey:
        """Revoke a key: the server refuses it from then on.

        Raises:
            NotFound: no such key.
        """
        with self._tx.write() as c:
            row = _row(c, key_id)
            if row[4] is None:
                c.execute("UPDATE access_keys SET revoked=? WHERE key_id=?", (time.time(), key_id))
                self._audit.write(c, "RevokeAccessKey", None, row[2], 1, {"key_id": key_id})
            row = _row(c, key_id)
        return AccessKey(*row)


def _row(c: sqlite3.Connection, key_id: str) -> tuple[object, ...]:
    row = c.execute("SELECT key_id, role, purpose, created, revoked FROM access_keys WHERE key_id=?", (key_id,)).fetchone()
    if row is None:
        raise NotFound(f"no access key {key_id}")
    return tuple(row)
