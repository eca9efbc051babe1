"""The PostgreSQL database behind a server store: schema, transactions, error mapping.

The store's parts are written once, in the SQL that SQLite and PostgreSQL share (``?``
placeholders, ``ON CONFLICT``, ``RETURNING``); this module gives them the same
transaction object :mod:`faceprint.store.db` gives them over SQLite, so a store can live
in a database many processes and machines share:

* one connection per process, shared by its threads under a lock (as with SQLite);
* a write transaction takes one advisory lock, so writers everywhere run one at a time,
  as SQLite's single writer does: the parts' read-then-write checks stay correct
  across processes;
* ``data_version`` is a counter the faces and collections tables' triggers bump inside
  the writing transaction, so another process sees it change exactly when the rows it
  announces are visible (a search never misses a face whose IndexFaces returned);
* a lost connection is :class:`~faceprint.errors.DatabaseUnavailable` (retryable),
  and the transaction it interrupted left nothing behind.

psycopg is imported here only: the embedded store needs no database driver.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from faceprint.errors import DatabaseUnavailable, InvalidParameter, StorageError
from faceprint.store.db import CommitHooks
from faceprint.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

WRITE_LOCK = 0x66616365  # the advisory lock every write transaction holds ("face")
URL_SCHEMES = ("postgresql://", "postgres://")




def is_url(location: object) -> bool:
    """Whether a store location names a PostgreSQL database rather than a folder."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


class Row(tuple):  # type: ignore[type-arg]
    """A result row read by position or by column name, as :class:`sqlite3.Row` is."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=512)
def _sql(statement: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (no statement holds a literal
    ``?``; a literal ``%`` is escaped)."""
    return statement.replace("%", "%%").replace("?", "%s")


def _check_text(params: Sequence[Any]) -> None:
    """PostgreSQL's text cannot hold U+0000, which SQLite's can: refuse it as bad input
    (the API refuses it before it gets here; this keeps the Python API's answer typed)."""
    for value in params:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidParameter("text values must not contain the NUL character")


class Connection:
    """What the store's parts use of a connection (``execute``, ``executemany``), over
    psycopg."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        params = tuple(params)
        _check_text(params)
        return self._conn.execute(_sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        for row in rows:
            _check_text(row)
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(_sql(statement), rows)


class PgTransactions(CommitHooks):
    """The PostgreSQL counterpart of :class:`faceprint.store.db.Transactions`.

    Args:
        url: ``postgresql://user:password@host:port/database`` (any libpq URL).

    Raises:
        DatabaseUnavailable: the server cannot be reached.
        StorageError: the database refused the schema, or holds a newer one.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.path = redact(url)
        self.lock = threading.RLock()
        self._url = url
        self.conn = self._connect()
        try:
            self._create_schema()
        except BaseException:
            self.conn.close()
            raise

    def _create_schema(self) -> None:
        """Apply the migrations this database has not had yet, each once (see
        :mod:`faceprint.store.postgres_schema`)."""
        with self.write() as c:
            found = c.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
            row = c.execute("SELECT value FROM meta WHERE key='schema'").fetchone() if found else None
            version = int(row[0]) if row is not None else 0
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"the database at {self.path} holds store schema {version}, newer than this faceprint's "
                    f"{SCHEMA_VERSION}: upgrade faceprint on this machine"
                )
            for number, statements in MIGRATIONS:
                if number > version:
                    self.conn.execute(statements)
                    c.execute("INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (str(number),))
                    log.info("store schema migrated", extra={"database": self.path, "to": number})

    @contextmanager
    def write(self, *, durable: bool = True, lock: tuple[str, str] | None = None) -> Iterator[Connection]:
        """One write transaction, alone among every process's writers; all or nothing.

        ``durable=False`` commits without waiting for the WAL flush (``synchronous_commit
        = off``): only audit entries of read-only operations use it. ``lock``: take this
        named lock instead of the store's write lock, for state no part of the store
        reads (one liveness caller's sessions), so it does not wait behind indexing.
        """
        with self.lock:
            self._begin("BEGIN")
            self._begin_hooks()
            try:
                if lock is None:
                    self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                else:
                    self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", lock)
                if not durable:
                    self.conn.execute("SET LOCAL synchronous_commit = off")
                yield Connection(self.conn)
                self.conn.execute("COMMIT")
            except BaseException as exc:
                self._drop_hooks()
                self._rollback()
                if isinstance(exc, self._psycopg.Error):
                    raise self._error(exc) from None
                raise
            self._run_hooks()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for several SELECTs (inside a write transaction, that
        transaction's own view)."""
        with self.lock:
            if self._in_write():  # already inside write(): read through it
                yield Connection(self.conn)
                return
            self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield Connection(self.conn)
            except self._psycopg.Error as exc:
                self._rollback()
                raise self._error(exc) from None
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except self._psycopg.Error as exc:
                    raise self._error(exc) from None

    def data_version(self) -> int:
        """Changes when any process commits a change to faces or collections."""
        with self.lock:
            self._reconnect_if_lost()
            try:
                return int(self.conn.execute("SELECT value FROM meta WHERE key='data_version'").fetchone()[0])
            except self._psycopg.Error as exc:
                raise self._error(exc) from None

    def checkpoint(self, *, attempts: int = 20) -> bool:
        """Nothing to fold: PostgreSQL's own VACUUM reclaims erased rows' space (see
        docs/cluster.md on erasure and backups)."""
        return True

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot reach the database at {self.path}: {first_line(exc)}") from None

    def _reconnect_if_lost(self) -> None:
        if self.conn.closed or self.conn.broken:  # lost earlier (a restart, a failover): connect again
            self.conn = self._connect()

    def _begin(self, statement: str) -> None:
        self._reconnect_if_lost()
        try:
            self.conn.execute(statement)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    def _rollback(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except self._psycopg.Error:
            pass  # the connection is gone: the server rolled the transaction back

    def _error(self, exc: Exception) -> StorageError:
        if isinstance(exc, self._psycopg.OperationalError) or self.conn.closed:
            return DatabaseUnavailable(f"the database at {self.path} is unreachable ({first_line(exc)}); nothing was changed")
        return StorageError(f"the store's database reported an error ({self.path}: {first_line(exc)}); nothing was changed", sqlite_error=str(exc))


def first_line(exc: Exception) -> str:
    """A database error's first line: what a message or a log needs of it."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class OwnConnection:
    """An autocommit connection of a part's own (the request log's, the event
    publisher's), so that it never waits behind the store's transactions; connected
    again when it was found closed or broken (a database restart, a failover)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._url = url
        self._conn: Any = None

    def get(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
