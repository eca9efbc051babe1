"""The wire contract: AWS's own Rekognition service model (shipped inside botocore) and
faceprint's model for its own operations, and request checking against them.

Requests are checked member by member against the operation's input shape: required
members, unknown members, types, lengths, ranges, enums and patterns. Blobs arrive as
base64 text and leave here as bytes; timestamps arrive as Unix seconds. Any mismatch is
an ``InvalidParameterException`` naming the member, so a malformed request never
reaches the library. :func:`check_output` applies the same rules to responses; the
tests run every response through it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from importlib import resources
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from faceprint.errors import InvalidParameter

REKOGNITION_PREFIX = "RekognitionService"
FACEPRINT_PREFIX = "FaceprintService"
# Where faceprint's model lives, laid out as botocore's loader expects, so that
# AWS_DATA_PATH=<this folder> gives boto3 a "faceprint" client.
MODELS_DIR = resources.files("faceprint.api") / "models"


@functools.cache
def service_models() -> dict[str, ServiceModel]:
    """Target prefix -> service model."""
    rekognition = botocore.session.get_session().get_service_model("rekognition")
    with (MODELS_DIR / "faceprint" / "2026-11-29" / "service-2.json").open() as f:
        faceprint = ServiceModel(json.load(f), "faceprint")
    return {REKOGNITION_PREFIX: rekognition, FACEPRINT_PREFIX: faceprint}


def operation(prefix: str, name: str) -> OperationModel | None:
    model = service_models().get(prefix)
    if model is None or name not in model.operation_names:
        return None
    return model.operation_model(name)


def check_input(op: OperationModel, body: Any) -> dict[str, Any]:
    """The request body checked against ``op``'s input shape, blobs decoded.

    Raises:
        InvalidParameter: the first problem found, with the member's path.
    """
    if op.input_shape is None:
        if body not in ({}, None):
            raise InvalidParameter(f"{op.name} takes no parameters")
        return {}
    return _check(op.input_shape, body, "", decode=True)


def check_output(op: OperationModel, body: Any) -> None:
    """Raises InvalidParameter where ``body`` does not fit ``op``'s output shape (used by
    the tests to hold every response to AWS's model)."""
    if op.output_shape is not None:
        _check(op.output_shape, body, "", decode=False)


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(text: str) -> re.Pattern[str] | None:
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:  # a Java-only construct: the other checks still apply
            _PATTERNS[text] = None
    return _PATTERNS[text]


def _check(shape: Shape, value: Any, path: str, *, decode: bool) -> Any:
    where = path or "the request"
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            raise InvalidParameter(f"{where} must be an object")
        members = shape.members
        unknown = [k for k in value if k not in members]
        if unknown:
            raise InvalidParameter(f"unknown parameter {_join(path, unknown[0])}")
        for name in shape.required_members:
            if value.get(name) is None:
                raise InvalidParameter(f"missing required parameter {_join(path, name)}")
        return {k: _check(members[k], v, _join(path, k), decode=decode) for k, v in value.items() if v is not None}
    if kind == "list":
        if not isinstance(value, list):
            raise InvalidParameter(f"{where} must be a list")
        # Models reuse input list shapes in outputs, where an empty list is normal.
        _range(len(value), meta if decode else {"max": meta.get("max")}, where, "items")
        return [_check(shape.member, v, f"{where}[{i}]", decode=decode) for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidParameter(f"{where} must be an object")
        _range(len(value), meta, where, "entries")
        return {_check(shape.key, k, f"{where} key", decode=decode): _check(shape.value, v, f"{where}.{k}", decode=decode) for k, v in value.items()}
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidParameter(f"{where} must be a string")
        _range(len(value), meta, where, "characters")
        if decode and "\x00" in value:  # no store keeps it as text (PostgreSQL refuses it); no id or name needs it
            raise InvalidParameter(f"{where} must not contain the NUL character")
        if "enum" in meta and value not in meta["enum"]:
            raise InvalidParameter(f"{where} must be one of {', '.join(meta['enum'])}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            raise InvalidParameter(f"{where} does not match {meta['pattern']}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(f"{where} must be an integer")
        _range(value, meta, where, "")
        return value
    if kind in ("float", "double"):
        if not _finite_number(value):
            raise InvalidParameter(f"{where} must be a finite number")
        _range(value, meta, where, "")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidParameter(f"{where} must be true or false")
        return value
    if kind == "timestamp":
        if not _finite_number(value):
            raise InvalidParameter(f"{where} must be a time in Unix seconds")
        return float(value)
    if kind == "blob":
        if not decode:
            if not isinstance(value, str):
                raise InvalidParameter(f"{where} must be base64 text")
            return value
        if not isinstance(value, str):
            raise InvalidParameter(f"{where} must be base64 text")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameter(f"{where} is not valid base64") from None
        _range(len(data), meta, where, "bytes")
        return data
    raise InvalidParameter(f"{where} has a type this server does not accept ({kind})")


def _finite_number(value: Any) -> bool:
    """A JSON number that fits a double (a 400-digit integer does not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _range(n: float, meta: dict[str, Any], where: str, unit: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and n < low:
        raise InvalidParameter(f"{where} must be at least {low} {unit}".rstrip())
    if high is not None and n > high:
        raise InvalidParameter(f"{where} must be at most {high} {unit}".rstrip())


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
