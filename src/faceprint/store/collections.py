"""Collections: one declared purpose, one embedding model, its own retention and tags.
The collections part of a store, and the row lookup every other part shares."""

from __future__ import annotations

import sqlite3
import time

from faceprint.errors import AlreadyExists, InvalidParameter, NotFound
from faceprint.store import consent, validate
from faceprint.store.audit_log import AuditLog
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions
from faceprint.store.indexes import Indexes
from faceprint.types import CollectionInfo
from faceprint.store.video import drop_erased_matches


def collection_row(c: sqlite3.Connection, collection: str) -> sqlite3.Row:
    """A collection's row: ``id``, ``name``, ``purpose``, ``consent_required``,
    ``max_age_days``, ``model`` and ``created``, read by name.

    Args:
        c: an open transaction's connection.
        collection: the collection's name.

    Raises:
        NotFound: no such collection.

    Example:
        >>> cid = collection_row(c, "staff")["id"]                    # doctest: +SKIP
    """
    validate.collection_id(collection)
    row = c.execute("SELECT id, name, purpose, consent_required, max_age_days, model, created FROM collections WHERE name=?", (collection,)).fetchone()
    if row is None:
        raise NotFound(f"collection {collection} does not exist")
    return row


def check_purpose(tx: Transactions, collection: str, purpose: str | None) -> sqlite3.Row:
    """The collection's row, once ``purpose`` is known to be its declared one (None: any).

    Raises:
        NotFound: no such collection.
        InvalidParameter: the collection was created for another purpose.
    """
    with tx.read() as c:
        row = collection_row(c, collection)
    if purpose is not None and purpose != row["purpose"]:
        raise InvalidParameter(f"collection {collection} was created for {row['purpose']!r}; it cannot be searched for {purpose!r}")
    return row


class Collections:
    """Create, describe, tag and delete collections.

    Args:
        tx: the store's transactions.
        cipher: opens stored video results, which a deletion cleans.
        indexes: the vector indexes (a deleted collection's is dropped).
        audit: the audit writer.

    Example:
        >>> store.collections.create("staff", purpose="door access", model="sface.2021dec/...")  # doctest: +SKIP
        >>> store.collections.names()                                                             # doctest: +SKIP
        ['staff']
    """

    def __init__(self, tx: Transactions, cipher: Cipher, indexes: Indexes, audit: AuditLog) -> None:
        self._tx = tx
        self._cipher = cipher
        self._indexes = indexes
        self._audit = audit

    def create(
        self, collection: str, *, purpose: str, model: str, consent_required: bool = True, max_age_days: float | None = None, tags: dict[str, str] | None = None
    ) -> CollectionInfo:
        """Create a collection for one declared purpose, with its own ``tags`` (kept for
        the caller, with no meaning to faceprint).

        Args:
            collection: the CollectionId.
            purpose: the one purpose it may be searched for.
            model: the embedding contract of its vectors (``Embedder.contract``);
                faces of any other are refused.
            consent_required: index only subjects with consent for ``purpose``.
            max_age_days: retention of its faces; None: kept until erased.
            tags: the caller's own labels.

        Returns:
            Its description (no faces, no users).

        Raises:
            AlreadyExists: a collection of that name exists.
            InvalidParameter: a bad name, purpose or retention.
        """
        collection = validate.collection_id(collection)
        purpose = validate.text(purpose, "purpose")
        if max_age_days is not None and not (isinstance(max_age_days, (int, float)) and 0 < max_age_days < 1e6):
            raise InvalidParameter("max_age_days must be a positive number of days")
        now = time.time()
        with self._tx.write() as c:
            if c.execute("SELECT 1 FROM collections WHERE name=?", (collection,)).fetchone():
                raise AlreadyExists(f"collection {collection} already exists")
            cid = c.execute(
                "INSERT INTO collections(name, purpose, consent_required, max_age_days, model, created) VALUES (?,?,?,?,?,?) RETURNING id",
                (collection, purpose, int(consent_required), max_age_days, model, now),
            ).fetchone()[0]
            c.executemany("INSERT INTO collection_tags(collection_id, key, value) VALUES (?,?,?)", [(cid, k, v) for k, v in (tags or {}).items()])
            detail: dict[str, object] = {"consent_required": consent_required, "max_age_days": max_age_days}
            self._audit.write(c, "CreateCollection", collection, purpose, 0, detail)
        return CollectionInfo(collection, purpose, consent_required, max_age_days, model, now)

    def names(self) -> list[str]:
        """Every collection's name, sorted."""
        with self._tx.read() as c:
            return [r[0] for r in c.execute("SELECT name FROM collections ORDER BY name")]

    def tags(self, collection: str) -> dict[str, str]:
        """A collection's own tags (its governance is in its columns, not here).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            return dict(c.execute("SELECT key, value FROM collection_tags WHERE collection_id=? ORDER BY key", (cid,)).fetchall())

    def tag(self, collection: str, tags: dict[str, str], *, most: int) -> None:
        """Add or replace tags; none is kept if the collection would then hold more than ``most``.

        Raises:
            NotFound: no such collection.
            InvalidParameter: too many tags.
        """
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            c.executemany("INSERT INTO collection_tags(collection_id, key, value) VALUES (?,?,?) ON CONFLICT(collection_id, key) DO UPDATE SET value=excluded.value", [(cid, k, v) for k, v in tags.items()])
            n = c.execute("SELECT COUNT(*) FROM collection_tags WHERE collection_id=?", (cid,)).fetchone()[0]
            if n > most:
                raise InvalidParameter(f"collection {collection} would hold {n} tags of its own; at most {most} fit")

    def untag(self, collection: str, keys: list[str]) -> None:
        """Remove tags (keys it does not have are ignored).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            c.executemany("DELETE FROM collection_tags WHERE collection_id=? AND key=?", [(cid, k) for k in keys])

    def describe(self, collection: str) -> CollectionInfo:
        """A collection's settings and how many faces and users it holds.

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            row = collection_row(c, collection)
            faces = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=?", (row["id"],)).fetchone()[0]
            users = c.execute("SELECT COUNT(*) FROM users WHERE collection_id=?", (row["id"],)).fetchone()[0]
        return CollectionInfo(
            row["name"], row["purpose"], bool(row["consent_required"]), row["max_age_days"], row["model"], row["created"], int(faces), int(users)
        )

    def model(self, collection: str) -> str:
        """The embedding model of a collection (cheap: no counting, unlike describe).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            return str(collection_row(c, collection)["model"])

    def delete(self, collection: str) -> int:
        """Delete a collection and erase all of its faces, its users, and the video
        search results naming them. Consent records limited to the collection end with it.

        Returns:
            How many faces were erased.

        Raises:
            NotFound: no such collection.
        """
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            n = c.execute("DELETE FROM faces WHERE collection_id=?", (cid,)).rowcount
            c.execute("DELETE FROM users WHERE collection_id=?", (cid,))
            c.execute("DELETE FROM collections WHERE id=?", (cid,))
            drop_erased_matches(c, self._cipher)  # video search results against it named its faces
            ended = consent.end_with_collection(c, collection)
            self._audit.write(c, "DeleteCollection", collection, None, n, {"consent_records_ended": ended} if ended else None)
            self._tx.after_commit(lambda: self._indexes.forget(cid))
        self._tx.checkpoint()
        return int(n)
