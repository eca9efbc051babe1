"""Users: a person's faces grouped under one id (Rekognition's CreateUser, ListUsers,
AssociateFaces, DisassociateFaces, SearchUsers). The users part of a store."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np

from faceprint.errors import Conflict, NotFound, ServiceQuotaExceeded
from faceprint.matching.bar import FaceBar
from faceprint.store import idempotency, validate
from faceprint.store.audit_log import AuditLog
from faceprint.store.collections import check_purpose, collection_row
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions
from faceprint.store.faces import faces_by_face_id
from faceprint.store.indexes import Indexes
from faceprint.types import UserHit, UserInfo
from faceprint.store.tokens import decode_int, encode_token

MAX_FACES_PER_USER = 100


class Users:
    """Users of collections: create, list, delete, tie faces to them, search them.

    Args:
        tx: the store's transactions.
        cipher: opens the embeddings a user's template is made of.
        indexes: the collections' vector indexes (candidates for a user search).
        audit: the audit writer.

    Example:
        >>> store.users.create("staff", "alice")                               # doctest: +SKIP
        >>> store.users.associate("staff", "alice", [face_id])                 # doctest: +SKIP
        ([face_id], [])
    """

    def __init__(self, tx: Transactions, cipher: Cipher, indexes: Indexes, audit: AuditLog) -> None:
        self._tx = tx
        self._cipher = cipher
        self._indexes = indexes
        self._audit = audit

    def create(self, collection: str, user_id: str, *, client_token: str | None = None, owner: str = "") -> None:
        """CreateUser. With ``client_token`` (ClientRequestToken), a retry of a call that
        succeeded succeeds again without acting; tokens belong to ``owner`` (the
        calling access key).

        Raises:
            NotFound: no such collection.
            Conflict: the user exists (and this is not a retry of the call that made it).
            IdempotentParameterMismatch: the token came with another user or collection.
        """
        uid = validate.user_id(user_id)
        now = time.time()
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            # tokens are held per collection (its row, not its name): one must not outlive a
            # deleted collection and answer for a new one made under the same name
            request = idempotency.digest({"Collection": cid, "UserId": uid})
            if client_token is not None and idempotency.recall(c, owner, "CreateUser", f"{cid}:{client_token}", request, now) is not None:
                return
            if c.execute("SELECT 1 FROM users WHERE collection_id=? AND user_id=?", (cid, uid)).fetchone():
                raise Conflict(f"user {uid} already exists in collection {collection}")
            c.execute("INSERT INTO users(collection_id, user_id, created) VALUES (?,?,?)", (cid, uid, now))
            self._audit.write(c, "CreateUser", collection, None, 0)
            if client_token is not None:
                idempotency.remember(c, owner, "CreateUser", f"{cid}:{client_token}", request, "{}", now)

    def delete(self, collection: str, user_id: str, *, client_token: str | None = None, owner: str = "") -> None:
        """Delete a user; its faces stay in the collection, no longer associated. With
        ``client_token``, a retry of a call that succeeded succeeds again without acting.

        Raises:
            NotFound: no such collection or user.
            IdempotentParameterMismatch: the token came with another user or collection.
        """
        uid = validate.user_id(user_id)
        now = time.time()
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            request = idempotency.digest({"Collection": cid, "UserId": uid})
            if client_token is not None and idempotency.recall(c, owner, "DeleteUser", f"{cid}:{client_token}", request, now) is not None:
                return
            if c.execute("DELETE FROM users WHERE collection_id=? AND user_id=?", (cid, uid)).rowcount == 0:
                raise NotFound(f"user {uid} is not in collection {collection}")
            n = c.execute("UPDATE faces SET user_id=NULL WHERE collection_id=? AND user_id=?", (cid, uid)).rowcount
            self._audit.write(c, "DeleteUser", collection, None, n)
            if client_token is not None:
                idempotency.remember(c, owner, "DeleteUser", f"{cid}:{client_token}", request, "{}", now)
        self._tx.checkpoint()

    def page(self, collection: str, *, max_results: int = 500, next_token: str | None = None) -> tuple[list[UserInfo], str | None]:
        """One page of users, oldest first, and the token of the next page (or None)."""
        max_results = validate.count(max_results, "MaxResults", 1, 500)
        after = decode_int(next_token, "users")
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            rows = c.execute(
                "SELECT u.rowid, u.user_id, (SELECT COUNT(*) FROM faces f WHERE f.collection_id=u.collection_id AND f.user_id=u.user_id) "
                "FROM users u WHERE u.collection_id=? AND u.rowid>? ORDER BY u.rowid LIMIT ?",
                (cid, after, max_results + 1),
            ).fetchall()
        more = len(rows) > max_results
        rows = rows[:max_results]
        users = [UserInfo(r[1], "ACTIVE" if r[2] else "CREATED", int(r[2])) for r in rows]
        return users, (encode_token("users", int(rows[-1][0])) if more else None)

    def associate(
        self, collection: str, user_id: str, face_ids: list[str], *, bar: FaceBar | None = None, client_token: str | None = None, owner: str = ""
    ) -> tuple[list[str], list[tuple[str, str | None, float | None, str]]]:
        """Tie faces to a user. With ``bar``, each face must reach the cosine the bar
        sets for it and the user's template; a user without faces yet has none, so the
        faces of its first call must agree with each other instead (:func:`_first_batch_outliers`).
        With ``client_token``, a retry of a call gets that call's answer without acting.

        Returns:
            ``(associated, unsuccessful)``; each unsuccessful entry is
            ``(face_id, user_id, cosine, reason)``.

        Raises:
            NotFound: no such collection or user.
            ServiceQuotaExceeded: the user would hold more than ``MAX_FACES_PER_USER`` faces.
            IdempotentParameterMismatch: the token came with other parameters.
        """
        uid = validate.user_id(user_id)
        ids = list(dict.fromkeys(validate.face_ids(face_ids, most=100)))
        now = time.time()
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            request = idempotency.digest({"Collection": cid, "UserId": uid, "FaceIds": ids, "Bar": None if bar is None else bar.key})
            if client_token is not None:
                earlier = idempotency.recall(c, owner, "AssociateFaces", f"{cid}:{client_token}", request, now)
                if earlier is not None:
                    done, failed = json.loads(earlier)
                    return done, [tuple(f) for f in failed]
            if not c.execute("SELECT 1 FROM users WHERE collection_id=? AND user_id=?", (cid, uid)).fetchone():
                raise NotFound(f"user {uid} is not in collection {collection}")
            have = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=? AND user_id=?", (cid, uid)).fetchone()[0]
            template = self._template(c, cid, uid) if bar is not None and have else None
            found = {r["face_id"]: r for r in faces_by_face_id(c, cid, ids)}
            candidates = [found[f] for f in ids if f in found and found[f][4] is None]
            if have + len(candidates) > MAX_FACES_PER_USER:
                raise ServiceQuotaExceeded(f"user {uid} has {have} faces; a user holds at most {MAX_FACES_PER_USER}")
            vectors = {r["face_id"]: self._cipher.open(c.execute("SELECT embedding FROM faces WHERE id=?", (r["id"],)).fetchone()[0], r["face_id"]) for r in candidates} if bar is not None else {}
            outliers = _first_batch_outliers(vectors, bar) if bar is not None and not have else {}
            done, failed = [], []
            for fid in ids:
                row = found.get(fid)
                if row is None:
                    failed.append((fid, None, None, "FACE_NOT_FOUND"))
                    continue
                if row["user_id"] == uid:
                    done.append(fid)
                    continue
                if row["user_id"] is not None:
                    failed.append((fid, row["user_id"], None, "ASSOCIATED_TO_A_DIFFERENT_USER"))
                    continue
                cos = outliers.get(fid) if template is None else float(vectors[fid] @ template)
                if cos is not None and (template is None or cos < bar.pair(vectors[fid], template)):  # type: ignore[union-attr]
                    failed.append((fid, uid, cos, "LOW_MATCH_CONFIDENCE"))
                    continue
                c.execute("UPDATE faces SET user_id=? WHERE id=?", (uid, row["id"]))
                done.append(fid)
            self._audit.write(c, "AssociateFaces", collection, None, len(done))
            if client_token is not None:
                idempotency.remember(c, owner, "AssociateFaces", f"{cid}:{client_token}", request, json.dumps([done, failed]), now)
        return done, failed

    def disassociate(
        self, collection: str, user_id: str, face_ids: list[str], *, client_token: str | None = None, owner: str = ""
    ) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """DisassociateFaces: untie faces from a user (they stay in the collection).
        With ``client_token``, a retry gets the first call's answer.

        Returns:
            ``(disassociated, unsuccessful)``; each unsuccessful entry is
            ``(face_id, user_id, reason)``.

        Raises:
            NotFound: no such collection or user.
            IdempotentParameterMismatch: the token came with other parameters.
        """
        uid = validate.user_id(user_id)
        ids = validate.face_ids(face_ids, most=100)
        now = time.time()
        with self._tx.write() as c:
            cid = collection_row(c, collection)["id"]
            request = idempotency.digest({"Collection": cid, "UserId": uid, "FaceIds": ids})
            if client_token is not None:
                earlier = idempotency.recall(c, owner, "DisassociateFaces", f"{cid}:{client_token}", request, now)
                if earlier is not None:
                    done, failed = json.loads(earlier)
                    return done, [tuple(f) for f in failed]
            if not c.execute("SELECT 1 FROM users WHERE collection_id=? AND user_id=?", (cid, uid)).fetchone():
                raise NotFound(f"user {uid} is not in collection {collection}")
            found = {r["face_id"]: r for r in faces_by_face_id(c, cid, ids)}
            done, failed = [], []
            for fid in ids:
                row = found.get(fid)
                if row is None:
                    failed.append((fid, None, "FACE_NOT_FOUND"))
                elif row["user_id"] != uid:
                    failed.append((fid, row["user_id"], "ASSOCIATED_TO_A_DIFFERENT_USER"))
                else:
                    c.execute("UPDATE faces SET user_id=NULL WHERE id=?", (row["id"],))
                    done.append(fid)
            self._audit.write(c, "DisassociateFaces", collection, None, len(done))
            if client_token is not None:
                idempotency.remember(c, owner, "DisassociateFaces", f"{cid}:{client_token}", request, json.dumps([done, failed]), now)
        return done, failed

    def status(self, collection: str, user_id: str) -> str:
        """``ACTIVE`` once the user has a face, ``CREATED`` before (an unknown user too).

        Raises:
            NotFound: no such collection.
        """
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            n = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=? AND user_id=?", (cid, user_id)).fetchone()[0]
        return "ACTIVE" if n else "CREATED"

    def vector(self, collection: str, user_id: str) -> np.ndarray:
        """The user's template: the normalised mean of its faces' embeddings.

        Raises:
            NotFound: no such user, or it has no faces.
        """
        uid = validate.user_id(user_id)
        with self._tx.read() as c:
            cid = collection_row(c, collection)["id"]
            t = self._template(c, cid, uid)
        if t is None:
            raise NotFound(f"user {uid} has no faces in collection {collection}")
        return t

    def search(self, collection: str, vector: np.ndarray, *, max_users: int, min_cosine: float, purpose: str | None = None, exclude: str | None = None, action: str = "SearchUsersByImage") -> list[UserHit]:
        """Users whose template is most similar to ``vector``, best first. Candidates come
        from the face index; each is then scored against its whole template.

        Args:
            purpose: what the search is for; it must be the collection's declared purpose.
            exclude: a user id to leave out (the query user of SearchUsers).

        Raises:
            NotFound: no such collection.
            InvalidParameter: another purpose, or a bad ``max_users``.
        """
        max_users = validate.count(max_users, "MaxUsers", 1, 500)
        row = check_purpose(self._tx, collection, purpose)
        cid, declared = row["id"], row["purpose"]
        index = self._indexes.get(cid)
        ids, _ = index.search(np.asarray(vector, np.float32), max(100, 10 * max_users))[0]
        hits: list[UserHit] = []
        with self._tx.read() as c:
            marks = ",".join("?" * len(ids))
            users = {r[0] for r in c.execute(f"SELECT user_id FROM faces WHERE id IN ({marks}) AND user_id IS NOT NULL", [int(i) for i in ids])}
            users.discard(exclude)
            for uid in users:
                t = self._template(c, cid, uid)
                n = c.execute("SELECT COUNT(*) FROM faces WHERE collection_id=? AND user_id=?", (cid, uid)).fetchone()[0]
                if t is not None:
                    cos = float(t @ np.asarray(vector, np.float32).ravel())
                    if cos >= min_cosine:
                        hits.append(UserHit(UserInfo(uid, "ACTIVE", int(n)), cos, t))
        hits.sort(key=lambda h: -h.cosine)
        hits = hits[:max_users]
        with self._tx.write(durable=False) as c:
            self._audit.write(c, action, collection, declared, len(hits))
        return hits

    def _template(self, c: sqlite3.Connection, cid: int, uid: str) -> np.ndarray | None:
        rows = c.execute("SELECT face_id, embedding FROM faces WHERE collection_id=? AND user_id=?", (cid, uid)).fetchall()
        if not rows:
            return None
        mean = np.mean([self._cipher.open(blob, fid) for fid, blob in rows], axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _first_batch_outliers(vectors: dict[str, np.ndarray], bar: FaceBar) -> dict[str, float]:
    """The faces of a user's first batch that do not belong with the rest, each with its
    cosine to the rest's consensus.

    The consensus is built around the face that agrees (cosine at or above the pair's
    bar) with the most others: it and the faces agreeing with it. Each face is then
    compared with the consensus of the others (without itself, so a face cannot vouch
    for itself): a plain mean of the batch would let an intruder pull the template
    towards itself. A single face is taken; faces none of which agree with another are
    all refused, since nothing says which is the person.
    """
    if len(vectors) < 2:
        return {}
    ids = list(vectors)
    v = np.stack([vectors[i] for i in ids]).astype(np.float32)
    sims = v @ v.T
    need = bar.thresholds(v)
    agrees = sims >= np.maximum(need[:, None], need[None, :])
    np.fill_diagonal(agrees, False)
    anchor = max(range(len(ids)), key=lambda i: (int(agrees[i].sum()), float(sims[i].sum())))
    core = {anchor, *np.flatnonzero(agrees[anchor]).tolist()}
    out = {}
    for i, fid in enumerate(ids):
        others = sorted(core - {i})
        if not others:  # the anchor with no face agreeing: its best agreement, below the bar
            out[fid] = float(np.max(np.delete(sims[i], i)))
            continue
        mean = v[others].mean(axis=0)
        consensus = mean / max(float(np.linalg.norm(mean)), 1e-12)
        cos = float(v[i] @ consensus)
        if cos < bar.pair(v[i], consensus):
            out[fid] = cos
    return out
