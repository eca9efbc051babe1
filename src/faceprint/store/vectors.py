"""The in-memory vector index of one collection.

Small collections are searched exactly (one matrix product). From
``APPROXIMATE_FROM`` faces on, a faiss product-quantized fast-scan index (``d/2``
sub-quantizers of 4 bits: 32 bytes per 128-d face) proposes candidates
and every candidate is re-scored exactly against the full-precision vectors, so the
scores returned are always exact cosines; only the choice of candidates is approximate.
``benchmarks/vector_index.py`` measured why: on face-like data (real SFace embeddings
among synthetic ones drawn to match them) HNSW and IVF lost 9-25 % of true mates at
1M faces within 5 ms, while PQ fast-scan with exact re-ranking of 512 candidates kept
them all. See docs/search.md.

The index is derived data: the database is the truth and the index is rebuilt from it
when a collection is opened, so a crash can never leave the two disagreeing for long.
Ids are the database's row ids, which only grow, so ids are kept sorted and looked up
by binary search instead of a per-face dictionary.
"""

from __future__ import annotations

import os
import threading

import faiss
import numpy as np

APPROXIMATE_FROM = 50_000  # faces; below this exact search is as fast and needs no training
CANDIDATES = 512  # minimum candidates re-scored exactly per query
TRAIN_SAMPLE = 100_000
RETRAIN_GROWTH = 4.0  # retrain the quantizer when the collection has grown this much
SHARDS = max(1, min(4, os.cpu_count() or 1))  # one scan thread per core
COMPACT_DEAD_SHARE = 0.10  # erased faces' codes leave memory, and stop taking candidate slots


class VectorIndex:
    """Unit vectors by integer id, searched by cosine. ``dim`` is taken from the first
    vectors added when not given.

    Example:
        >>> index = VectorIndex()
        >>> index.add(np.array([1, 2]), np.eye(2, 128, dtype=np.float32))
        >>> ids, cos = index.search(np.eye(1, 128, dtype=np.float32), k=1)[0]
        >>> int(ids[0]), float(cos[0])
        (1, 1.0)
    """

    def __init__(self, dim: int = 0, *, approximate_from: int | None = None) -> None:
        self.dim = dim
        self.approximate_from = APPROXIMATE_FROM if approximate_from is None else approximate_from
        self._vecs = np.zeros((0, dim), np.float32)
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, bool)
        self._n = 0  # slots used (alive or dead)
        self._live = 0
        self._pq: faiss.IndexShards | None = None
        self._pq_trained: faiss.Index | None = None
        self._pq_parts: list[faiss.Index] = []
        self._trained_at = 0
        self._lock = threading.RLock()

    @classmethod
    def from_arrays(cls, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """An index that takes ownership of ``vectors`` (float32, rows in ascending
        ``ids`` order) without copying: how a million faces load without doubling
        memory. The caller must not use the arrays afterwards."""
        index = cls()
        ids = np.asarray(ids, np.int64).ravel()
        if len(ids) == 0:
            return index
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous or len(ids) > 1 and not (np.diff(ids) > 0).all():
            index.add(ids, vectors)
            return index
        index.dim = vectors.shape[1]
        index._vecs, index._ids, index._alive = vectors, ids, np.ones(len(ids), bool)
        index._n = index._live = len(ids)
        if index._live >= index.approximate_from:
            index._build_pq()
        return index

    def __len__(self) -> int:
        return self._live

    @property
    def approximate(self) -> bool:
        return self._pq is not None

    def ids(self) -> np.ndarray:
        """Every live id, ascending."""
        with self._lock:
            return self._ids[: self._n][self._alive[: self._n]].copy()

    def nbytes(self) -> int:
        """Memory held for vectors, ids and quantized codes."""
        pq = 0 if self._pq is None else self._n * (self.dim // 4) + 4 * 16 * self.dim
        return int(self._vecs.nbytes + self._ids.nbytes + self._alive.nbytes + pq)

    # -- changes -----------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under new ids (ids already present are replaced)."""
        ids = np.asarray(ids, np.int64).ravel()
        if len(ids) == 0:
            return
        with self._lock:
            if self._n == 0:  # an empty index takes the size of the first vectors
                self.dim = int(np.asarray(vectors).shape[-1])
                self._vecs = np.zeros((0, self.dim), np.float32)
            vectors = np.ascontiguousarray(vectors, np.float32).reshape(len(ids), self.dim)
            if len(ids) > 1 and not (np.diff(ids) > 0).all():
                order = np.argsort(ids, kind="stable")
                ids, vectors = ids[order], vectors[order]
            present = self._slots(ids) >= 0
            if present.any():
                self.remove(ids[present])
            if self._n and ids[0] <= self._ids[self._n - 1]:
                self._rebuild(extra=(ids, vectors))  # out of order: merge and re-sort
                return
            self._reserve(self._n + len(ids))
            s = slice(self._n, self._n + len(ids))
            self._vecs[s], self._ids[s], self._alive[s] = vectors, ids, True
            self._n += len(ids)
            self._live += len(ids)
            if self._pq is not None:
                if self._live >= RETRAIN_GROWTH * self._trained_at:
                    self._build_pq()
                else:
                    self._pq_append(vectors)
            elif self._live >= self.approximate_from:
                self._build_pq()

    def remove(self, ids: np.ndarray) -> int:
        """Forget ids (unknown ones are ignored); returns how many were removed. The
        vectors are zeroed at once; memory is compacted when enough are gone."""
        with self._lock:
            slots = self._slots(np.asarray(ids, np.int64).ravel())
            slots = np.unique(slots[slots >= 0])
            slots = slots[self._alive[slots]]
            self._alive[slots] = False
            self._vecs[slots] = 0.0
            self._live -= len(slots)
            if self._n > 1000 and (self._n - self._live) > COMPACT_DEAD_SHARE * self._n:
                self._rebuild()
            elif self._pq is not None and self._live < self.approximate_from // 2:
                self._rebuild()
            return int(len(slots))

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of live ids, in the order given.

        Raises:
            KeyError: an id is not in the index.
        """
        with self._lock:
            slots = self._slots(np.asarray(ids, np.int64).ravel())
            if (slots < 0).any() or not self._alive[slots].all():
                raise KeyError("id not in the index")
            return self._vecs[slots].copy()

    def get_many(self, ids: np.ndarray) -> list[np.ndarray | None]:
        """Vectors of ids in the order given; None for an id removed meanwhile."""
        with self._lock:
            slots = self._slots(np.asarray(ids, np.int64).ravel())
            return [self._vecs[k].copy() if k >= 0 and self._alive[k] else None for k in slots]

    # -- search ------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, *, min_cosine: float = -1.0) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``k`` most similar live vectors per query with cosine >= ``min_cosine``.

        Returns:
            One ``(ids, cosines)`` pair per query, best first.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        with self._lock:
            n = self._n
            if n == 0 or self._live == 0:
                return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in q]
            if self._pq is None:
                scores = q @ self._vecs[:n].T
                scores[:, ~self._alive[:n]] = -np.inf
                return [self._top(np.arange(n), row, k, min_cosine) for row in scores]
            want = min(n, max(CANDIDATES, 10 * k))
            _, cand = self._pq.search(q, want)
            out = []
            for row_q, row_c in zip(q, cand):
                slots = row_c[row_c >= 0]
                scores = self._vecs[slots] @ row_q
                scores[~self._alive[slots]] = -np.inf
                out.append(self._top(slots, scores, k, min_cosine))
            return out

    def _top(self, slots: np.ndarray, scores: np.ndarray, k: int, min_cosine: float) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        part = part[np.argsort(-scores[part], kind="stable")]
        part = part[scores[part] >= min_cosine]
        return self._ids[slots[part]].copy(), scores[part].astype(np.float32)

    # -- internals ---------------------------------------------------------
    def _slots(self, ids: np.ndarray) -> np.ndarray:
        """Slot of each id, or -1."""
        if self._n == 0:
            return np.full(len(ids), -1, np.int64)
        known = self._ids[: self._n]
        pos = np.searchsorted(known, ids)
        pos_c = np.minimum(pos, self._n - 1)
        return np.where(known[pos_c] == ids, pos_c, -1).astype(np.int64)

    def _reserve(self, size: int) -> None:
        if size <= len(self._ids):
            return
        cap = max(size, int(len(self._ids) * 1.5), 1024)
        vecs = np.zeros((cap, self.dim), np.float32)
        ids = np.zeros(cap, np.int64)
        alive = np.zeros(cap, bool)
        vecs[: self._n], ids[: self._n], alive[: self._n] = self._vecs[: self._n], self._ids[: self._n], self._alive[: self._n]
        self._vecs, self._ids, self._alive = vecs, ids, alive

    def _rebuild(self, extra: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        keep = self._alive[: self._n]
        ids, vecs = self._ids[: self._n][keep], self._vecs[: self._n][keep]
        if extra is not None:
            ids, vecs = np.concatenate([ids, extra[0]]), np.concatenate([vecs, extra[1]])
            order = np.argsort(ids, kind="stable")
            ids, vecs = ids[order], vecs[order]
        self._vecs, self._ids, self._alive = vecs.copy(), ids.copy(), np.ones(len(ids), bool)
        self._n = self._live = len(ids)
        if self._live < self.approximate_from:
            self._pq = self._pq_trained = None
            self._pq_parts = []
        elif self._pq_trained is not None and self._live < RETRAIN_GROWTH * self._trained_at:
            self._pq_fill(self._pq_trained)  # the codebooks still fit: re-encode only
        else:
            self._build_pq()

    def _build_pq(self) -> None:
        """Train the quantizer on a sample of live vectors and encode every slot (dead
        slots too, so that PQ labels stay slot numbers; they are filtered at search)."""
        live = np.flatnonzero(self._alive[: self._n])
        rng = np.random.default_rng(len(live))
        sample = self._vecs[rng.choice(live, size=min(len(live), TRAIN_SAMPLE), replace=False)]
        trained = faiss.IndexPQFastScan(self.dim, self.dim // 2, 4, faiss.METRIC_INNER_PRODUCT)
        trained.train(sample)
        self._pq_trained, self._trained_at = trained, len(live)
        self._pq_fill(trained)

    def _pq_fill(self, trained: faiss.Index) -> None:
        """Encode every slot into shards that share one codebook, searched in parallel
        threads: a single query's scan is split across the cores (4.9 -> 2.8 ms at 1M
        faces on 2 cores). Slots are spread in order (shard 0 holds the first ones)
        and later additions go to the last shard, so a label is always its slot."""
        shards = faiss.IndexShards(self.dim, True, True)  # threaded, successive ids
        parts = []
        bounds = np.linspace(0, self._n, SHARDS + 1).astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            part = faiss.clone_index(trained)
            part.reset()
            part.add(self._vecs[lo:hi])
            parts.append(part)
            shards.add_shard(part)
        shards.syncWithSubIndexes()
        self._pq, self._pq_parts = shards, parts  # parts keep the shards alive

    def _pq_append(self, vectors: np.ndarray) -> None:
        self._pq_parts[-1].add(vectors)
        self._pq.syncWithSubIndexes()
