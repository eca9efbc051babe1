"""False-match rates that hold wherever a face lies in the embedding space.

One calibration table for every pair (:mod:`faceprint.matching.calibration`) states
the rate of an average pair of the data it was measured on. Faces the model separates
less well (young children, many of the world's faces under-represented in training)
crowd into dense regions of the embedding space, where strangers score far higher:
the same threshold then means a false-match rate 10 to 5,000 times the promise.

A :class:`RegionCalibration` divides the space into regions (spherical k-means over
faces of many ages and origins, no labels) and measures one table per region, on the
pairs of strangers *within* that region: the pairs most alike, the ones a watch list of
people like these would meet. A face's rate curve is its regions' curves mixed by
how close it lies to each centroid (a softmax with a small temperature, so a face on
a border gets both). A pair is as risky as its riskier face:
``FMR(a, b, s) = max(FMR_a(s), FMR_b(s))``. That makes every face carry its own
threshold (the cosine where its curve reaches the rate asked for), and a pair matches
when its cosine reaches both faces' thresholds.

Where a face's curve does not reach the rate below the calibration's
``decidable_cosine`` (the cosine 99% of true pairs of one person stay below, measured on
LFW for each embedder), no useful threshold keeps the promise for it: the decision is
refused with :data:`UNREACHABLE` instead of matching.

Methods learnt from: FairCal (Salvador et al., ICLR 2022: calibration per unsupervised
cluster), Fair Score Normalization (Terhörst et al., 2021: cluster-specific thresholds).
Fitted by ``faceprint eval calibrate --regions`` (:mod:`faceprint.eval.calibrate`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from faceprint.errors import InvalidParameter, ModelNotAvailable
from faceprint.matching.calibration import MIN_FMR, CalibrationTable, fmr_from_similarity, similarity_from_fmr

MAX_DECIDABLE_COSINE = 0.9  # for a calibration file that does not say (SFace's true pairs: 99% stay below 0.87)
UNREACHABLE = "FALSE_MATCH_RATE_UNREACHABLE"
# the cosine grid a face's curve is tabulated on; 0.001 apart keeps interpolation
# error far below the spread of the curves themselves
GRID = np.linspace(-1.0, 1.0, 2001)


@dataclass
class RegionCalibration:
    """Per-region false-match-rate tables and the centroids that place a face.

    Attributes:
        embedder: the embedder name.
        contract: the embedding contract the regions were fitted with.
        centroids: ``(k, d)`` unit vectors, one per region.
        tables: one table per region, measured on the impostor pairs inside it.
        temperature: softmax temperature over centroid cosines (0: nearest only).
        dataset: what the regions were fitted on.
        command: the command that refits them.
        decidable_cosine: a face needing a higher cosine than this at some rate is
            refused at that rate (99% of true pairs of one person score below it).
    """

    embedder: str
    contract: str
    centroids: np.ndarray
    tables: list[CalibrationTable]
    temperature: float
    dataset: str
    command: str
    decidable_cosine: float = MAX_DECIDABLE_COSINE
    _curves: np.ndarray = field(init=False, repr=False)
    _floors: np.ndarray = field(init=False, repr=False)
    _reach: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.centroids = np.ascontiguousarray(self.centroids, np.float32)
        if self.centroids.ndim != 2 or len(self.centroids) != len(self.tables) or not self.tables:
            raise InvalidParameter("a region calibration needs one table per centroid")
        self._curves = np.stack([np.log10(np.asarray(t.false_match_rate(GRID))) for t in self.tables])
        self._floors = np.log10([t.measured_down_to for t in self.tables])
        self._reach = self._columns(np.array([self.decidable_cosine]))[:, 0]

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    # -- where a face lies ---------------------------------------------------
    def weights(self, vectors: np.ndarray) -> np.ndarray:
        """``(n, k)`` how much each region's curve counts for each face (rows sum to 1)."""
        v = _rows(vectors, self.dim)
        s = v @ self.centroids.T
        if self.temperature <= 0:
            w = np.zeros_like(s)
            w[np.arange(len(s)), s.argmax(1)] = 1.0
            return w
        z = np.exp((s - s.max(1, keepdims=True)) / self.temperature)
        return z / z.sum(1, keepdims=True)

    def face_curves(self, vectors: np.ndarray) -> np.ndarray:
        """``(n, len(GRID))``: log10 false-match rate of each face at each grid cosine."""
        return self.weights(vectors) @ self._curves

    # -- decisions -------------------------------------------------------------
    def thresholds(self, vectors: np.ndarray, similarity: float) -> np.ndarray:
        """The cosine each face needs for a pair with it to reach ``similarity``.

        ``inf`` where the face's curve does not reach the rate below
        ``decidable_cosine``: no decision at that rate can be trusted for it.
        """
        target = math.log10(max(fmr_from_similarity(similarity), MIN_FMR))
        curves = self.face_curves(vectors)
        out = np.full(len(curves), np.inf)
        for i, c in enumerate(curves):
            below = np.nonzero(c <= target)[0]
            if len(below) == 0:
                continue
            j = int(below[0])
            if j == 0:
                out[i] = GRID[0]
                continue
            # the curve falls from c[j-1] > target to c[j] <= target between grid points
            x0, x1, y0, y1 = GRID[j - 1], GRID[j], c[j - 1], c[j]
            out[i] = x0 + (x1 - x0) * (y0 - target) / (y0 - y1) if y0 != y1 else x1
        out[out > self.decidable_cosine] = np.inf
        return out

    def decidable(self, vectors: np.ndarray, similarity: float) -> np.ndarray:
        """``(n,)`` True where a face's curve reaches ``similarity``'s rate at or below
        ``decidable_cosine`` (what :meth:`thresholds` marks finite), without the curve."""
        target = math.log10(max(fmr_from_similarity(similarity), MIN_FMR))
        return np.asarray(self.weights(vectors) @ self._reach <= target)

    def reach(self, vectors: np.ndarray) -> np.ndarray:
        """``(n,)`` the highest similarity each face can be decided at: its rate at
        ``decidable_cosine`` (a face is refused at any stricter similarity)."""
        return np.asarray(similarity_from_fmr(10.0 ** (self.weights(vectors) @ self._reach)), np.float64)

    def log10_fmr(self, cosines: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """log10 false-match rate of pairs: ``cosines[i]`` between ``a[i]`` and ``b[i]``."""
        cos = np.atleast_1d(np.asarray(cosines, np.float64))
        wa, wb = self.weights(a), self.weights(b)
        if len(wa) != len(cos) or len(wb) != len(cos):
            raise InvalidParameter("need one vector of each side per cosine")
        at = self._columns(cos)  # (k, n): every region's log-rate at each pair's cosine
        return np.maximum(np.einsum("nk,kn->n", wa, at), np.einsum("nk,kn->n", wb, at))

    def rate(self, cosine: float, a: np.ndarray, b: np.ndarray, similarity: float | None = None) -> tuple[float, bool, bool]:
        """One pair: its false-match rate, whether that lies beyond what was measured,
        and whether both faces are decidable at ``similarity`` (True when not given)."""
        w = self.weights(np.stack([np.ravel(a), np.ravel(b)]))
        logf = float(np.max(w @ self._columns(np.array([cosine]))[:, 0]))
        floor = float(np.max(w @ self._floors))
        ok = True
        if similarity is not None and similarity > 0:
            ok = bool((w @ self._reach <= math.log10(max(fmr_from_similarity(similarity), MIN_FMR))).all())
        return float(np.clip(10.0**logf, MIN_FMR, 1.0)), logf < floor, ok

    def _columns(self, cosines: np.ndarray) -> np.ndarray:
        """``(k, n)``: each region's log10 rate at each cosine (linear between grid points)."""
        x = np.clip(np.asarray(cosines, np.float64), GRID[0], GRID[-1])
        pos = np.clip(np.searchsorted(GRID, x) - 1, 0, len(GRID) - 2)
        t = (x - GRID[pos]) / (GRID[pos + 1] - GRID[pos])
        return self._curves[:, pos] * (1 - t) + self._curves[:, pos + 1] * t

    def similarity_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(m, n)`` similarities 0-100 of every row of ``a`` against every row of ``b``."""
        a, b = _rows(a, self.dim), _rows(b, self.dim)
        cos = np.clip(a @ b.T, -1.0, 1.0).astype(np.float64)
        ca, cb = self.face_curves(a), self.face_curves(b)
        # interpolate each face's curve at every cosine of its row / column
        pos = np.clip(np.searchsorted(GRID, cos) - 1, 0, len(GRID) - 2)
        t = (cos - GRID[pos]) / (GRID[pos + 1] - GRID[pos])
        rows = np.arange(len(a))[:, None]
        cols = np.arange(len(b))[None, :]
        la = ca[rows, pos] * (1 - t) + ca[rows, pos + 1] * t
        lb = cb[cols, pos] * (1 - t) + cb[cols, pos + 1] * t
        return np.asarray(similarity_from_fmr(10.0 ** np.maximum(la, lb)), np.float64)

    # -- files -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        meta = {"embedder": self.embedder, "contract": self.contract, "temperature": self.temperature, "dataset": self.dataset, "command": self.command, "decidable_cosine": self.decidable_cosine}
        tables = np.array([t.to_json() for t in self.tables])
        with open(path, "wb") as fh:
            np.savez_compressed(fh, centroids=self.centroids.astype(np.float32), tables=tables, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path) -> RegionCalibration:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            tables = [CalibrationTable.from_json(str(t)) for t in z["tables"]]
            return cls(centroids=z["centroids"], tables=tables, **meta)


def regions_path(embedder: str) -> Path:
    """Where the shipped regions of an embedder live (beside its global table)."""
    return Path(str(resources.files("faceprint.matching") / "calibration" / f"{embedder}.regions.npz"))


def load_regions(embedder: str) -> RegionCalibration:
    """The shipped region calibration of an embedder.

    Raises:
        ModelNotAvailable: none has been fitted for it.
    """
    path = regions_path(embedder)
    if not path.is_file():
        raise ModelNotAvailable(f"no region calibration for {embedder}; fit one with `faceprint eval calibrate --regions ...`")
    return RegionCalibration.load(path)


def _rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    v = np.atleast_2d(np.asarray(vectors, np.float32))
    if v.shape[1] != dim:
        raise InvalidParameter(f"embeddings of size {v.shape[1]} cannot be placed among regions of size {dim}")
    return v
