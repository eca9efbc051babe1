"""Rekognition's ``Image`` member: inline ``Bytes``, or an ``S3Object`` read from a local
folder configured as a bucket (``faceprint serve --bucket NAME=DIR``).

The server takes smaller images than the library: a request's image is checked against
``max_pixels`` from its header before any pixel is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from faceprint.api.errors import InvalidS3Object
from faceprint.errors import ImageTooLarge, InvalidParameter
from faceprint.imaging import DecodeLimits, image_size

MAX_S3_BYTES = 15 * 1024 * 1024  # Rekognition's limit for images read from S3
# 25 MP takes a phone's full-size photo (24 MP) and decodes in about 200 MB; the
# library's own 80 MP would let each concurrent request hold close to a gigabyte.
MAX_IMAGE_PIXELS = 25_000_000


def image_bytes(image: Mapping[str, Any], buckets: Mapping[str, Path], *, max_pixels: int = MAX_IMAGE_PIXELS) -> bytes:
    """The bytes of a checked ``Image`` member.

    Raises:
        InvalidParameter: neither or both of Bytes and S3Object.
        InvalidS3ObjectException: no such bucket or object, or a name that leaves the
            bucket's folder.
        ImageTooLarge: an object over 15 MB, or an image whose header declares more
            than ``max_pixels``.
        InvalidImage: not an image in a format faceprint reads.
    """
    if ("Bytes" in image) == ("S3Object" in image):
        raise InvalidParameter("Image needs exactly one of Bytes or S3Object")
    data = image["Bytes"] if "Bytes" in image else _object_bytes(object_path(image["S3Object"], buckets))
    image_size(data, limits=DecodeLimits(max_bytes=MAX_S3_BYTES, max_pixels=max_pixels))
    return data


def _object_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_S3_BYTES:
            raise ImageTooLarge(f"object {path.name} is over {MAX_S3_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidS3Object(f"object {path.name!r} cannot be read ({exc.strerror})") from None


def object_path(obj: Mapping[str, Any], buckets: Mapping[str, Path]) -> Path:
    """The local file of an ``S3Object`` (images and videos).

    Raises:
        InvalidS3ObjectException: no such bucket or object, a version, or a name that
            leaves the bucket's folder.
    """
    bucket, name = obj.get("Bucket"), obj.get("Name")
    if not bucket or not name:
        raise InvalidS3Object("S3Object needs Bucket and Name")
    if "Version" in obj:
        raise InvalidS3Object("object versions are not supported by local buckets")
    root = buckets.get(bucket)
    if root is None:
        raise InvalidS3Object(f"no bucket {bucket} is configured on this server")
    try:
        path = (root / name).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            raise InvalidS3Object(f"no object {name} in bucket {bucket}")
    except (OSError, ValueError) as exc:  # NUL bytes, names too long, unencodable names
        raise InvalidS3Object(f"object {name!r} in bucket {bucket} cannot be read ({type(exc).__name__})") from None
    return path
