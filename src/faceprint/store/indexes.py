"""The in-memory vector indexes of a store, one per collection, kept in step with the
rows: built on first use, changed after each commit, and reconciled with other
processes' commits (``PRAGMA data_version``) before a read."""

from __future__ import annotations

import logging
import sqlite3
from typing import Callable

import numpy as np

from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions
from faceprint.store.vectors import VectorIndex

log = logging.getLogger(__name__)


class Indexes:
    """The collections' vector indexes over one database handle.

    Args:
        tx: the store's transactions (its lock also guards the indexes).
        cipher: opens the sealed embeddings.

    Example:
        >>> index = indexes.get(collection_rowid)                   # doctest: +SKIP
        >>> ids, cosines = index.search(vector, 5)[0]               # doctest: +SKIP
    """

    def __init__(self, tx: Transactions, cipher: Cipher) -> None:
        self._tx = tx
        self._cipher = cipher
        self.loaded: dict[int, VectorIndex] = {}
        self._seen_version = tx.data_version()

    def get(self, cid: int) -> VectorIndex:
        """The collection's vector index, built from its rows on first use.

        Args:
            cid: the collection's row id.

        Returns:
            The index, caught up with every commit so far.
        """
        self.sync()
        with self._tx.lock:
            index = self.loaded.get(cid)
            if index is None:
                index = VectorIndex.from_arrays(*self._read_vectors(cid))
                self.loaded[cid] = index
            return index

    def forget(self, cid: int) -> None:
        """Drop a collection's index (it was deleted)."""
        self.loaded.pop(cid, None)

    def delete_rows(self, c: sqlite3.Connection, cid: int, rowids: list[int]) -> None:
        """Delete face rows in the open transaction ``c``; the index follows on commit."""
        for i in range(0, len(rowids), 500):
            chunk = rowids[i : i + 500]
            c.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        if rowids:
            gone = np.array(rowids)
            self._tx.after_commit(lambda: self.apply(cid, lambda index: index.remove(gone)))

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

    def sync(self) -> None:
        """Catch up with other processes' commits: add their new faces, drop their
        deleted ones, forget their deleted collections."""
        with self._tx.lock:
            version = self._tx.data_version()
            if version == self._seen_version:
                return
            with self._tx.read() as c:
                alive = {r[0] for r in c.execute("SELECT id FROM collections")}
            for cid in list(self.loaded):
                index = self.loaded.get(cid)
                if index is None or cid not in alive:
                    self.loaded.pop(cid, None)
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
                    self.loaded.pop(cid, None)  # rebuilt from the rows on next use
                    raise
            self._seen_version = version

    def apply(self, cid: int, change: Callable[[VectorIndex], object]) -> None:
        """Apply a committed change to a loaded index; if that fails, drop the index so
        the next use rebuilds it from the rows."""
        index = self.loaded.get(cid)
        if index is None:
            return
        try:
            change(index)
        except Exception:  # noqa: BLE001
            log.exception("dropping the in-memory index of collection %s", cid)
            self.loaded.pop(cid, None)
