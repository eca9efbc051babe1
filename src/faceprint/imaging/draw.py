"""Annotate an image with face boxes, landmarks and labels (for reports and --annotate)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from faceprint.types import Faces

_GREEN = (46, 204, 113)
_RED = (231, 76, 60)


def draw_faces(
    image: np.ndarray,
    faces: Faces,
    labels: Sequence[str] | None = None,
    known: Sequence[bool] | None = None,
) -> np.ndarray:
    """Return a copy of an RGB image with boxes, the five landmarks and optional labels.

    Args:
        image: ``HxWx3`` uint8 RGB.
        faces: the faces to draw.
        labels: one caption per face (for example a name and similarity).
        known: per face, True draws green, False red (default all green).

    Example:
        >>> import numpy as np
        >>> from faceprint.types import Faces
        >>> draw_faces(np.zeros((8, 8, 3), np.uint8), Faces.empty()).shape
        (8, 8, 3)
    """
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for i in range(len(faces)):
        colour = _GREEN if known is None or known[i] else _RED
        x1, y1, x2, y2 = (int(round(v)) for v in faces.xyxy[i])
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        for x, y in faces.landmarks[i]:
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, colour, -1)
        if labels is not None and labels[i]:
            scale = max(0.4, (x2 - x1) / 220)
            (tw, th), base = cv2.getTextSize(labels[i], cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            top = max(0, y1 - th - base - 4)
            cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 4), colour, -1)
            cv2.putText(out, labels[i], (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
