"""Pixel boxes as fractions of the image: the one rule for Rekognition's BoundingBox.

Faces are found, tracked and cropped in pixel ``xyxy``; every response, stored face and
alert gives the box as fractions of the image (Left, Top, Width, Height). The rule,
kept here so that a face reads the same wherever it is reported:

* each edge is clamped to the image first (x to ``0..width``, y to ``0..height``), so
  the box is the part of the face that is in the picture;
* then each is divided by the image's size: Left and Top lie in 0..1, and so do
  Left + Width and Top + Height;
* a box wholly outside the image becomes an empty box (Width or Height 0) on the edge
  nearest to it, never a negative size.

Rekognition itself may report a partly visible face with Left or Top below 0; faceprint
clamps, because stored faces always were clamped and the same face must not get two
different boxes in one response (IndexFaces' FaceDetail and its stored Face).
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
        The box clamped to the image, as fractions of its width and height.

    Raises:
        InvalidParameter: the image has no pixels, or an edge is not a finite number.

    Example:
        >>> box_fractions((-10, 20, 40, 120), (100, 100))   # reaches past the left and bottom edges
        Box(left=0.0, top=0.2, width=0.4, height=0.8)
    """
    w, h = image_wh
    if not (w > 0 and h > 0):
        raise InvalidParameter(f"a box needs an image with pixels, got {w}x{h}")
    edges = [float(v) for v in xyxy]
    if len(edges) != 4 or not all(math.isfinite(v) for v in edges):
        raise InvalidParameter(f"a box is four finite pixel edges (x0, y0, x1, y1), got {edges}")
    x0, y0, x1, y1 = edges
    # clamp before dividing: the far edge never comes before the near one, so a box
    # off the image is empty rather than negative
    x0, y0 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
    x1, y1 = min(max(x1, x0), w), min(max(y1, y0), h)
    return Box(left=x0 / w, top=y0 / h, width=(x1 - x0) / w, height=(y1 - y0) / h)
