"""The store: collections of encrypted face templates in one folder, searched in memory.

Layout of ``FACEPRINT_HOME`` (default ``~/.faceprint``): ``faceprint.db`` (SQLite:
collections, faces with AES-GCM-sealed embeddings, users, consent, audit, sealed video
job results), ``key`` (unless the key comes from the environment) and ``uploads/``
(videos sent with UploadVideo, sealed, until they expire). No image or face crop is ever stored.

Several processes may open one store: SQLite serialises writers, and each process
notices the others' commits (``PRAGMA data_version``) and reconciles its in-memory
indexes with the rows before its next read.

This module holds the core (opening, collections, faces, search, index upkeep); the
user verbs are in ``users.py`` and consent, erasure, retention and audit in
``governance.py``, mixed into :class:`Store`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import AlreadyExists, ConsentRequired, EncryptionKeyError, InvalidParameter, NotFound, StorageError
from faceprint.store import audit, consent, validate
from faceprint.store.anchor import Anchor
from faceprint.store.crypto import Cipher, load_key
from faceprint.store.db import Transactions, connect
from faceprint.store.records import Box, CollectionInfo, FaceHit, NewFace, StoredFace
from faceprint.store.governance import GovernanceOps
from faceprint.store.keys import KeyOps
from faceprint.store.video import VideoOps
from faceprint.store.tokens import decode_int, encode_token
from faceprint.store.users import UserOps
from faceprint.store.vectors import VectorIndex

log = logging.getLogger(__name__)

HOME_ENV = "FACEPRINT_HOME"
_FACE_COLUMNS = "id, face_id, image_id, external_image_id, user_id, box, confidence, indexed"


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".faceprint")


class Store(UserOps, GovernanceOps, KeyOps, VideoOps):
    """Collections, faces, users, consent and audit in one folder.

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

    Example:
        >>> with Store("/tmp/fp-doc") as store:                   # doctest: +SKIP
        ...     store.create_collection("staff", purpose="door access", model="sface.2021dec/...")
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        actor: str | None = None,
        audit_witness: str | Path | None = None,
        audit_hook: str | None = None,
        audit_syslog: str | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.actor = actor or audit.default_actor()
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"cannot create the store folder {self.home}: {exc.strerror}") from None
        _make_private(self.home)
        db_path = self.home / "faceprint.db"
        self._anchor = Anchor.from_environment(self.home, witness=audit_witness, hook=audit_hook, syslog=audit_syslog)
        self._indexes: dict[int, VectorIndex] = {}
        self._tx = Transactions(connect(db_path), db_path)
        self._timer: threading.Timer | None = None
        self._closed = False
        try:
            self._cipher = self._open_cipher()
            self._seen_version = self._tx.data_version()
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
                self._tx.close()
            finally:
                if self._anchor is not None:
                    self._anchor.close()

    def _open_cipher(self) -> Cipher:
        with self._tx.read() as c:
            row = c.execute("SELECT value FROM meta WHERE key='key_check'").fetchone()
        cipher = Cipher(load_key(self.home, create=row is None))
        if row is None:
            with self._tx.write() as c:
                c.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('key_check', ?)", (cipher.check_value,))
                stored = c.execute("SELECT value FROM meta WHERE key='key_check'").fetchone()[0]
            if stored != cipher.check_value:  # another process created the store first
                raise EncryptionKeyError(f"the store at {self.home} was created with a different key")
        elif row[0] != cipher.check_value:
            raise EncryptionKeyError(f"the key does not open the store at {self.home} (it was created with another key)")
        return cipher

    # -- collections ---------------------------------------------------------
    def create_collection(
        self, name: str, *, purpose: str, model: str, consent_required: bool = True, max_age_days: float | None = None, tags: dict[str, str] | None = None
    ) -> CollectionInfo:
        """Create a collection for one declared purpose, with its own ``tags`` (kept for
        the caller, with no meaning to faceprint).

        Raises:
            AlreadyExists: a collection of that name exists.
            InvalidParameter: a bad name, purpose or retention.
        """
        name = validate.collection_id(name)
        purpose = validate.text(purpose, "purpose")
        if max_age_days is not None and not (isinstance(max_age_days, (int, float)) and 0 < max_age_days < 1e6):
            raise InvalidParameter("max_age_days must be a positive number of days")
        now = time.time()
        with self._tx.write() as c:
            if c.execute("SELECT 1 FROM collections WHERE name=?", (name,)).fetchone():
                raise AlreadyExists(f"collection {name} already exists")
            cid = c.execute(
                "INSERT INTO collections(name, purpose, consent_required, max_age_days, model, created) VALUES (?,?,?,?,?,?)",
                (name, purpose, int(consent_required), max_age_days, model, now),
            ).lastrowid
            c.executemany("INSERT INTO collection_tags(collection_id, key, value) VALUES (?,?,?)", [(cid, k, v) for k, v in (tags or {}).items()])
            detail: dict[str, object] = {"consent_required": consent_required, "max_age_days": max_age_days}
            self._audit(c, "CreateCollection", name, purpose, 0, detail)
        return CollectionInfo(name, purpose, consent_required, max_age_days, model, now)

    def list_collections(self) -> list[str]:
        with self._tx.read() as c:
            return [r[0] for r in c.execute("SELECT name FROM collections ORDER BY name")]

    def collection_tags(self, name: str) -> dict[str, str]:
        """A collection's own tags (its governance is in its columns, not here).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            cid = self._collection_row(c, name)[0]
            return dict(c.execute("SELECT key, value FROM collection_tags WHERE collection_id=? ORDER BY key", (cid,)).fetchall())

    def tag_collection(self, name: str, tags: dict[str, str], *, most: int) -> None:
        """Add or replace tags; none is kept if the collection would then hold more than ``most``.

        Raises:
            NotFound: no such collection.
            InvalidParameter: too many tags.
        """
        with self._tx.write() as c:
            cid = self._collection_row(c, name)[0]
            c.executemany("INSERT OR REPLACE INTO collection_tags(collection_id, key, value) VALUES (?,?,?)", [(cid, k, v) for k, v in tags.items()])
            n = c.execute("SELECT COUNT(*) FROM collection_tags WHERE collection_id=?", (cid,)).fetchone()[0]
            if n > most:
                raise InvalidParameter(f"collection {name} would hold {n} tags of its own; at most {most} fit")

    def untag_collection(self, name: str, keys: list[str]) -> None:
        """Remove tags (keys it does not have are ignored).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.write() as c:
            cid = self._collection_row(c, name)[0]
            c.executemany("DELETE FROM collection_tags WHERE collection_id=? AND key=?", [(cid, k) for k in keys])

    def describe_collection(self, name: str) -> CollectionInfo:
        """Raises: NotFound: no such collection."""
        with self._tx.read() as c:
            row = self._collection_row(c, name)
            faces = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=?", (row[0],)).fetchone()[0]
            users = c.execute("SELECT COUNT(*) FROM users WHERE collection_id=?", (row[0],)).fetchone()[0]
        return CollectionInfo(row[1], row[2], bool(row[3]), row[4], row[5], row[6], int(faces), int(users))

    def delete_collection(self, name: str) -> int:
        """Delete a collection and erase all of its faces; returns how many faces.
        Consent records limited to the collection end with it."""
        with self._tx.write() as c:
            cid, *_ = self._collection_row(c, name)
            n = c.execute("DELETE FROM faces WHERE collection_id=?", (cid,)).rowcount
            c.execute("DELETE FROM users WHERE collection_id=?", (cid,))
            c.execute("DELETE FROM collections WHERE id=?", (cid,))
            self._drop_erased_matches(c)  # video search results against it named its faces
            ended = consent.end_with_collection(c, name)
            self._audit(c, "DeleteCollection", name, None, n, {"consent_records_ended": ended} if ended else None)
            self._tx.after_commit(lambda: self._indexes.pop(cid, None))
        self._tx.checkpoint()
        return int(n)

    # -- faces ---------------------------------------------------------------
    def add_faces(self, name: str, faces: list[NewFace], *, model: str) -> list[StoredFace]:
        """Store faces; when this returns they are durable and searchable.

        Raises:
            NotFound: no such collection.
            InvalidParameter: ``model`` is not the collection's embedding model.
            ConsentRequired: the collection needs consent and a subject lacks it.
        """
        now = time.time()
        try:
            return self._add_faces(name, faces, model, now)
        except ConsentRequired:
            # the refusal is worth an audit entry too, written after the rollback
            with self._tx.write() as c:
                self._audit(c, "IndexFacesRefused", name, None, len(faces), {"reason": "no valid consent"})
            raise

    def _add_faces(self, name: str, faces: list[NewFace], model: str, now: float) -> list[StoredFace]:
        with self._tx.write() as c:
            # holding the write lock, catch up first: our ids then follow every id the
            # index has seen, so it never has to re-sort
            self._sync()
            cid, _, purpose, needs_consent, _, cmodel, _ = self._collection_row(c, name)
            if model != cmodel:
                raise InvalidParameter(f"collection {name} holds {cmodel} embeddings, not {model}")
            for f in faces:
                if needs_consent:
                    self._require_consent(c, f.external_image_id, purpose, name, now)
            stored, ids, vecs = [], [], []
            for f in faces:
                fid = str(uuid.uuid4())
                box = json.dumps([f.box.left, f.box.top, f.box.width, f.box.height])
                vec = np.asarray(f.embedding, np.float32).ravel()
                cur = c.execute(
                    "INSERT INTO faces(face_id, collection_id, image_id, external_image_id, box, confidence, indexed, embedding) VALUES (?,?,?,?,?,?,?,?)",
                    (fid, cid, f.image_id, f.external_image_id, box, f.confidence, now, self._cipher.seal(vec, fid)),
                )
                ids.append(int(cur.lastrowid or 0))
                vecs.append(vec)
                stored.append(StoredFace(fid, f.image_id, f.external_image_id, None, f.box, f.confidence, now))
            self._audit(c, "IndexFaces", name, purpose, len(faces))
            if ids:
                self._tx.after_commit(lambda: self._apply(cid, lambda index: index.add(np.array(ids), np.stack(vecs))))
        return stored

    def _require_consent(self, c: sqlite3.Connection, subject: str | None, purpose: str, name: str, now: float) -> None:
        if subject is None:
            raise ConsentRequired(
                f"collection {name} requires consent: index faces under an ExternalImageId whose consent is recorded "
                f"for purpose {purpose!r} ({_how_to_record_consent('SUBJECT', purpose, name)})"
            )
        if not consent.covers(c, subject, purpose=purpose, collection=name, now=now):
            raise ConsentRequired(
                f"subject {subject} has no valid consent for purpose {purpose!r} in collection {name}; "
                f"{_how_to_record_consent(subject, purpose, name)}"
            )

    def list_faces(self, name: str, *, user_id: str | None = None, face_ids: list[str] | None = None, max_results: int = 1000, next_token: str | None = None) -> tuple[list[StoredFace], str | None]:
        """One page of faces, oldest first, and the token of the next page (or None)."""
        max_results = validate.count(max_results, "MaxResults", 1, 4096)
        after = decode_int(next_token, "faces")
        with self._tx.read() as c:
            cid = self._collection_row(c, name)[0]
            sql, args = f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_id=? AND id>?", [cid, after]
            if user_id is not None:
                sql += " AND user_id=?"
                args.append(validate.user_id(user_id))
            if face_ids:
                ids = validate.face_ids(face_ids, most=4096)
                sql += f" AND face_id IN ({','.join('?' * len(ids))})"
                args.extend(ids)
            rows = c.execute(sql + " ORDER BY id LIMIT ?", (*args, max_results + 1)).fetchall()
        more = len(rows) > max_results
        rows = rows[:max_results]
        token = encode_token("faces", int(rows[-1][0])) if more else None
        return [_face(r) for r in rows], token

    def delete_faces(self, name: str, face_ids: list[str]) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """DeleteFaces: erase faces not tied to a user (Rekognition refuses those).

        Returns:
            ``(deleted, unsuccessful)``; each unsuccessful entry is
            ``(face_id, user_id, reason)``.
        """
        ids = validate.face_ids(face_ids, most=4096)
        with self._tx.write() as c:
            cid = self._collection_row(c, name)[0]
            found = {r[1]: r for r in self._faces_by_face_id(c, cid, ids)}
            deleted, failed, rowids = [], [], []
            for fid in ids:
                row = found.get(fid)
                if row is None:
                    failed.append((fid, None, "FACE_NOT_FOUND"))
                elif row[4] is not None:
                    failed.append((fid, row[4], "ASSOCIATED_TO_AN_EXISTING_USER"))
                else:
                    deleted.append(fid)
                    rowids.append(row[0])
            self._delete_rows(c, cid, rowids)
            if deleted:
                self._drop_erased_matches(c)  # video search results named them too
            self._audit(c, "DeleteFaces", name, None, len(deleted))
        if deleted:
            self._tx.checkpoint()
        return deleted, failed

    def face_vector(self, name: str, face_id: str) -> np.ndarray:
        """The embedding of a stored face (for SearchFaces).

        Raises:
            NotFound: no such collection or face.
        """
        fid = validate.face_id(face_id)
        with self._tx.read() as c:
            cid = self._collection_row(c, name)[0]
            row = c.execute("SELECT embedding FROM faces WHERE collection_id=? AND face_id=?", (cid, fid)).fetchone()
        if row is None:
            raise NotFound(f"face {fid} is not in collection {name}")
        return self._cipher.open(row[0], fid)

    def search(self, name: str, vector: np.ndarray, *, max_faces: int, min_cosine: float, purpose: str | None = None, exclude: str | None = None, action: str = "SearchFacesByImage") -> list[FaceHit]:
        """The most similar stored faces, best first, each with its exact cosine.

        Args:
            purpose: what the search is for; it must be the collection's declared
                purpose (the default), and it is recorded in the audit log.
            exclude: a face id to leave out (the query face of SearchFaces).
        """
        max_faces = validate.count(max_faces, "MaxFaces", 1, 4096)
        row = self._check_purpose(name, purpose)
        cid, declared = row[0], row[2]
        index = self._index(cid)
        ids, cos = index.search(np.asarray(vector, np.float32), max_faces + (exclude is not None), min_cosine=min_cosine)[0]
        hits = self._hits(row, ids, cos, index)
        hits = [h for h in hits if h.face.face_id != exclude][:max_faces]
        with self._tx.write(durable=False) as c:  # a read: its audit entry needs no fsync
            self._audit(c, action, name, declared, len(hits))
        return hits

    def collection_model(self, name: str) -> str:
        """The embedding model of a collection (cheap: no counting, unlike describe).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            return str(self._collection_row(c, name)[5])

    def size(self, name: str) -> int:
        """How many faces a search of the collection compares against."""
        with self._tx.read() as c:
            cid = self._collection_row(c, name)[0]
        return len(self._index(cid))

    # -- internals -------------------------------------------------------------
    def _collection_row(self, c: sqlite3.Connection, name: str) -> tuple[Any, ...]:
        validate.collection_id(name)
        row = c.execute("SELECT id, name, purpose, consent_required, max_age_days, model, created FROM collections WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"collection {name} does not exist")
        return tuple(row)

    def _check_purpose(self, name: str, purpose: str | None) -> tuple[Any, ...]:
        """The collection's row, once ``purpose`` is known to be its declared one."""
        with self._tx.read() as c:
            row = self._collection_row(c, name)
        if purpose is not None and purpose != row[2]:
            raise InvalidParameter(f"collection {name} was created for {row[2]!r}; it cannot be searched for {purpose!r}")
        return row

    def _faces_by_face_id(self, c: sqlite3.Connection, cid: int, face_ids: list[str]) -> list[tuple[Any, ...]]:
        marks = ",".join("?" * len(face_ids))
        return c.execute(f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_id=? AND face_id IN ({marks})", (cid, *face_ids)).fetchall()

    def _delete_rows(self, c: sqlite3.Connection, cid: int, rowids: list[int]) -> None:
        for i in range(0, len(rowids), 500):
            chunk = rowids[i : i + 500]
            c.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        if rowids:
            gone = np.array(rowids)
            self._tx.after_commit(lambda: self._apply(cid, lambda index: index.remove(gone)))

    def _hits(self, collection: tuple[Any, ...], ids: np.ndarray, cos: np.ndarray, index: VectorIndex) -> list[FaceHit]:
        """Records for index hits in the collection whose row is given. A face past the
        collection's retention or its subject's consent is never returned, even before
        the next purge erases it."""
        if len(ids) == 0:
            return []
        now = time.time()
        _, name, purpose, needs_consent, max_age, *_ = collection
        with self._tx.read() as c:
            marks = ",".join("?" * len(ids))
            rows = {r[0]: r for r in c.execute(f"SELECT {_FACE_COLUMNS} FROM faces WHERE id IN ({marks})", [int(i) for i in ids])}
            if max_age is not None:
                rows = {k: r for k, r in rows.items() if r[7] >= now - max_age * 86400}
            if needs_consent:
                rows = {k: r for k, r in rows.items() if r[3] is not None and consent.covers(c, r[3], purpose=purpose, collection=name, now=now)}
        # a row deleted by another process since the index was synced is skipped too
        vectors = index.get_many(ids)
        return [FaceHit(_face(rows[int(i)]), float(s), v) for i, s, v in zip(ids, cos, vectors) if int(i) in rows and v is not None]

    def _index(self, cid: int) -> VectorIndex:
        """The collection's vector index, built from its rows on first use."""
        self._sync()
        with self._tx.lock:
            index = self._indexes.get(cid)
            if index is None:
                index = self._load_index(cid)
                self._indexes[cid] = index
            return index

    def _load_index(self, cid: int) -> VectorIndex:
        return VectorIndex.from_arrays(*self._read_vectors(cid))

    def _read_vectors(self, cid: int, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Decrypted vectors of a collection (or of the given row ids), by ascending id,
        decrypted straight into one preallocated array (a million faces would cost
        gigabytes as a list of small arrays)."""
        sql = "SELECT id, face_id, embedding FROM faces WHERE collection_id=?"
        with self._tx.read() as c:
            if only is None:
                batches: list[list[int] | None] = [None]
                n = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=?", (cid,)).fetchone()[0]
            else:
                wanted = [int(i) for i in only]
                batches = [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
                n = len(wanted)
            ids = np.zeros(n, np.int64)
            vecs: np.ndarray | None = None
            k = 0
            for batch in batches:
                extra = "" if batch is None else f" AND id IN ({','.join('?' * len(batch))})"
                for rowid, fid, blob in c.execute(sql + extra + " ORDER BY id", (cid, *(batch or []))):
                    v = self._cipher.open(blob, fid)
                    if vecs is None:
                        vecs = np.zeros((n, len(v)), np.float32)
                    ids[k], vecs[k] = rowid, v
                    k += 1
        if vecs is None:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return (ids, vecs) if k == n else (ids[:k].copy(), vecs[:k].copy())

    def _sync(self) -> None:
        """Catch up with other processes' commits: add their new faces, drop their
        deleted ones, forget their deleted collections."""
        with self._tx.lock:
            version = self._tx.data_version()
            if version == self._seen_version:
                return
            with self._tx.read() as c:
                alive = {r[0] for r in c.execute("SELECT id FROM collections")}
            for cid in list(self._indexes):
                index = self._indexes.get(cid)
                if index is None or cid not in alive:
                    self._indexes.pop(cid, None)
                    continue
                try:
                    with self._tx.read() as c:
                        rows = np.array([r[0] for r in c.execute("SELECT id FROM faces WHERE collection_id=? ORDER BY id", (cid,))], np.int64)
                    have = index.ids()
                    index.remove(np.setdiff1d(have, rows, assume_unique=True))
                    missing = np.setdiff1d(rows, have, assume_unique=True)
                    if len(missing):
                        index.add(*self._read_vectors(cid, missing))
                except BaseException:
                    self._indexes.pop(cid, None)  # rebuilt from the rows on next use
                    raise
            self._seen_version = version

    def _apply(self, cid: int, change: Any) -> None:
        """Apply a committed change to a loaded index; if that fails, drop the index so
        the next use rebuilds it from the rows."""
        index = self._indexes.get(cid)
        if index is None:
            return
        try:
            change(index)
        except Exception:  # noqa: BLE001
            log.exception("dropping the in-memory index of collection %s", cid)
            self._indexes.pop(cid, None)


def _how_to_record_consent(subject: str, purpose: str, collection: str) -> str:
    return (
        f"a consent officer or admin records it with FaceprintService.AddConsent "
        f"(Subject={subject}, Basis, Purpose={purpose!r}, optionally CollectionId={collection}) "
        f"or: faceprint consent add {shlex.quote(subject)} --basis consent --purpose {shlex.quote(purpose)} [--collection {collection}]"
    )


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


def _face(row: tuple[Any, ...]) -> StoredFace:
    box = Box(*json.loads(row[5]))
    return StoredFace(face_id=row[1], image_id=row[2], external_image_id=row[3], user_id=row[4], box=box, confidence=float(row[6]), indexed=float(row[7]))
