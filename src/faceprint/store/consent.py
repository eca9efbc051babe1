"""Consent records: who agreed, on which legal basis, for which purpose, until when.

A record is keyed by subject, the ExternalImageId a face is indexed under, so that an
unmodified Rekognition client indexing ``ExternalImageId="alice"`` is checked against
Alice's consent. A record may be limited to one collection (it may be recorded before that
collection is created); it is valid while it is neither revoked nor past its expiry,
and one limited to a collection ends when that collection is deleted, so a new
collection under the same name starts without it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from faceprint.constants import BASES


@dataclass(frozen=True)
class ConsentRecord:
    """One subject's agreement to be indexed for one purpose.

    Attributes:
        basis: the legal basis (GDPR Art. 6/9 vocabulary, e.g. ``consent``).
        collection: the only collection it covers, or None for any collection with
            this purpose.
        expires: Unix time after which it no longer counts, or None.
        revoked: Unix time it was revoked, or None.
    """

    id: int
    subject: str
    basis: str
    purpose: str
    collection: str | None
    expires: float | None
    created: float
    revoked: float | None

    def valid_at(self, now: float) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > now)


COLUMNS = "id, subject, basis, purpose, collection, expires, created, revoked"


def insert(conn: sqlite3.Connection, subject: str, basis: str, purpose: str, *, collection: str | None, expires: float | None) -> ConsentRecord:
    now = time.time()
    rid = conn.execute(
        "INSERT INTO consent(subject, basis, purpose, collection, expires, created) VALUES (?,?,?,?,?,?) RETURNING id",
        (subject, basis, purpose, collection, expires, now),
    ).fetchone()[0]
    return ConsentRecord(int(rid), subject, basis, purpose, collection, expires, now, None)


def records(conn: sqlite3.Connection, subject: str | None = None) -> list[ConsentRecord]:
    if subject is None:
        rows = conn.execute(f"SELECT {COLUMNS} FROM consent ORDER BY id").fetchall()
    else:
        rows = conn.execute(f"SELECT {COLUMNS} FROM consent WHERE subject = ? ORDER BY id", (subject,)).fetchall()
    return [ConsentRecord(*r) for r in rows]


def revoke(conn: sqlite3.Connection, subject: str) -> int:
    """Mark every live record of ``subject`` revoked; returns how many."""
    return conn.execute("UPDATE consent SET revoked = ? WHERE subject = ? AND revoked IS NULL", (time.time(), subject)).rowcount


def end_with_collection(conn: sqlite3.Connection, collection: str) -> int:
    """Mark the live records limited to ``collection`` revoked (it is being deleted);
    returns how many."""
    return conn.execute("UPDATE consent SET revoked = ? WHERE collection = ? AND revoked IS NULL", (time.time(), collection)).rowcount


def covers(conn: sqlite3.Connection, subject: str, *, purpose: str, collection: str, now: float | None = None) -> bool:
    """True when ``subject`` has a valid record for ``purpose`` covering ``collection``."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT 1 FROM consent WHERE subject = ? AND purpose = ? AND revoked IS NULL "
        "AND (expires IS NULL OR expires > ?) AND (collection IS NULL OR collection = ?) LIMIT 1",
        (subject, purpose, now, collection),
    ).fetchone()
    return row is not None


# Faces in a consent-requiring collection whose subject no longer has valid consent.
LAPSED_FACES = """
SELECT f.id FROM faces f JOIN collections c ON c.id = f.collection_id
WHERE c.consent_required = 1 AND c.id = ? AND NOT EXISTS (
    SELECT 1 FROM consent k WHERE k.subject = f.external_image_id AND k.purpose = c.purpose
    AND k.revoked IS NULL AND (k.expires IS NULL OR k.expires > ?)
    AND (k.collection IS NULL OR k.collection = c.name))
"""
