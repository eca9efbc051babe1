"""The audit part of a store: the writer every other part logs through, and the
verbs that read and check the chain (the chain itself is ``audit.py``)."""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from typing import Any, Iterator, Sequence

from faceprint.store import audit
from faceprint.store.anchor import Anchor
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions

# Who is acting in this thread or task, when one store serves many callers (the HTTP
# service): (actor, extra audit detail such as the access key's declared purpose).
_caller: contextvars.ContextVar[tuple[str, dict[str, object]] | None] = contextvars.ContextVar("faceprint_caller", default=None)


class AuditLog:
    """Appends entries inside the caller's transaction and publishes each new head to
    the anchor once it commits; reads, records and verifies the chain.

    Args:
        tx: the store's transactions.
        cipher: keys the chain's HMACs.
        actor: who acts when no :meth:`acting` block says otherwise.
        anchor: where new heads are published outside the store (or None).

    Example:
        >>> store.audit.record("CompareFaces", count=1)            # doctest: +SKIP
        >>> store.audit.verify().ok                                # doctest: +SKIP
        True
    """

    def __init__(self, tx: Transactions, cipher: Cipher, actor: str, anchor: Anchor | None) -> None:
        self._tx = tx
        self._cipher = cipher
        self.actor = actor
        self._anchor = anchor

    def write(self, c: sqlite3.Connection, action: str, collection: str | None, purpose: str | None, count: int, detail: dict[str, object] | None = None) -> None:
        """Append an entry in the open transaction ``c`` (it commits or rolls back with it).

        Args:
            c: the connection of the write transaction the entry belongs to.
            action: the operation, e.g. ``IndexFaces``.
            collection, purpose, count, detail: what it touched (never a face or subject).

        Returns:
            None; the new head is published after the commit.
        """
        caller = _caller.get()
        actor = self.actor
        if caller is not None:
            actor, extra = caller
            detail = {**extra, **(detail or {})}
        head = audit.append(c, self._cipher, action, actor=actor, collection=collection, purpose=purpose, count=count, detail=detail)
        if self._anchor is not None:
            anchor = self._anchor
            self._tx.after_commit(lambda: anchor.publish(head))

    def verify(self, heads: Sequence[str] = ()) -> audit.AuditReport:
        """Check the chain, and that it still holds the heads kept outside the store:
        the witness file, if one is configured, and ``heads`` (e.g. the newest head
        found in syslog or wherever the hook sends them).

        Returns:
            The report: ``ok``, how many entries, and the first problems found.
        """
        outside: list[tuple[str, str | None]] = []
        if self._anchor is not None and self._anchor.witness is not None:
            outside.append((f"the witness {self._anchor.witness}", self._anchor.read_witness()))
        outside.extend((f"the head {h.strip()[:24]}...", h.strip()) for h in heads)
        with self._tx.read() as c:
            return audit.verify(c, self._cipher, outside)

    def entries(self, **filters: Any) -> list[audit.AuditEntry]:
        """Entries matching ``filters`` (see :func:`audit.query`)."""
        with self._tx.read() as c:
            return audit.query(c, **filters)

    def record(self, action: str, *, collection: str | None = None, purpose: str | None = None, count: int = 0, detail: dict[str, object] | None = None) -> None:
        """Log an operation that changes nothing stored (a read, CompareFaces, a refusal)."""
        with self._tx.write(durable=False) as c:
            self.write(c, action, collection, purpose, count, detail)

    @contextlib.contextmanager
    def acting(self, actor: str, **detail: object) -> Iterator[None]:
        """Attribute what this thread does inside the block to ``actor``, adding
        ``detail`` (e.g. the access key's declared purpose) to every audit entry.

        Example:
            >>> with store.audit.acting("FPAK3J7Q", key_purpose="door access"):   # doctest: +SKIP
            ...     store.faces.search("staff", vector, max_faces=5, min_cosine=0.4)
        """
        token = _caller.set((actor, detail))
        try:
            yield
        finally:
            _caller.reset(token)
