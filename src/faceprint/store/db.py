"""The SQLite file behind a store: pragmas, schema, transactions, error mapping.

Every acknowledged write is a committed transaction in WAL mode with
``synchronous=FULL``, so it survives power loss and ``kill -9``; ``secure_delete``
overwrites deleted rows, and :func:`checkpoint` folds the WAL back into the main file
so erased bytes leave the write-ahead log too.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from faceprint.errors import StorageError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    purpose          TEXT NOT NULL,
    consent_required INTEGER NOT NULL,
    max_age_days     REAL,
    model            TEXT NOT NULL,
    created          REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    face_id           TEXT NOT NULL UNIQUE,
    collection_id     INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    image_id          TEXT NOT NULL,
    external_image_id TEXT,
    user_id           TEXT,
    box               TEXT NOT NULL,
    confidence        REAL NOT NULL,
    indexed           REAL NOT NULL,
    embedding         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection_id, id);
CREATE INDEX IF NOT EXISTS faces_by_subject ON faces(external_image_id);
CREATE INDEX IF NOT EXISTS faces_by_user ON faces(collection_id, user_id);
CREATE INDEX IF NOT EXISTS faces_by_age ON faces(collection_id, indexed);
CREATE TABLE IF NOT EXISTS collection_tags (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (collection_id, key)
);
CREATE TABLE IF NOT EXISTS users (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    created       REAL NOT NULL,
    PRIMARY KEY (collection_id, user_id)
);
CREATE TABLE IF NOT EXISTS consent (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    subject    TEXT NOT NULL,
    basis      TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    collection TEXT,
    expires    REAL,
    created    REAL NOT NULL,
    revoked    REAL
);
CREATE INDEX IF NOT EXISTS consent_by_subject ON consent(subject);
CREATE TABLE IF NOT EXISTS access_keys (
    key_id     TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    secret     BLOB NOT NULL,
    created    REAL NOT NULL,
    revoked    REAL
);
CREATE TABLE IF NOT EXISTS video_jobs (
    job_id     TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    params     TEXT NOT NULL,
    result     BLOB,
    message    TEXT,
    created    REAL NOT NULL,
    updated    REAL NOT NULL,
    owner      TEXT
);
CREATE TABLE IF NOT EXISTS video_uploads (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    format     TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    created    REAL NOT NULL,
    expires    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS request_tokens (
    owner      TEXT NOT NULL,
    operation  TEXT NOT NULL,
    token      TEXT NOT NULL,
    digest     TEXT NOT NULL,
    response   TEXT NOT NULL,
    created    REAL NOT NULL,
    PRIMARY KEY (owner, operation, token)
);
CREATE TABLE IF NOT EXISTS stream_processors (
    name       TEXT PRIMARY KEY,
    params     TEXT NOT NULL,
    status     TEXT NOT NULL,
    message    TEXT,
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_hosts (
    server_id  TEXT PRIMARY KEY,
    streams    TEXT NOT NULL,
    heartbeat  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq        INTEGER PRIMARY KEY,
    ts         REAL NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    collection TEXT,
    purpose    TEXT,
    count      INTEGER NOT NULL,
    detail     TEXT NOT NULL,
    mac        TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store database with durable, erasing pragmas.

    Raises:
        StorageError: the file cannot be opened or created.
    """
    try:
        _make_private(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row  # columns read by name: a schema change cannot shift them
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of a million faces stay hot
        conn.execute("BEGIN IMMEDIATE")
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        _add_columns(conn)
        conn.execute("INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT(key) DO NOTHING", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _storage_error(exc, path) from None
    return conn


def _make_private(path: Path) -> None:
    """Create the database file readable by its owner only, and take group and world
    access away from one that exists (and from its WAL and shared-memory files): SQLite
    creates files with the process umask, and gives the WAL and -shm files the mode of
    the database."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise _storage_error(sqlite3.OperationalError(f"unable to open database file: {exc.strerror}"), path) from None
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = p.stat().st_mode & 0o777
            if mode & 0o077:
                p.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours (a read-only copy): say so, do not refuse to read it
            log.warning("cannot make %s private (mode %o): %s", p, mode, exc.strerror)


def _add_columns(conn: sqlite3.Connection) -> None:
    """Columns added after a table first shipped: ``CREATE TABLE IF NOT EXISTS`` leaves
    an existing store's table as it was."""
    for table, column, kind in (("video_jobs", "owner", "TEXT"),):
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _statements(script: str) -> Iterator[str]:
    """Split the schema into statements (triggers contain inner semicolons)."""
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf)
        if joined.rstrip().endswith(";") and sqlite3.complete_statement(joined):
            yield joined
            buf = []


class CommitHooks:
    """Work to run once the current write transaction has committed, in commit order;
    dropped when it rolls back. Both backends' transactions keep them."""

    _hooks: list[Callable[[], None]] | None = None

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current write transaction has committed."""
        if self._hooks is None:
            raise RuntimeError("after_commit outside a write transaction")
        self._hooks.append(hook)

    def _in_write(self) -> bool:
        return self._hooks is not None

    def _begin_hooks(self) -> None:
        self._hooks = []

    def _drop_hooks(self) -> None:
        self._hooks = None

    def _run_hooks(self) -> None:
        hooks, self._hooks = self._hooks or [], None
        for hook in hooks:  # the caller still holds the lock: hooks run in commit order
            hook()


class Transactions(CommitHooks):
    """One connection shared by a process's threads, one write transaction at a time.

    In-memory state that mirrors the rows (the vector indexes) is changed through
    :meth:`after_commit`, so it changes exactly when the rows did, never for a
    transaction that rolled back.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: all or nothing; errors roll back and are
        raised as :class:`StorageError` (other faceprint errors pass through).

        ``durable=False`` commits without waiting for the disk (``synchronous=NORMAL``):
        the transaction survives a killed process but may be lost, never half-written,
        on power loss. Only audit entries of read-only operations use it.
        """
        with self.lock:
            if not durable:
                self.conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._transaction() as conn:
                    yield conn
            finally:
                if not durable:
                    self.conn.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path) from None
            self._begin_hooks()
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                self._drop_hooks()
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise _storage_error(exc, self.path) from None
                raise
            self._run_hooks()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs (inside a write transaction, that
        transaction's own view)."""
        with self.lock:
            if self._in_write():  # already inside write(): read through it
                yield self.conn
                return
            try:
                self.conn.execute("BEGIN")
                yield self.conn
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path) from None
            finally:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error:
                    pass

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's cheap change signal)."""
        with self.lock:
            try:
                return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path) from None

    def checkpoint(self, *, attempts: int = 20) -> bool:
        """Fold the WAL into the database and truncate it, so erased rows leave the log.

        A reader in another process can hold the log open for a moment; the checkpoint
        is retried for about a second. Returns False if the log could not be emptied
        yet (the rows are deleted either way; the next checkpoint, at the latest when
        a store closes or opens, finishes the job).
        """
        for i in range(attempts):
            with self.lock:
                try:
                    busy, log_pages, done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed: %s", exc)
                    return False
            if not busy and log_pages in (0, -1) or (not busy and log_pages == done):
                return True
            time.sleep(0.05 * (i + 1) / attempts)
        log.warning("the WAL of %s is still in use by another process; erased rows leave it at the next checkpoint", self.path)
        return False

    def close(self) -> None:
        with self.lock:
            try:
                self.checkpoint(attempts=1)
            finally:
                self.conn.close()


def _storage_error(exc: sqlite3.Error, path: Path) -> StorageError:
    text = str(exc)
    if "full" in text:
        why = "the disk (or the store's size limit) is full"
    elif "readonly" in text or "read-only" in text:
        why = "the store is read-only"
    elif "locked" in text or "busy" in text:
        why = "another process held the store's write lock too long"
    elif "unable to open" in text:
        why = "the store's database cannot be opened or created (is its folder writable?)"
    else:
        why = "the store's database reported an error"
    return StorageError(f"{why} ({path}: {text}); nothing was changed", sqlite_error=text)
