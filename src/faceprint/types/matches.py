"""Scored pairs and the results of 1:1 and small 1:N checks."""

from __future__ import annotations

from dataclasses import dataclass

from faceprint.types.faces import Face


@dataclass(frozen=True)
class Match:
    """A scored pair: how alike two faces are and how often strangers score that high.

    Attributes:
        similarity: 0-100, ``10 * -log10(false_match_rate)`` clipped to [0, 100]: every
            10 points is one more decade of rarity (50 means 1 false match in 100,000).
        false_match_rate: the share of impostor pairs that score at least this high,
            from the model's calibration table.
        cosine: the raw model score (cosine of the embeddings).
        is_match: ``similarity >= threshold``.
        extrapolated: the rate is below what the calibration measured (fewer than 100
            impostor pairs scored this high), so it comes from the fitted tail.
        refusal: why no decision was made, or None. ``FALSE_MATCH_RATE_UNREACHABLE``:
            one of the faces lies where strangers score so alike (young children, for
            one) that no cosine keeps the false-match rate asked for; ``is_match`` is
            then False whatever the score.
    """

    similarity: float
    false_match_rate: float
    cosine: float
    is_match: bool
    extrapolated: bool = False
    refusal: str | None = None


@dataclass(frozen=True, eq=False)
class Verification(Match):
    """The result of a 1:1 check of two images' largest faces."""

    min_similarity: float = 0.0
    source: Face | None = None
    target: Face | None = None


@dataclass(frozen=True, eq=False)
class FaceMatch:
    """One target face scored against the source face."""

    face: Face
    match: Match


@dataclass(frozen=True, eq=False)
class Comparison:
    """CompareFaces: the largest source face against every target face.

    ``matches`` holds target faces at or above the threshold, best first;
    ``unmatched`` the rest, best first.
    """

    source: Face
    matches: list[FaceMatch]
    unmatched: list[FaceMatch]
    min_similarity: float


@dataclass(frozen=True, eq=False)
class Identification:
    """1:N result for one probe face: the best gallery label, or None when no gallery
    entry reaches the threshold (``match`` still holds the best score)."""

    face: Face
    label: str | None
    match: Match

