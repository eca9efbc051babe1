"""The cosine a pair must reach to match: each face brings its own threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class FaceBar:
    """The bar for a match at one similarity.

    With a region calibration a face's threshold depends on where it lies in the
    embedding space; a pair matches when its cosine reaches the higher of its two
    faces' thresholds. ``inf`` marks a face no cosine can decide at this similarity.

    Attributes:
        key: what the bar stands for (the similarity asked for), to tell two bars apart.
        thresholds: ``(n, d)`` unit vectors -> ``(n,)`` cosines.

    Example:
        >>> bar = FaceBar.fixed(0.5)
        >>> bar.pair(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
        0.5
    """

    key: float
    thresholds: Callable[[np.ndarray], np.ndarray]

    @classmethod
    def fixed(cls, cosine: float) -> FaceBar:
        """The same cosine for every face (a global calibration, or a test)."""
        return cls(cosine, lambda v: np.full(len(np.atleast_2d(v)), float(cosine)))

    def face(self, vector: np.ndarray) -> float:
        return float(self.thresholds(np.atleast_2d(vector))[0])

    def pair(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(self.thresholds(np.stack([np.ravel(a), np.ravel(b)]))))
