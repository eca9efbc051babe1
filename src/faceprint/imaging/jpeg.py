"""RGB pixels to JPEG bytes: the one encoder for what faceprint sends back as an image
(alert crops, liveness reference and audit images)."""

from __future__ import annotations

import cv2
import numpy as np

from faceprint.errors import InvalidParameter

DEFAULT_QUALITY = 90  # small enough for a webhook or a JSON response, sharp enough to review a face


def encode_jpeg(pixels: np.ndarray, *, quality: int = DEFAULT_QUALITY) -> bytes:
    """Encode an RGB image as JPEG.

    Args:
        pixels: ``HxWx3`` uint8 RGB (faceprint's order everywhere; OpenCV's BGR stays
            inside this function), at least one pixel.
        quality: JPEG quality, 1 (smallest) to 100 (best).

    Returns:
        The JPEG file's bytes.

    Raises:
        InvalidParameter: ``pixels`` is not a non-empty ``HxWx3`` uint8 array, or
            ``quality`` is outside 1-100.

    Example:
        >>> import numpy as np
        >>> encode_jpeg(np.zeros((8, 8, 3), np.uint8))[:2]
        b'\\xff\\xd8'
    """
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        what = f"{pixels.dtype} array of shape {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
        raise InvalidParameter(f"a JPEG is encoded from an HxWx3 uint8 RGB array, got a {what}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise InvalidParameter(f"the image has no pixels ({pixels.shape[1]}x{pixels.shape[0]})")
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise InvalidParameter(f"JPEG quality must be a whole number from 1 to 100, got {quality!r}")
    # contiguous first: OpenCV refuses some strided views (a flipped or sliced array)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # not expected once the input is checked; never hand back an empty "image"
        raise InvalidParameter(f"OpenCV could not encode a {pixels.shape[1]}x{pixels.shape[0]} image as JPEG")
    return buf.tobytes()
