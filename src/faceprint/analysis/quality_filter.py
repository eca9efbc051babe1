"""IndexFaces' quality filter: which faces are too poor to index, and why.

Reasons use Rekognition's names. Limits per level were set from the quality of faces in
LFW and deepface's test photos (median sharpness 74, brightness 45, |yaw| 9 degrees):
``LOW`` drops only unusable faces, ``HIGH`` keeps roughly the best three quarters.
``AUTO`` is ``MEDIUM``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from faceprint.errors import InvalidParameter
from faceprint.types import Face

LEVELS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class QualityBar:
    min_confidence: float
    min_size_px: float
    min_sharpness: float
    brightness: tuple[float, float]
    max_yaw: float
    max_pitch: float


BARS = {
    "LOW": QualityBar(0.6, 20, 15, (5, 95), 70, 60),
    "MEDIUM": QualityBar(0.7, 32, 30, (10, 90), 55, 45),
    "HIGH": QualityBar(0.85, 64, 50, (20, 85), 40, 30),
}


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidParameter(f"QualityFilter must be one of {', '.join(LEVELS)}, not {level!r}")
    return level


def reasons(face: Face, level: str) -> list[str]:
    """Why ``face`` falls below the ``level`` bar (empty: it passes).

    Example:
        >>> reasons(face, "HIGH")                            # doctest: +SKIP
        ['SMALL_BOUNDING_BOX', 'LOW_SHARPNESS']
    """
    level = check_level(level)
    if level == "NONE":
        return []
    bar = BARS["MEDIUM" if level == "AUTO" else level]
    q = face.quality
    out: list[str] = []
    if face.score < bar.min_confidence:
        out.append("LOW_CONFIDENCE")
    if q is None:
        return out + ["LOW_FACE_QUALITY"]
    if q.size_px < bar.min_size_px:
        out.append("SMALL_BOUNDING_BOX")
    if q.sharpness < bar.min_sharpness:
        out.append("LOW_SHARPNESS")
    if not bar.brightness[0] <= q.brightness <= bar.brightness[1]:
        out.append("LOW_BRIGHTNESS")
    if math.isnan(q.yaw) or math.isnan(q.pitch):
        out.append("LOW_FACE_QUALITY")  # the landmarks are too degenerate to place the head
    elif abs(q.yaw) > bar.max_yaw or abs(q.pitch) > bar.max_pitch:
        out.append("EXTREME_POSE")
    return out
