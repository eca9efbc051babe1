"""Faces: the encrypted templates of a collection, indexed and searched. The faces
part of a store."""

from __future__ import annotations

import json
import shlex
import sqlite3
import time
import uuid

import numpy as np

from faceprint.errors import ConsentRequired, InvalidParameter, NotFound
from faceprint.store import consent, validate
from faceprint.store.audit_log import AuditLog
from faceprint.store.collections import check_purpose, collection_row
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions
from faceprint.store.indexes import Indexes
from faceprint.types import Box, FaceHit, NewFace, StoredFace
from faceprint.store.tokens import decode_int, encode_token
from faceprint.store.vectors import VectorIndex
from faceprint.store.video import drop_erased_matches

FACE_COLUMNS = "id, face_id, image_id, external_image_id, user_id, box, confidence, indexed"


class Faces:
    """Index, list, delete and search the faces of collections.

    Args:
        tx: the store's transactions.
        cipher: seals and opens embeddings.
        indexes: the collections' vector indexes.
        audit: the audit writer.

    Example:
        >>> store.faces.add("staff", [new_face], model=engine.model)          # doctest: +SKIP
        >>> store.faces.search("staff", vector, max_faces=5, min_cosine=0.4)  # doctest: +SKIP
    """

    def __init__(self, tx: Transactions, cipher: Cipher, indexes: Indexes, audit: AuditLog) -> None:
        self._tx = tx
        self._cipher = cipher
        self._indexes = indexes
        self._audit = audit

    def add(self, collection: str, faces: list[NewFace], *, model: str) -> list[StoredFace]:
        """Store faces; when this returns they are durable and searchable.

        All or none: one face without consent refuses the whole batch (and the
        refusal is audited).

        Args:
            collection: the collection.
            faces: the faces, each with its unit embedding.
            model: the contract of the embedder that made them.

        Returns:
            The stored faces, in order, each with its new face id.

        Raises:
            NotFound: no such collection.
            InvalidParameter: ``model`` is not the collection's embedding model.
            ConsentRequired: the collection needs consent and a subject lacks it.
        """
        now = time.time()
        try:
            return self._add(collection, faces, model, now)
        except ConsentRequired:
            # the refusal is worth an audit entry too, written after the rollback
            with self._tx.write() as c:
                self._audit.write(c, "IndexFacesRefused", collection, None, len(faces), {"reason": "no valid consent"})
            raise

    def _add(self, collection: str, faces: list[NewFace], model: str, now: float) -> list[StoredFace]:
        with self._tx.write() as c:
            # holding the write lock, catch up first: our ids then follow every id the
            # index has seen, so it never has to re-sort
            self._indexes.sync()
            cid, _, purpose, needs_consent, _, cmodel, _ = collection_row(c, collection)
            if model != cmodel:
                raise InvalidParameter(f"collection {collection} holds {cmodel} embeddings, not {model}")
            for f in faces:
                if needs_consent:
                    _require_consent(c, f.external_image_id, purpose, collection, now)
            stored, ids, vecs = [], [], []
            for f in faces:
                fid = str(uuid.uuid4())
                box = json.dumps([f.box.left, f.box.top, f.box.width, f.box.height])
                vec = np.asarray(f.embedding, np.float32).ravel()
                row = c.execute(
                    "INSERT INTO faces(face_id, collection_id, image_id, external_image_id, box, confidence, indexed, embedding) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                    (fid, cid, f.image_id, f.external_image_id, box, f.confidence, now, self._cipher.seal(vec, fid)),
                ).fetchone()
                ids.append(int(row[0]))
                vecs.append(vec)
                stored.append(StoredFace(fid, f.image_id, f.external_image_id, None, f.box, f.confidence, now))
            self._audit.write(c, "IndexFaces", collection, purpose, len(faces))
            if ids:
                self._tx.after_commit(lambda: self._indexes.apply(cid, lambda index: index.add(np.array(ids), np.stack(vecs))))
        return stored

    def page(self, collection: str, *, user_id: str | None = None, face_ids: list[str] | None = None, max_results: int = 1000, next_token: str | None = None) -> tuple[list[StoredFace], str | None]:
        """One page of faces, oldest first, and the token of the next page (or None).

        Args:
            user_id: only the faces of this user.
            face_ids: only these faces.
            max_results: the page size, 1 to 4096.
            next_token: the token an earlier page returned.

        Raises:
            NotFound: no such collection.
            InvalidParameter: a bad page size, id or token.
        """
        max_results = validate.count(max_results, "MaxResults", 1, 4096)
        after = decode_int(next_token, "faces")
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            sql, args = f"SELECT {FACE_COLUMNS} FROM faces WHERE collection_id=? AND id>?", [cid, after]
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
        return [face_from_row(r) for r in rows], token

    def delete(self, collection: str, face_ids: list[str]) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """DeleteFaces: erase faces not tied to a user (Rekognition refuses those).

        Returns:
            ``(deleted, unsuccessful)``; each unsuccessful entry is
            ``(face_id, user_id, reason)``.

        Raises:
            NotFound: no such collection.
        """
        ids = validate.face_ids(face_ids, most=4096)
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            found = {r["face_id"]: r for r in faces_by_face_id(c, cid, ids)}
            deleted: list[str] = []
            failed: list[tuple[str, str | None, str]] = []
            rowids: list[int] = []
            for fid in ids:
                row = found.get(fid)
                if row is None:
                    failed.append((fid, None, "FACE_NOT_FOUND"))
                elif row["user_id"] is not None:
                    failed.append((fid, row["user_id"], "ASSOCIATED_TO_AN_EXISTING_USER"))
                else:
                    deleted.append(fid)
                    rowids.append(row["id"])
            self._indexes.delete_rows(c, cid, rowids)
            if deleted:
                drop_erased_matches(c, self._cipher)  # video search results named them too
            self._audit.write(c, "DeleteFaces", collection, None, len(deleted))
        if deleted:
            self._tx.checkpoint()
        return deleted, failed

    def vector(self, collection: str, face_id: str) -> np.ndarray:
        """The embedding of a stored face (for SearchFaces).

        Raises:
            NotFound: no such collection or face.
        """
        fid = validate.face_id(face_id)
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            row = c.execute("SELECT embedding FROM faces WHERE collection_id=? AND face_id=?", (cid, fid)).fetchone()
        if row is None:
            raise NotFound(f"face {fid} is not in collection {collection}")
        return self._cipher.open(row[0], fid)

    def search(self, collection: str, vector: np.ndarray, *, max_faces: int, min_cosine: float, purpose: str | None = None, exclude: str | None = None, action: str = "SearchFacesByImage") -> list[FaceHit]:
        """The most similar stored faces, best first, each with its exact cosine.

        Args:
            purpose: what the search is for; it must be the collection's declared
                purpose (the default), and it is recorded in the audit log.
            exclude: a face id to leave out (the query face of SearchFaces).
            min_cosine: the least cosine a hit may have (callers turn a similarity
                threshold into it; ``search.search_collection`` does).

        Raises:
            NotFound: no such collection.
            InvalidParameter: another purpose, or a bad ``max_faces``.
        """
        max_faces = validate.count(max_faces, "MaxFaces", 1, 4096)
        row = check_purpose(self._tx, collection, purpose)
        cid, declared = row["id"], row["purpose"]
        index = self._indexes.get(cid)
        ids, cos = index.search(np.asarray(vector, np.float32), max_faces + (exclude is not None), min_cosine=min_cosine)[0]
        hits = self._hits(row, ids, cos, index)
        hits = [h for h in hits if h.face.face_id != exclude][:max_faces]
        with self._tx.write(durable=False) as c:  # a read: its audit entry needs no fsync
            self._audit.write(c, action, collection, declared, len(hits))
        return hits

    def size(self, collection: str) -> int:
        """How many faces a search of the collection compares against.

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
        return len(self._indexes.get(cid))

    def _hits(self, crow: sqlite3.Row, ids: np.ndarray, cos: np.ndarray, index: VectorIndex) -> list[FaceHit]:
        """Records for index hits in the collection whose row is given. A face past the
        collection's retention or its subject's consent is never returned, even before
        the next purge erases it."""
        if len(ids) == 0:
            return []
        now = time.time()
        _, collection, purpose, needs_consent, max_age, *_ = crow
        with self._tx.read() as c:
            marks = ",".join("?" * len(ids))
            rows = {r[0]: r for r in c.execute(f"SELECT {FACE_COLUMNS} FROM faces WHERE id IN ({marks})", [int(i) for i in ids])}
            if max_age is not None:
                rows = {k: r for k, r in rows.items() if r["indexed"] >= now - max_age * 86400}
            if needs_consent:
                rows = {k: r for k, r in rows.items() if r["external_image_id"] is not None and consent.covers(c, r["external_image_id"], purpose=purpose, collection=collection, now=now)}
        # a row deleted by another process since the index was synced is skipped too
        vectors = index.get_many(ids)
        return [FaceHit(face_from_row(rows[int(i)]), float(s), v) for i, s, v in zip(ids, cos, vectors) if int(i) in rows and v is not None]


def faces_by_face_id(c: sqlite3.Connection, cid: int, face_ids: list[str]) -> list[sqlite3.Row]:
    """The rows (``FACE_COLUMNS``) of the named faces of one collection; unknown ids are absent."""
    marks = ",".join("?" * len(face_ids))
    return c.execute(f"SELECT {FACE_COLUMNS} FROM faces WHERE collection_id=? AND face_id IN ({marks})", (cid, *face_ids)).fetchall()


def face_from_row(row: sqlite3.Row) -> StoredFace:
    """A :class:`StoredFace` from a row of ``FACE_COLUMNS``."""
    box = Box(*json.loads(row["box"]))
    return StoredFace(
        face_id=row["face_id"],
        image_id=row["image_id"],
        external_image_id=row["external_image_id"],
        user_id=row["user_id"],
        box=box,
        confidence=float(row["confidence"]),
        indexed=float(row["indexed"]),
    )


def _require_consent(c: sqlite3.Connection, subject: str | None, purpose: str, collection: str, now: float) -> None:
    if subject is None:
        raise ConsentRequired(
            f"collection {collection} requires consent: index faces under an ExternalImageId whose consent is recorded "
            f"for purpose {purpose!r} ({_how_to_record_consent('SUBJECT', purpose, collection)})"
        )
    if not consent.covers(c, subject, purpose=purpose, collection=collection, now=now):
        raise ConsentRequired(
            f"subject {subject} has no valid consent for purpose {purpose!r} in collection {collection}; "
            f"{_how_to_record_consent(subject, purpose, collection)}"
        )


def _how_to_record_consent(subject: str, purpose: str, collection: str) -> str:
    return (
        f"a consent officer or admin records it with FaceprintService.AddConsent "
        f"(Subject={subject}, Basis, Purpose={purpose!r}, optionally CollectionId={collection}) "
        f"or: faceprint consent add {shlex.quote(subject)} --basis consent --purpose {shlex.quote(purpose)} [--collection {collection}]"
    )
