"""The store: collections of encrypted face templates in one folder, searched in memory.

Layout of ``FACEPRINT_HOME`` (default ``~/.faceprint``): ``faceprint.db`` (SQLite:
collections, faces with AES-GCM-sealed embeddings, users, consent, audit, sealed video
job results), ``key`` (unless the key comes from the environment) and ``uploads/``
(videos sent with UploadVideo, sealed, until they expire). No image or face crop is ever stored.

Several processes may open one store: SQLite serialises writers, and each process
notices the others' commits (``PRAGMA data_version``) and reconciles its in-memory
indexes with the rows before its next read.

:class:`Store` is the composition root: it opens the database, the key and the
anchor, and composes the parts over that one handle, each a class of its own file:
``store.collections``, ``store.faces``, ``store.users``, ``store.governance`` (consent,
erasure, retention), ``store.audit``, ``store.keys``, ``store.jobs`` (video jobs,
uploads, stream processors), ``store.requests`` (signed requests seen, rate buckets)
``store.liveness`` (liveness sessions between their requests) and ``store.events``
(alerts fanned out to every server). ``interface.py`` names what each part must offer, for a
second backend.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from faceprint.errors import EncryptionKeyError, InvalidParameter, StorageError
from faceprint.store import audit, postgres
from faceprint.store.anchor import Anchor
from faceprint.store.audit_log import AuditLog
from faceprint.store.collections import Collections
from faceprint.store.crypto import Cipher, load_key
from faceprint.store.db import Transactions, connect
from faceprint.store.faces import Faces
from faceprint.store.governance import Governance
from faceprint.store.indexes import Indexes
from faceprint.store.events import DatabaseEvents, MemoryEvents
from faceprint.store.keys import Keys
from faceprint.store.liveness import DatabaseLiveness, LivenessPart, MemoryLiveness
from faceprint.store.postgres import PgTransactions
from faceprint.store.requests import DatabaseRequests, MemoryRequests, Requests
from faceprint.store.users import Users
from faceprint.store.video import Jobs

log = logging.getLogger(__name__)

HOME_ENV = "FACEPRINT_HOME"
STORE_ENV = "FACEPRINT_STORE"  # a postgresql:// URL: the server store (else the embedded one in HOME)


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".faceprint")


class Store:
    """Collections, faces, users, consent and audit in one folder: the SQLite backend,
    composed of parts over one database handle (see :class:`~faceprint.store.interface.StoreBackend`).

    Args:
        home: the store folder (default ``$FACEPRINT_HOME`` or ``~/.faceprint``).
        actor: who is acting, for the audit log (default ``$FACEPRINT_ACTOR`` or the
            OS user).
        audit_witness: a file outside the store folder that always holds the audit
            log's newest signed head (default ``$FACEPRINT_AUDIT_WITNESS``; none).
        audit_hook: a command run with each new head as its last argument (default
            ``$FACEPRINT_AUDIT_HOOK``; none).
        audit_syslog: ``local`` or ``HOST[:PORT]``: send each new head to syslog
            (default ``$FACEPRINT_AUDIT_SYSLOG``; none). See ``anchor.py`` for what
            each detects.
        database: a ``postgresql://`` URL: keep everything in that database, shared
            by every process and machine pointed at it (default ``$FACEPRINT_STORE``;
            none: the SQLite file in ``home``). ``home`` still holds the key (unless
            ``$FACEPRINT_KEY`` gives it: every server of one database needs the same)
            and the uploaded videos.

    Example:
        >>> with Store("/tmp/fp-doc") as store:                   # doctest: +SKIP
        ...     store.collections.create("staff", purpose="door access", model="sface.2021dec/...")
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        actor: str | None = None,
        audit_witness: str | Path | None = None,
        audit_hook: str | None = None,
        audit_syslog: str | None = None,
        database: str | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.actor = actor or audit.default_actor()
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"cannot create the store folder {self.home}: {exc.strerror}") from None
        _make_private(self.home)
        db_path = self.home / "faceprint.db"
        database = database if database is not None else os.environ.get(STORE_ENV) or None
        self._anchor = Anchor.from_environment(self.home, witness=audit_witness, hook=audit_hook, syslog=audit_syslog)
        self._tx: Transactions | PgTransactions
        if database is not None:
            if not postgres.is_url(database):
                raise InvalidParameter(f"{STORE_ENV} (or --store) takes a postgresql:// URL, not {database!r}; the folder of an embedded store is {HOME_ENV}")
            self._tx = PgTransactions(database)
            self.location = postgres.redact(database)
        else:
            self._tx = Transactions(connect(db_path), db_path)
            self.location = str(db_path)
        self._timer: threading.Timer | None = None
        self._closed = False
        try:
            self._cipher = self._open_cipher()
            # the parts share this handle, this key and these indexes; none reaches into another
            self._indexes = Indexes(self._tx, self._cipher)
            self.audit = AuditLog(self._tx, self._cipher, self.actor, self._anchor)
            self.collections = Collections(self._tx, self._cipher, self._indexes, self.audit)
            self.faces = Faces(self._tx, self._cipher, self._indexes, self.audit)
            self.users = Users(self._tx, self._cipher, self._indexes, self.audit)
            self.governance = Governance(self._tx, self._cipher, self._indexes, self.audit)
            self.keys = Keys(self._tx, self._cipher, self.audit)
            self.jobs = Jobs(self.home, self._tx, self._cipher, self.audit)
            self.requests: Requests = DatabaseRequests(database) if database is not None else MemoryRequests()
            self.liveness: LivenessPart = DatabaseLiveness(self._tx, self._cipher) if isinstance(self._tx, PgTransactions) else MemoryLiveness()
            self.events: MemoryEvents | DatabaseEvents = DatabaseEvents(database, self._cipher) if database is not None else MemoryEvents()
            self.shared = database is not None  # other servers may use this store at the same time
            self.purge_expired()
            self._tx.checkpoint(attempts=1)  # finish an erasure a crash interrupted
        except BaseException:
            self._tx.conn.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            try:
                if isinstance(self.requests, DatabaseRequests):
                    self.requests.close()
                self.events.close()
                self._tx.close()
            finally:
                if self._anchor is not None:
                    self._anchor.close()

    @property
    def node_id(self) -> str:
        """This machine's name among the servers of a shared store: kept in the folder
        (``node-id``), which holds what only this machine has (uploaded videos), so it
        survives restarts and names the work only this machine can resume."""
        path = self.home / "node-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            fresh = uuid.uuid4().hex[:16]
            try:
                with open(path, "x") as fh:  # another process may create it first: then read theirs
                    fh.write(fresh)
                path.chmod(0o600)
            except FileExistsError:
                pass
            return path.read_text().strip()

    def _open_cipher(self) -> Cipher:
        with self._tx.read() as c:
            row = c.execute("SELECT value FROM meta WHERE key='key_check'").fetchone()
        cipher = Cipher(load_key(self.home, create=row is None))
        if row is None:
            with self._tx.write() as c:
                c.execute("INSERT INTO meta(key, value) VALUES ('key_check', ?) ON CONFLICT(key) DO NOTHING", (cipher.check_value,))
                stored = c.execute("SELECT value FROM meta WHERE key='key_check'").fetchone()[0]
            if stored != cipher.check_value:  # another process created the store first
                raise EncryptionKeyError(f"the store at {self.location} was created with a different key")
        elif row[0] != cipher.check_value:
            raise EncryptionKeyError(f"the key does not open the store at {self.location} (it was created with another key; servers of one database share it through $FACEPRINT_KEY)")
        return cipher

    def purge_expired(self) -> int:
        """Erase what is past its time: faces past their collection's retention or their
        subject's consent, and video job results, uploads and client tokens.

        Returns:
            How many faces were erased.
        """
        self.jobs.purge_video_data()
        return self.governance.purge_expired()

    def start_retention(self, every_s: float = 3600.0) -> None:
        """Purge expired data every ``every_s`` seconds from now on (opening a store
        purges once already), until the store is closed."""

        def tick() -> None:
            if self._closed:
                return
            try:
                self.purge_expired()
            except Exception:  # noqa: BLE001 - a failed purge is retried at the next tick
                log.exception("scheduled retention purge failed")
            if not self._closed:
                self._timer = threading.Timer(every_s, tick)
                self._timer.daemon = True
                self._timer.start()

        self._timer = threading.Timer(every_s, tick)
        self._timer.daemon = True
        self._timer.start()


def _make_private(folder: Path) -> None:
    """A folder that existed before (made by hand, a mounted volume) keeps its mode
    through ``mkdir(exist_ok=True)``; take group and world access away, since every
    file in it is sensitive."""
    try:
        mode = folder.stat().st_mode & 0o777
        if mode & 0o077:
            folder.chmod(mode & 0o700)
    except OSError as exc:  # not ours to change: say so, the files inside are still 0600
        log.warning("cannot make the store folder %s private: %s", folder, exc.strerror)
