"""The one JPEG encoder (imaging/jpeg.py): RGB uint8 in, JPEG bytes out."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidParameter
from faceprint.imaging import encode_jpeg, load_image


def test_rgb_in_rgb_back() -> None:
    """The colour order survives: a red image decodes red, not blue."""
    red = np.zeros((32, 48, 3), np.uint8)
    red[..., 0] = 220
    back = load_image(encode_jpeg(red))
    assert back.shape == (32, 48, 3)
    assert np.abs(back.astype(int) - red.astype(int)).max() <= 8


def test_quality_is_a_parameter() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert len(encode_jpeg(noise, quality=20)) < len(encode_jpeg(noise)) < len(encode_jpeg(noise, quality=100))


def test_a_strided_view_is_encoded() -> None:
    image = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert load_image(encode_jpeg(image[:, ::-1])).shape == (20, 30, 3)


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((8, 8), np.uint8),  # grey
        np.zeros((8, 8, 4), np.uint8),  # RGBA
        np.zeros((8, 8, 3), np.float32),  # not uint8
        np.zeros((0, 8, 3), np.uint8),  # no pixels
        [[[0, 0, 0]]],  # not an array
    ],
)
def test_bad_pixels_are_refused(pixels: object) -> None:
    with pytest.raises(InvalidParameter):
        encode_jpeg(pixels)  # type: ignore[arg-type]


@pytest.mark.parametrize("quality", [0, 101, 90.0, True])
def test_bad_quality_is_refused(quality: object) -> None:
    with pytest.raises(InvalidParameter, match="quality"):
        encode_jpeg(np.zeros((8, 8, 3), np.uint8), quality=quality)  # type: ignore[arg-type]
