"""Events every server of a store hears: a stream processor's alerts reach event
subscribers connected to any server, not only the one whose watcher found the face.

* :class:`MemoryEvents` (the embedded store): delivered in this process, at once.
* :class:`DatabaseEvents` (the server store): each event is a sealed row of a table and a
  ``NOTIFY`` naming it, sent when the publishing transaction commits; every server's
  listener thread (its own connection, ``LISTEN``) reads the rows it has not seen and
  hands them on. Rows are kept ``KEEP_S`` for a listener that reconnects to catch up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol

from faceprint.errors import DatabaseUnavailable
from faceprint.store.crypto import Cipher
from faceprint.store.postgres import OwnConnection, first_line

log = logging.getLogger(__name__)

Listener = Callable[[str, bytes], None]  # (topic, payload)
CHANNEL = "faceprint_events"
KEEP_S = 600.0


class EventsPart(Protocol):
    """The store's event fan-out."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Hand ``payload`` to every listener of every server of the store."""
        ...

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic, payload)`` for each event from now on (on a thread of the
        store's); returns the function that stops it."""
        ...


class _Listeners:
    """The listeners of one process, added and removed from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def call(self, topic: str, payload: bytes) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(topic, payload)
            except Exception:  # noqa: BLE001 - one listener failing must not silence the others
                log.exception("an event listener failed")

    def clear(self) -> None:
        with self._lock:
            self._listeners.clear()


class MemoryEvents:
    """Events within this process."""

    def __init__(self) -> None:
        self._listeners = _Listeners()

    def publish(self, topic: str, payload: bytes) -> None:
        self._listeners.call(topic, payload)

    def listen(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def close(self) -> None:
        self._listeners.clear()


class DatabaseEvents:
    """Events through PostgreSQL: a table for the payloads, LISTEN/NOTIFY for the wake-up."""

    def __init__(self, url: str, cipher: Cipher) -> None:
        import psycopg

        self._psycopg = psycopg
        self._url = url
        self._cipher = cipher
        self._lock = threading.Lock()  # the publishing connection and the listener thread's start
        self._listeners = _Listeners()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._publisher = OwnConnection(url)

    def publish(self, topic: str, payload: bytes) -> None:
        now = time.time()
        with self._lock:
            try:
                conn = self._publisher.get()
                with conn.transaction():
                    # one publisher at a time: ids then commit in order, so a listener that has
                    # read up to an id can never later find a smaller one
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x65766E74,))
                    row = conn.execute("INSERT INTO events(topic, payload, at) VALUES (%s, %s, %s) RETURNING id", (topic, b"", now)).fetchone()
                    conn.execute("UPDATE events SET payload=%s WHERE id=%s", (self._cipher.seal_data(payload, f"event:{row[0]}"), row[0]))
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(row[0])))
                    if row[0] % 1000 == 0:  # now and then, drop what no listener needs any more
                        conn.execute("DELETE FROM events WHERE at < %s", (now - KEEP_S,))
            except self._psycopg.Error as exc:
                raise DatabaseUnavailable(f"cannot publish an event to the database ({first_line(exc)})") from None

    def listen(self, listener: Listener) -> Callable[[], None]:
        stop = self._listeners.add(listener)
        with self._lock:
            if self._thread is None:
                ready = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(ready,), name="faceprint-events", daemon=True)
                self._thread.start()
                ready.wait(10.0)  # events published after listen() returns are heard
        return stop

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._lock:
            self._publisher.close()

    def _run(self, ready: threading.Event) -> None:
        last: int | None = None
        while not self._closed.is_set():
            try:
                with self._psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if last is None:
                        last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
                    ready.set()
                    while not self._closed.is_set():
                        last = self._deliver(conn, last)
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            break
            except self._psycopg.Error as exc:  # the database went away: reconnect and catch up from `last`
                log.warning("event listener lost the database; reconnecting", extra={"error": first_line(exc)})
                self._closed.wait(1.0)

    def _deliver(self, conn: Any, last: int) -> int:
        rows = conn.execute("SELECT id, topic, payload FROM events WHERE id > %s ORDER BY id", (last,)).fetchall()
        for event_id, topic, payload in rows:
            self._listeners.call(topic, self._cipher.open_data(bytes(payload), f"event:{event_id}"))
            last = event_id
        return last

