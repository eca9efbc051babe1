"""Typed results of recorded-video search and detection (``video.search``).

The core returns these; the wire format (Rekognition's GetFaceSearch and
GetFaceDetection) is built from them at the edge, by ``faceprint.rekognition.shapes``.

Example:
    >>> result = search_video(svc, VideoSource("lobby.mp4", pace=False), "staff")   # doctest: +SKIP
    >>> {a.track_id for a in result.appearances if a.match is not None}   # doctest: +SKIP
    {3}
"""

from __future__ import annotations

from dataclasses import dataclass

from faceprint.analysis.attributes import FaceAttributes
from faceprint.types import Face

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


@dataclass(frozen=True)
class VideoMetadata:
    """What the decoder found in the video.

    Example:
        >>> VideoMetadata(codec="h264", duration_ms=9300, format="mp4", fps=30.0, height=360, width=640).width
        640
    """

    codec: str
    duration_ms: int
    format: str
    fps: float
    height: int
    width: int


@dataclass(frozen=True)
class TrackMatch:
    """The collection face a track (or its segment after a camera cut) was decided to be.

    Example:
        >>> TrackMatch(face_id="3f1c...", external_image_id="lin-manuel-miranda", similarity=97.2).similarity
        97.2
    """

    face_id: str
    external_image_id: str | None
    similarity: float  # calibrated 0-100 (docs/calibration.md)


@dataclass(frozen=True)
class PersonAppearance:
    """One listed appearance of a tracked person.

    ``match`` is the decision of the track's segment this appearance belongs to, also
    for appearances from before the decision; None while (or if never) decided.
    """

    timestamp_ms: int  # stream time, rounded to the millisecond
    track_id: int
    face: Face
    image_wh: tuple[int, int]  # the frame's size, which ``face`` is in
    match: TrackMatch | None = None


@dataclass(frozen=True)
class VideoFaceSearch:
    """A video searched against a collection (``video.search.search_video``).

    Example:
        >>> result.status, len(result.appearances)   # doctest: +SKIP
        ('SUCCEEDED', 41)
    """

    status: str  # SUCCEEDED or FAILED
    error: str | None  # why it failed
    metadata: VideoMetadata
    appearances: list[PersonAppearance]


@dataclass(frozen=True)
class FaceAppearance:
    """One listed face of a video; ``attributes`` when the dense mesh was asked for."""

    timestamp_ms: int
    face: Face
    image_wh: tuple[int, int]
    attributes: FaceAttributes | None = None


@dataclass(frozen=True)
class VideoFaceDetection:
    """Every tracked face of a video (``video.search.detect_video``).

    Example:
        >>> result = detect_video(svc, VideoSource("lobby.mp4", pace=False))   # doctest: +SKIP
        >>> result.status, result.metadata.fps   # doctest: +SKIP
        ('SUCCEEDED', 30.0)
    """

    status: str  # SUCCEEDED or FAILED
    error: str | None
    metadata: VideoMetadata
    faces: list[FaceAppearance]


def status_of(error: str | None) -> str:
    """FAILED when there is an ``error``, else SUCCEEDED.

    Example:
        >>> status_of(None), status_of("OSError: gone")
        ('SUCCEEDED', 'FAILED')
    """
    return FAILED if error else SUCCEEDED
