"""Results of the collection verbs (IndexFaces, SearchFacesByImage, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from faceprint.types.faces import Face
from faceprint.types.matches import Match
from faceprint.types.records import StoredFace, UserInfo


@dataclass(frozen=True, eq=False)
class IndexedFace:
    """A face IndexFaces stored: its record and what the detector saw."""

    record: StoredFace
    detail: Face


@dataclass(frozen=True, eq=False)
class UnindexedFace:
    """A face IndexFaces left out, with Rekognition's reasons (e.g. ``LOW_SHARPNESS``)."""

    reasons: list[str]
    detail: Face


@dataclass(frozen=True, eq=False)
class IndexResult:
    """What IndexFaces did with one image."""

    indexed: list[IndexedFace]
    unindexed: list[UnindexedFace]
    image_wh: tuple[int, int]
    model: str


@dataclass(frozen=True)
class CollectionMatch:
    """A stored face found by a search, with its calibrated score."""

    face: StoredFace
    match: Match


@dataclass(frozen=True, eq=False)
class FaceSearch:
    """SearchFacesByImage / SearchFaces: the searched face and the matches, best first.
    ``searched_face`` is the detected face for an image search, None for SearchFaces."""

    matches: list[CollectionMatch]
    searched_face: Face | None
    searched_face_id: str | None
    image_wh: tuple[int, int]
    model: str
    gallery_size: int
    min_similarity: float
    threshold_false_match_rate: float
    refusal: str | None = None  # the searched face cannot be decided at this threshold (see Match.refusal)

    @property
    def expected_false_matches(self) -> float:
        """How many strangers a search of a gallery this size returns on average at this
        threshold (gallery size x the per-pair false-match rate): a 1:N search of a
        million faces at similarity 40 (1 in 10,000) expects about 100."""
        return self.gallery_size * self.threshold_false_match_rate


@dataclass(frozen=True)
class UserMatch:
    """A user found by a search; the score is against the user's template."""

    user: UserInfo
    match: Match


@dataclass(frozen=True, eq=False)
class UserSearch:
    """SearchUsers / SearchUsersByImage: users whose template matches, best first."""

    matches: list[UserMatch]
    searched_face: Face | None
    searched_face_id: str | None
    searched_user_id: str | None
    unsearched: list[Face]
    image_wh: tuple[int, int]
    model: str
    refusal: str | None = None  # the searched face cannot be decided at this threshold (see Match.refusal)
