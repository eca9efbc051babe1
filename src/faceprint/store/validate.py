"""Identifier rules, as Rekognition states them, checked before anything is touched."""

from __future__ import annotations

import re

from faceprint.errors import InvalidParameter

_COLLECTION = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_EXTERNAL = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")
_USER = re.compile(r"[a-zA-Z0-9_.\-:]{1,128}")
_FACE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def collection_id(value: object) -> str:
    return _match(_COLLECTION, value, "CollectionId", "1-255 letters, digits, '_', '.', '-'")


def external_image_id(value: object) -> str:
    return _match(_EXTERNAL, value, "ExternalImageId", "1-255 letters, digits, '_', '.', '-', ':'")


def user_id(value: object) -> str:
    return _match(_USER, value, "UserId", "1-128 letters, digits, '_', '.', '-', ':'")


def face_id(value: object) -> str:
    return _match(_FACE, value, "FaceId", "a lower-case UUID")


def face_ids(values: object, *, most: int) -> list[str]:
    if not isinstance(values, (list, tuple)) or not 1 <= len(values) <= most:
        raise InvalidParameter(f"FaceIds must be a list of 1-{most} face ids")
    return [face_id(v) for v in values]


def count(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


def text(value: object, name: str, *, most: int = 1000) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise InvalidParameter(f"{name} must be non-empty text of at most {most} characters")
    return value.strip()


def _match(pattern: re.Pattern[str], value: object, name: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidParameter(f"{name} {value!r} is not valid: {rule}")
    return value
