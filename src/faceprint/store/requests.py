"""The signed requests a server has seen and each key's rate: the state the API's guard
keeps beside SigV4 (see ``faceprint.api.guard`` for the rules), held where every server
of one store sees it.

* :class:`MemoryRequests`, for the embedded store: one server process, in memory.
* :class:`DatabaseRequests`, for the server store: in two PostgreSQL tables, so a
  signature used on one server is refused on every other, and a key's rate is counted
  across all of them.

Both give the same verdicts; the guard turns a verdict into the API's error.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

from faceprint.errors import DatabaseUnavailable
from faceprint.store.postgres import OwnConnection, first_line

Outcome = Literal["admitted", "duplicate", "replayed", "window_full", "rate_exceeded"]


@dataclass(frozen=True)
class Limits:
    """A key's token bucket (``per_second`` sustained, ``burst`` at once) and how many of
    its signatures may be remembered at once; ``duplicate_s``: how long after a
    signature's first copy another copy with a new invocation id is an SDK's
    same-second duplicate rather than a replay."""

    per_second: float
    burst: float
    max_remembered: int
    duplicate_s: float


@dataclass(frozen=True)
class Verdict:
    """What became of a request: ``admitted``, or why not, with how long the caller
    should wait before retrying (``wait_s``) and, for a full window, how many of the
    key's signatures are remembered (``remembered``)."""

    outcome: Outcome
    wait_s: float = 0.0
    remembered: int = 0


class Requests(Protocol):
    """The part of a store that remembers signed requests and spends rate tokens."""

    def admit(self, key_id: str, signature: bytes, invocation: bytes, *, now: float, expires: float, limits: Limits) -> Verdict:
        """Remember ``signature`` until ``expires`` and spend one of the key's tokens,
        unless it was seen before, the key's window is full or its bucket is empty."""
        ...

    def release(self, key_id: str, signature: bytes) -> None:
        """Forget a signature (its request was refused, retryably, before any effect)."""
        ...


@dataclass
class _Window:
    seen: dict[bytes, tuple[bytes, float]] = field(default_factory=dict)  # signature -> (invocation, first seen)
    expiry: list[tuple[float, bytes]] = field(default_factory=list)  # a heap: (when its date expires, signature)

    def expire(self, now: float) -> None:
        while self.expiry and self.expiry[0][0] < now:
            _, signature = heapq.heappop(self.expiry)
            self.seen.pop(signature, None)


@dataclass
class _Bucket:
    tokens: float
    at: float


SWEEP_S = 60.0  # how often keys that stopped calling have their expired entries dropped


class MemoryRequests:
    """Requests seen by this process (the embedded store serves one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._swept = 0.0

    def admit(self, key_id: str, signature: bytes, invocation: bytes, *, now: float, expires: float, limits: Limits) -> Verdict:
        with self._lock:
            if now - self._swept > SWEEP_S:  # before taking this key's window: a sweep drops empty ones
                self._sweep(now)
            window = self._windows.setdefault(key_id, _Window())
            window.expire(now)
            seen = window.seen.get(signature)
            if seen is not None:
                first_invocation, first_at = seen
                duplicate = invocation != first_invocation and now - first_at < limits.duplicate_s
                return Verdict("duplicate" if duplicate else "replayed")
            if len(window.expiry) >= limits.max_remembered:
                return Verdict("window_full", max(0.0, window.expiry[0][0] - now), len(window.expiry))
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(limits.burst, now)
            bucket.tokens = min(limits.burst, bucket.tokens + max(0.0, now - bucket.at) * limits.per_second)
            bucket.at = now
            if bucket.tokens < 1.0:  # not remembered: a throttled request's retry may run
                return Verdict("rate_exceeded", (1.0 - bucket.tokens) / limits.per_second)
            bucket.tokens -= 1.0
            window.seen[signature] = (invocation, now)
            heapq.heappush(window.expiry, (expires, signature))
            return Verdict("admitted")

    def release(self, key_id: str, signature: bytes) -> None:
        with self._lock:
            window = self._windows.get(key_id)
            if window is not None:
                window.seen.pop(signature, None)

    def _sweep(self, now: float) -> None:
        self._swept = now
        for key_id, window in list(self._windows.items()):
            window.expire(now)
            if not window.expiry:
                del self._windows[key_id]





class DatabaseRequests:
    """Requests seen by every server of one PostgreSQL store.

    One short transaction a request, on its own connection (not the store's: it must
    not wait behind the store's write lock), with the key's bucket row locked, so two
    servers cannot both spend the last token or both admit one signature. It commits
    without waiting for the disk (``synchronous_commit = off``): a database crash can
    forget the signatures of its last fraction of a second (``wal_writer_delay``, 200
    ms by default), never more.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._lock = threading.Lock()
        self._conn = OwnConnection(url)

    def admit(self, key_id: str, signature: bytes, invocation: bytes, *, now: float, expires: float, limits: Limits) -> Verdict:
        with self._lock:
            try:
                return self._admit(key_id, signature, invocation, now, expires, limits)
            except self._psycopg.Error as exc:
                raise DatabaseUnavailable(f"the database that holds the request log is unreachable ({first_line(exc)})") from None

    def _admit(self, key_id: str, signature: bytes, invocation: bytes, now: float, expires: float, limits: Limits) -> Verdict:
        conn = self._conn.get()
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("INSERT INTO rate_buckets(key_id, tokens, at) VALUES (%s, %s, %s) ON CONFLICT(key_id) DO NOTHING", (key_id, limits.burst, now))
            tokens, at = conn.execute("SELECT tokens, at FROM rate_buckets WHERE key_id=%s FOR UPDATE", (key_id,)).fetchone()
            conn.execute("DELETE FROM seen_requests WHERE key_id=%s AND expires<%s", (key_id, now))
            seen = conn.execute("SELECT invocation, first_seen FROM seen_requests WHERE key_id=%s AND signature=%s", (key_id, signature)).fetchone()
            if seen is not None:
                duplicate = bytes(seen[0]) != invocation and now - seen[1] < limits.duplicate_s
                return Verdict("duplicate" if duplicate else "replayed")
            count, oldest = conn.execute("SELECT COUNT(*), MIN(expires) FROM seen_requests WHERE key_id=%s", (key_id,)).fetchone()
            if count >= limits.max_remembered:
                return Verdict("window_full", max(0.0, oldest - now), int(count))
            tokens = min(limits.burst, tokens + max(0.0, now - at) * limits.per_second)
            if tokens < 1.0:
                conn.execute("UPDATE rate_buckets SET tokens=%s, at=%s WHERE key_id=%s", (tokens, max(now, at), key_id))
                return Verdict("rate_exceeded", (1.0 - tokens) / limits.per_second)
            conn.execute("UPDATE rate_buckets SET tokens=%s, at=%s WHERE key_id=%s", (tokens - 1.0, max(now, at), key_id))
            conn.execute(
                "INSERT INTO seen_requests(key_id, signature, invocation, first_seen, expires) VALUES (%s, %s, %s, %s, %s)",
                (key_id, signature, invocation, now, expires),
            )
            return Verdict("admitted")

    def release(self, key_id: str, signature: bytes) -> None:
        with self._lock:
            try:
                self._conn.get().execute("DELETE FROM seen_requests WHERE key_id=%s AND signature=%s", (key_id, signature))
            except self._psycopg.Error:  # forgetting is best effort: the retry is then refused as a replay
                pass

    def close(self) -> None:
        with self._lock:
            self._conn.close()
