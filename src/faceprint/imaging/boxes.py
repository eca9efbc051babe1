"""Pixel boxes as fractions of the image: the one rule for Rekognition's BoundingBox.

Faces are found, tracked and cropped in pixel ``xyxy``; every response, stored face and
alert gives the box as fractions of the image (Left, Top, Width, Height). The rule,
kept here so that a face reads the same wherever it is reported, is Rekognition's own:
each edge is divided by the image's size and nothing is clamped. A face at the edge of
a picture keeps its whole box, so Left or Top may be below 0 and Left + Width or
Top + Height above 1 (Rekognition's BoundingBox documents the same); a caller that
crops clamps for itself. Before this rule, stored faces were clamped and the same
face's FaceDetail was not, so one IndexFaces response could give a face two boxes.
"""

from __future__ import annotations

import math
from typing import Iterable

from faceprint.errors import InvalidParameter
from faceprint.types import Box


def box_fractions(xyxy: Iterable[float], image_wh: tuple[int, int]) -> Box:
    """The pixel box ``xyxy`` as fractions of an image ``image_wh`` pixels in size.

    Args:
        xyxy: the box's left, top, right and bottom edges in pixels (a tuple, a
            ``Face.xyxy`` or a row of ``Faces.xyxy``); it may reach past the image.
        image_wh: the image's width and height in pixels.

    Returns:
        The box as fractions of the image's width and height, unclamped.

    Raises:
        InvalidParameter: the image has no pixels, an edge is not a finite number, or
            the far edge comes before the near one.

    Example:
        >>> box_fractions((-10, 20, 40, 120), (100, 100))   # reaches past the left and bottom edges
        Box(left=-0.1, top=0.2, width=0.5, height=1.0)
    """
    w, h = image_wh
    if not (w > 0 and h > 0):
        raise InvalidParameter(f"a box needs an image with pixels, got {w}x{h}")
    edges = [float(v) for v in xyxy]
    if len(edges) != 4 or not all(math.isfinite(v) for v in edges):
        raise InvalidParameter(f"a box is four finite pixel edges (x0, y0, x1, y1), got {edges}")
    x0, y0, x1, y1 = edges
    if x1 < x0 or y1 < y0:
        raise InvalidParameter(f"a box's far edges come after its near ones, got {edges}")
    return Box(left=x0 / w, top=y0 / h, width=(x1 - x0) / w, height=(y1 - y0) / h)
