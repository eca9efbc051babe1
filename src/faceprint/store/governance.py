"""Consent, erasure and retention: the lawful side of a store, as its governance part
(the audit log is ``audit_log.py``; the purge timer is the store's)."""

from __future__ import annotations

import sqlite3
import time

from faceprint.errors import InvalidParameter, NotFound
from faceprint.store import consent, validate
from faceprint.store.audit_log import AuditLog
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions
from faceprint.store.indexes import Indexes
from faceprint.store.video import drop_erased_matches


class Governance:
    """Consent records, erasure by subject and retention purges of faces.

    Args:
        tx: the store's transactions.
        cipher: opens stored video results, which every erasure cleans.
        indexes: the vector indexes (erased faces leave them on commit).
        audit: the audit writer.

    Example:
        >>> store.governance.add_consent("alice", basis="consent", purpose="door access")  # doctest: +SKIP
        >>> store.governance.erase_subject("alice")                                        # doctest: +SKIP
        3
    """

    def __init__(self, tx: Transactions, cipher: Cipher, indexes: Indexes, audit: AuditLog) -> None:
        self._tx = tx
        self._cipher = cipher
        self._indexes = indexes
        self._audit = audit

    def add_consent(self, subject: str, *, basis: str, purpose: str, expires: float | None = None, collection: str | None = None) -> consent.ConsentRecord:
        """Record a subject's consent to be indexed for one purpose.

        Consent may be recorded before its collection exists. A face indexed in a
        collection that requires consent needs a live record of the collection's
        purpose, limited to that collection or to none.

        Args:
            subject: the ExternalImageId the subject's faces are indexed under.
            basis: the lawful basis, one of ``consent.BASES``.
            purpose: the purpose consented to.
            expires: when it lapses (Unix seconds); None: until revoked.
            collection: the one collection it covers; None: any of that purpose.

        Returns:
            The new record.

        Raises:
            InvalidParameter: a bad subject, basis, purpose or collection name, an
                expiry in the past, or a collection created for another purpose.
        """
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
            self._audit.write(c, "AddConsent", collection, purpose, 1, {"basis": basis})
        return rec

    def consent_records(self, subject: str | None = None) -> list[consent.ConsentRecord]:
        """Every consent record, revoked and expired ones included, oldest first (of
        ``subject`` only, if given)."""
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
            self._audit.write(c, "RevokeConsent", None, None, n)
        self._tx.checkpoint()
        return n

    def erase_subject(self, external_image_id: str) -> int:
        """Erase every face indexed under ``external_image_id`` in every collection, and
        the users of that id; returns the number of faces erased."""
        subject = validate.external_image_id(external_image_id)
        with self._tx.write() as c:
            n = self._erase_subject(c, subject)
            self._audit.write(c, "Erase", None, None, n)
        self._tx.checkpoint()
        return n

    def _erase_subject(self, c: sqlite3.Connection, subject: str) -> int:
        rows = c.execute("SELECT collection_id, id FROM faces WHERE external_image_id=?", (subject,)).fetchall()
        for cid in {r[0] for r in rows}:
            self._indexes.delete_rows(c, cid, [r[1] for r in rows if r[0] == cid])
        # users named after the subject go too; faces of theirs indexed under other
        # ids stay, no longer associated
        c.execute("UPDATE faces SET user_id=NULL WHERE user_id=?", (subject,))
        c.execute("DELETE FROM users WHERE user_id=?", (subject,))
        drop_erased_matches(c, self._cipher)  # video search results named them too
        return len(rows)

    def purge_expired(self) -> int:
        """Erase faces older than their collection's retention, and faces whose subject's
        consent has expired or was revoked (in collections that require consent); returns
        how many. (:meth:`Store.purge_expired` purges video data as well.)"""
        now = time.time()
        with self._tx.read() as c:
            doomed = self._expired(c, now)
        if not doomed:  # a read-only store can still be opened and searched
            return 0
        with self._tx.write() as c:
            doomed = self._expired(c, now)
            for (cid, name), rowids in doomed.items():
                self._indexes.delete_rows(c, cid, rowids)
                self._audit.write(c, "Purge", name, None, len(rowids), {"reason": "retention or lapsed consent"})
            drop_erased_matches(c, self._cipher)
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
