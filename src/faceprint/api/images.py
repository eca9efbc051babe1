"""Rekognition's ``Image`` member: inline ``Bytes``, or an ``S3Object`` read from a local
folder configured as a bucket (``faceprint serve --bucket NAME=DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from faceprint.api.errors import InvalidS3Object
from faceprint.errors import ImageTooLarge, InvalidParameter

MAX_S3_BYTES = 15 * 1024 * 1024  # Rekognition's limit for images read from S3


def image_bytes(image: Mapping[str, Any], buckets: Mapping[str, Path]) -> bytes:
    """The bytes of a checked ``Image`` member.

    Raises:
        InvalidParameter: neither or both of Bytes and S3Object.
        InvalidS3ObjectException: no such bucket or object, or a name that leaves the
            bucket's folder.
        ImageTooLarge: an object over 15 MB.
    """
    if ("Bytes" in image) == ("S3Object" in image):
        raise InvalidParameter("Image needs exactly one of Bytes or S3Object")
    if "Bytes" in image:
        return image["Bytes"]
    path = object_path(image["S3Object"], buckets)
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
