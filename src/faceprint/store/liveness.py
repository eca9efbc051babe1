"""Where liveness sessions live between their requests: in this process for the embedded
store, in the database for the server store, so that a session created on one server is
challenged, judged and read on any other, and a caller's failures count on all of them.

The store keeps sessions as opaque records (``faceprint.liveness.sessions`` encodes
them): an owner's records are read and changed under a lock on that owner, held across
every server of the database; a judged session's result (frames included) is kept
apart, sealed, and read only when asked for.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

from faceprint.errors import FaceprintError
from faceprint.store.crypto import Cipher
from faceprint.store.postgres import PgTransactions


@dataclass(frozen=True)
class SessionRecord:
    """One session as the store keeps it: what it queries on, and the encoded rest."""

    session_id: str
    owner: str
    status: str
    created: float
    expires: float
    data: bytes


class OwnerSessions(Protocol):
    """One owner's sessions and failures, inside the owner's lock."""

    def records(self) -> list[SessionRecord]: ...

    def put(self, record: SessionRecord) -> None: ...

    def put_result(self, session_id: str, result: bytes) -> None: ...

    def failures(self) -> list[float]:
        """The owner's failure times, oldest first."""
        ...

    def add_failure(self, at: float) -> None: ...

    def prune(self, *, failures_before: float, sessions_before: float) -> None:
        """Forget failures older than ``failures_before`` and sessions that expired before
        ``sessions_before`` (with their results)."""
        ...


class LivenessPart(Protocol):
    """The store's liveness sessions."""

    def owner(self, owner: str) -> AbstractContextManager[OwnerSessions]:
        """The owner's sessions, locked for this block on every server of the store.
        A ``FaceprintError`` raised in the block (a refusal) keeps what the block changed
        before it, as a session marked failed and the failure counted; any other error
        discards it."""
        ...

    def result(self, session_id: str, owner: str) -> bytes | None:
        """A judged session's encoded result (None: none, or not this owner's)."""
        ...


class _MemoryOwner:
    def __init__(self, part: MemoryLiveness, owner: str) -> None:
        self._part, self._owner = part, owner

    def records(self) -> list[SessionRecord]:
        return [r for r in self._part.sessions.values() if r.owner == self._owner]

    def put(self, record: SessionRecord) -> None:
        self._part.sessions[record.session_id] = record

    def put_result(self, session_id: str, result: bytes) -> None:
        self._part.results[session_id] = result

    def failures(self) -> list[float]:
        return list(self._part.failures.get(self._owner, []))

    def add_failure(self, at: float) -> None:
        self._part.failures.setdefault(self._owner, []).append(at)
        self._part.failures[self._owner].sort()

    def prune(self, *, failures_before: float, sessions_before: float) -> None:
        kept = [t for t in self._part.failures.get(self._owner, []) if t >= failures_before]
        if kept:
            self._part.failures[self._owner] = kept
        else:
            self._part.failures.pop(self._owner, None)
        for record in self.records():
            if record.expires < sessions_before:
                self._part.sessions.pop(record.session_id, None)
                self._part.results.pop(record.session_id, None)


class MemoryLiveness:
    """Sessions in this process: the embedded store serves one server process, and a
    session left over after a restart is simply gone (its caller starts a new one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sessions: dict[str, SessionRecord] = {}
        self.results: dict[str, bytes] = {}
        self.failures: dict[str, list[float]] = {}

    @contextmanager
    def owner(self, owner: str) -> Iterator[OwnerSessions]:
        with self._lock:
            yield _MemoryOwner(self, owner)

    def result(self, session_id: str, owner: str) -> bytes | None:
        with self._lock:
            record = self.sessions.get(session_id)
            return self.results.get(session_id) if record is not None and record.owner == owner else None





class _DatabaseOwner:
    def __init__(self, c: Any, cipher: Cipher, owner: str) -> None:
        self._c, self._cipher, self._owner = c, cipher, owner

    def records(self) -> list[SessionRecord]:
        rows = self._c.execute("SELECT session_id, status, created, expires, data FROM liveness_sessions WHERE owner=?", (self._owner,)).fetchall()
        return [SessionRecord(r[0], self._owner, r[1], r[2], r[3], self._cipher.open_data(bytes(r[4]), r[0])) for r in rows]

    def put(self, record: SessionRecord) -> None:
        self._c.execute(
            "INSERT INTO liveness_sessions(session_id, owner, status, created, expires, data) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(session_id) DO UPDATE SET status=excluded.status, expires=excluded.expires, data=excluded.data",
            (record.session_id, record.owner, record.status, record.created, record.expires, self._cipher.seal_data(record.data, record.session_id)),
        )

    def put_result(self, session_id: str, result: bytes) -> None:
        self._c.execute(
            "UPDATE liveness_sessions SET result=? WHERE session_id=? AND owner=?", (self._cipher.seal_data(result, session_id + ":result"), session_id, self._owner)
        )

    def failures(self) -> list[float]:
        return [r[0] for r in self._c.execute("SELECT at FROM liveness_failures WHERE owner=? ORDER BY at", (self._owner,))]

    def add_failure(self, at: float) -> None:
        self._c.execute("INSERT INTO liveness_failures(owner, at) VALUES (?,?)", (self._owner, at))

    def prune(self, *, failures_before: float, sessions_before: float) -> None:
        self._c.execute("DELETE FROM liveness_failures WHERE owner=? AND at<?", (self._owner, failures_before))
        self._c.execute("DELETE FROM liveness_sessions WHERE owner=? AND expires<?", (self._owner, sessions_before))


class DatabaseLiveness:
    """Sessions in the server store's database, sealed with the store key.

    An owner's block is one transaction holding an advisory lock on the owner (not the
    store's write lock: liveness traffic does not wait behind indexing).
    """

    def __init__(self, tx: PgTransactions, cipher: Cipher) -> None:
        self._tx = tx
        self._cipher = cipher

    @contextmanager
    def owner(self, owner: str) -> Iterator[OwnerSessions]:
        refusal: FaceprintError | None = None
        with self._tx.write(lock=("liveness", owner)) as c:
            try:
                yield _DatabaseOwner(c, self._cipher, owner)
            except FaceprintError as exc:  # a refusal: what it recorded (a failure) is committed
                refusal = exc
        if refusal is not None:
            raise refusal

    def result(self, session_id: str, owner: str) -> bytes | None:
        with self._tx.read() as c:
            row = c.execute("SELECT result FROM liveness_sessions WHERE session_id=? AND owner=?", (session_id, owner)).fetchone()
        if row is None or row[0] is None:
            return None
        return self._cipher.open_data(bytes(row[0]), session_id + ":result")
