"""Turn a path, bytes or an array into an upright ``HxWx3`` uint8 RGB array.

Decoding untrusted images is where image services usually crash, hang or run out
of memory. The rules here:

* the byte size is checked before anything is read into memory;
* the pixel count is read from the header and checked *before* the pixels are
  decoded, so a decompression bomb (a tiny PNG that claims 20000x20000) costs nothing;
* only the formats we document are opened (``FORMATS``): Pillow knows dozens more,
  some of which hand the bytes to other programs (EPS runs Ghostscript);
* every decoder failure becomes :class:`~faceprint.errors.InvalidImage`;
* EXIF orientation is applied, so boxes refer to the image as a person sees it;
* 16-bit, grayscale, palette, CMYK and alpha images are brought to 8-bit RGB
  (alpha is composited over white, 16-bit scaled without widening the pixels); an
  animated image contributes its first frame.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceprint.errors import FaceprintError, ImageTooLarge, InvalidImage, InvalidParameter

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

# The formats decoded (Pillow's names; a JPEG with several pictures, MPO, opens as JPEG).
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
# File name endings treated as images when a folder is scanned.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
_NOT_AN_IMAGE = "the bytes are not an image in a format faceprint reads (JPEG, PNG, GIF, BMP, TIFF, WebP)"


@dataclass(frozen=True)
class DecodeLimits:
    """Limits applied before decoding.

    Attributes:
        max_bytes: the largest encoded image accepted (Rekognition's own limit for
            images read from storage is 15 MB).
        max_pixels: the largest width x height accepted (80 MP, about 240 MB decoded).
    """

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 80_000_000


DEFAULT_LIMITS = DecodeLimits()


def load_image(source: ImageSource, *, limits: DecodeLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode an image into an upright RGB array.

    Args:
        source: a file path, the encoded bytes, or an array that is already decoded
            (``HxW`` gray, ``HxWx3`` RGB or ``HxWx4`` RGBA, uint8).
        limits: byte and pixel limits checked before decoding.

    Returns:
        ``HxWx3`` uint8 array in RGB order, C-contiguous.

    Raises:
        InvalidImage: empty, truncated, or not an image format we read.
        ImageTooLarge: over ``limits.max_bytes`` or ``limits.max_pixels``.
        InvalidParameter: an array of the wrong shape or dtype, or a missing file.

    Example:
        >>> import numpy as np
        >>> load_image(np.zeros((4, 4), np.uint8)).shape
        (4, 4, 3)
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, limits)
    data = _read_bytes(source, limits)
    return _decode(data, limits)


def _read_bytes(source: ImageSource, limits: DecodeLimits) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        data = _read_file(Path(source), limits)
    else:
        raise InvalidParameter(f"expected a path, bytes or a numpy array, got {type(source).__name__}")
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(
            f"the image is {len(data):,} bytes; the limit is {limits.max_bytes:,}",
            size_bytes=len(data),
        )
    return data


def _read_file(path: Path, limits: DecodeLimits) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InvalidParameter(f"no such image file: {path}") from None
    except OSError as exc:
        raise InvalidParameter(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        # a folder, FIFO or device (/dev/zero) would block or never end
        raise InvalidParameter(f"{path} is not a regular file")
    if st.st_size > limits.max_bytes:
        raise ImageTooLarge(f"{path.name} is {st.st_size:,} bytes; the limit is {limits.max_bytes:,}", size_bytes=st.st_size)
    try:
        with open(path, "rb") as fh:
            # read one byte past the limit: a file that grew since stat() is caught below
            return fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise InvalidParameter(f"cannot read {path}: {exc.strerror}") from None


def image_size(data: bytes, *, limits: DecodeLimits = DEFAULT_LIMITS) -> tuple[int, int]:
    """The ``(width, height)`` an encoded image declares, read from its header without
    decoding a pixel (before EXIF orientation).

    Raises:
        InvalidImage: empty, or not an image in one of ``FORMATS``.
        ImageTooLarge: over ``limits.max_bytes`` or ``limits.max_pixels``.
    """
    data = _read_bytes(data, limits)
    try:
        return _check_size(_open(data), limits)
    except Exception as exc:  # noqa: BLE001 - see _typed
        raise _typed(exc) from None


def _decode(data: bytes, limits: DecodeLimits) -> np.ndarray:
    try:
        im = _open(data)
        _check_size(im, limits)
        if getattr(im, "is_animated", False):
            im.seek(0)
        im.load()
        im = ImageOps.exif_transpose(im) or im
        return _to_rgb(im)
    except Exception as exc:  # noqa: BLE001 - see _typed
        raise _typed(exc) from None


def _open(data: bytes) -> Image.Image:
    # Pillow checks bombs against its own global limit in open() (and may warn);
    # ours is checked from the header, before any pixel is decoded.
    return Image.open(io.BytesIO(data), formats=FORMATS)


def _check_size(im: Image.Image, limits: DecodeLimits) -> tuple[int, int]:
    w, h = im.size
    if w * h > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {w}x{h} pixels ({w * h / 1e6:.0f} MP); the limit is {limits.max_pixels / 1e6:.0f} MP",
            width=w,
            height=h,
        )
    if w < 1 or h < 1:
        raise InvalidImage(f"the image has no pixels ({w}x{h})")
    return w, h


def _typed(exc: Exception) -> FaceprintError:
    """A failure inside Pillow (malformed files raise many kinds) as our typed error."""
    if isinstance(exc, FaceprintError):
        return exc
    if isinstance(exc, Image.DecompressionBombError):
        return ImageTooLarge(f"the image is too large to decode safely: {exc}")
    if isinstance(exc, UnidentifiedImageError):
        return InvalidImage(_NOT_AN_IMAGE)
    if isinstance(exc, MemoryError):
        return ImageTooLarge("the image needs more memory to decode than is available")
    return InvalidImage(f"the image could not be decoded: {exc}")


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode.startswith("I;16"):
        # 16-bit gray, scaled to 8 bits rather than clipped (Pillow's convert clips):
        # v * 255 // 65535 is v // 257, computed in the pixels' own uint16 and written
        # straight into the 8-bit result (a wider copy of 80 MP once cost 1.5 GB).
        return _gray_to_rgb(np.asarray(im), 257)
    if im.mode == "I":
        # 32-bit gray: scaled by its own peak; float32 keeps the copy as narrow as the source
        a = np.clip(np.asarray(im), 0, None).astype(np.float32)
        peak = max(float(a.max()), 255.0)
        # v * 255 // peak, as the 16-bit path scales: multiplied with a hair of slack,
        # because dividing by peak/255 in float32 left the peak itself at 254.99 (so 254)
        a *= 255.0 / peak
        a += 1e-3
        return _gray_to_rgb(a, 1.0)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float32)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        gray = ((a - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _gray_to_rgb(gray: np.ndarray, divisor: float) -> np.ndarray:
    rgb = np.empty((*gray.shape, 3), np.uint8)
    np.floor_divide(gray, divisor if gray.dtype.kind == "f" else int(divisor), out=rgb[:, :, 0], casting="unsafe")
    rgb[:, :, 1] = rgb[:, :, 0]
    rgb[:, :, 2] = rgb[:, :, 0]
    return rgb


def _from_array(a: np.ndarray, limits: DecodeLimits) -> np.ndarray:
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise InvalidParameter(f"an image array must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    h, w = a.shape[:2]
    if h < 1 or w < 1:
        raise InvalidImage(f"the image has no pixels ({w}x{h})")
    if h * w > limits.max_pixels:
        raise ImageTooLarge(f"the image is {w}x{h} pixels; the limit is {limits.max_pixels / 1e6:.0f} MP")
    if a.dtype != np.uint8:
        raise InvalidParameter(f"an image array must be uint8, got {a.dtype}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (a[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)
