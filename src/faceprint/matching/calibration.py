"""Map a raw score to the false-match rate measured on impostor pairs, and back.

A calibration table is measured per embedder (``faceprint eval calibrate``) and ships
inside the package as JSON. It holds, for a grid of false-match rates, the score that
that share of impostor pairs reaches. Between grid points we interpolate log10(FMR)
linearly in the score. Where there are too few impostor pairs to measure (fewer than
100 above the score), we extrapolate with a straight line fitted to the log-tail,
and the table records where measurement ends so reports can say so.

The public similarity is ``10 * -log10(FMR)`` clipped to [0, 100]: 30 means 1 false
match in 1,000, 50 means 1 in 100,000.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from faceprint.errors import InvalidParameter, ModelNotAvailable

POINTS_PER_DECADE = 20
MIN_IMPOSTORS_ABOVE = 100
MIN_FMR = 1e-10  # similarity 100


def similarity_from_fmr(fmr: float | np.ndarray) -> float | np.ndarray:
    """``10 * -log10(fmr)`` clipped to [0, 100].

    Example:
        >>> similarity_from_fmr(1e-5)
        50.0
    """
    f = np.clip(np.asarray(fmr, dtype=np.float64), MIN_FMR, 1.0)
    s = np.clip(-10.0 * np.log10(f), 0.0, 100.0)
    return float(s) if s.ndim == 0 else s


def fmr_from_similarity(similarity: float) -> float:
    """The false-match rate a similarity threshold stands for.

    Raises:
        InvalidParameter: similarity outside [0, 100].

    Example:
        >>> fmr_from_similarity(40)
        0.0001
    """
    if not 0.0 <= similarity <= 100.0 or math.isnan(similarity):
        raise InvalidParameter(f"similarity must be within 0-100, got {similarity}")
    return float(10.0 ** (-similarity / 10.0))


@dataclass
class CalibrationTable:
    """Score <-> false-match-rate table for one embedder.

    Attributes:
        embedder: the embedder name the table belongs to.
        contract: the exact embedding contract it was measured with.
        scores: ascending raw scores (cosines) at the grid points.
        log10_fmr: log10 of the false-match rate at each score (descending).
        tail_slope: d(log10 FMR)/d(score) used beyond the last grid point.
        impostor_pairs: how many impostor pairs were measured.
        dataset: what the pairs were drawn from.
        command: the command that regenerates the table.
    """

    embedder: str
    contract: str
    scores: list[float]
    log10_fmr: list[float]
    tail_slope: float
    impostor_pairs: int
    dataset: str
    command: str
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def measure(cls, embedder: str, contract: str, impostor_scores: np.ndarray, *, dataset: str, command: str) -> CalibrationTable:
        """Build a table from impostor scores (any order)."""
        s = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
        if not np.isfinite(s).all():
            raise InvalidParameter("impostor scores must be finite")
        n = len(s)
        if n < 1000:
            raise InvalidParameter(f"calibration needs at least 1,000 impostor pairs, got {n}")
        lowest = math.log10(MIN_IMPOSTORS_ABOVE / n)
        grid = np.arange(0.0, lowest - 1e-9, -1.0 / POINTS_PER_DECADE)
        # the score reached by a share 10**g of impostors
        idx = np.clip(np.round(10.0**grid * n).astype(int) - 1, 0, n - 1)
        scores = s[idx]
        # a straight tail fitted from FMR 1e-3 down to the last measured point
        tail = grid <= -3.0
        if tail.sum() >= 3:
            slope = float(np.polyfit(scores[tail], grid[tail], 1)[0])
        else:
            slope = float(np.polyfit(scores[-5:], grid[-5:], 1)[0])
        order = np.argsort(scores, kind="stable")
        return cls(
            embedder=embedder,
            contract=contract,
            scores=[round(float(v), 6) for v in scores[order]],
            log10_fmr=[round(float(v), 4) for v in grid[order]],
            tail_slope=round(min(slope, -1e-3), 4),
            impostor_pairs=int(n),
            dataset=dataset,
            command=command,
            extra={"impostor_mean": float(s.mean()), "impostor_std": float(s.std())},
        )

    @property
    def measured_down_to(self) -> float:
        """The smallest false-match rate measured rather than extrapolated."""
        return float(10.0 ** min(self.log10_fmr))

    def false_match_rate(self, score: float | np.ndarray) -> float | np.ndarray:
        """The share of impostor pairs scoring at least ``score``."""
        x = np.asarray(score, dtype=np.float64)
        xs = np.asarray(self.scores)
        ys = np.asarray(self.log10_fmr)
        # np.interp needs increasing xs; duplicate scores (ties) are fine for it.
        logf = np.interp(x, xs, ys, left=0.0, right=float(ys[-1]))
        beyond = x > xs[-1]
        logf = np.where(beyond, ys[-1] + self.tail_slope * (x - xs[-1]), logf)
        f = np.clip(10.0**logf, MIN_FMR, 1.0)
        return float(f) if f.ndim == 0 else f

    def similarity(self, score: float | np.ndarray) -> float | np.ndarray:
        """Public similarity 0-100 for a raw score."""
        return similarity_from_fmr(self.false_match_rate(score))

    def threshold(self, *, max_false_match_rate: float | None = None, min_similarity: float | None = None) -> float:
        """The raw score at which the false-match rate falls to the given value.

        Raises:
            InvalidParameter: neither or both given, or out of range.
        """
        if (max_false_match_rate is None) == (min_similarity is None):
            raise InvalidParameter("give exactly one of max_false_match_rate or min_similarity")
        fmr = fmr_from_similarity(min_similarity) if min_similarity is not None else float(max_false_match_rate)  # type: ignore[arg-type]
        if not 0.0 < fmr <= 1.0:
            raise InvalidParameter(f"max_false_match_rate must be within (0, 1], got {fmr}")
        target = math.log10(max(fmr, MIN_FMR))
        xs = np.asarray(self.scores)
        ys = np.asarray(self.log10_fmr)
        if target >= ys[0]:
            return float(xs[0])
        if target >= ys[-1]:
            # ys descends as xs ascends: interpolate on the reversed arrays
            return float(np.interp(target, ys[::-1], xs[::-1]))
        return float(xs[-1] + (target - ys[-1]) / self.tail_slope)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CalibrationTable:
        return cls(**json.loads(text))


def calibration_path(embedder: str) -> Path:
    """Where the shipped table for an embedder lives (inside the package)."""
    return Path(str(resources.files("faceprint.matching") / "calibration" / f"{embedder}.json"))


def load_calibration(embedder: str) -> CalibrationTable:
    """The shipped calibration table of an embedder.

    Raises:
        ModelNotAvailable: no table has been measured for it.
    """
    path = calibration_path(embedder)
    if not path.is_file():
        raise ModelNotAvailable(
            f"no calibration table for {embedder}; measure one with "
            f"`faceprint eval calibrate --lfw DIR --embedder {embedder}`"
        )
    return CalibrationTable.from_json(path.read_text())
