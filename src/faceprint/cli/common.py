"""Shared CLI pieces: engine options, error-to-exit-status mapping, output helpers.

The command modules import only click and cheap parts of faceprint at the top, so that
``faceprint --help`` stays fast; what a command needs (numpy, OpenCV, the engine, the
store, video) is imported when it runs.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import click

import faceprint as fp
from faceprint.errors import FaceprintError

# One place maps library error codes to exit statuses.
EXIT_CODES = {
    "invalid_image": 3,
    "image_too_large": 3,
    "invalid_parameter": 2,
    "no_face": 4,
    "unknown_model": 2,
    "model_not_available": 5,
    "model_checksum": 5,
    "model_license": 5,
    "not_found": 6,
    "already_exists": 6,
    "consent_required": 7,
    "encryption_key": 8,
    "storage": 9,
    "database_unavailable": 10,
}


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a FaceprintError into a one-line message and its exit status."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FaceprintError as exc:
            click.echo(f"error: {exc} [{exc.code}]", err=True)
            sys.exit(EXIT_CODES.get(exc.code, 1))

    return wrapper


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--accurate", is_flag=True, help="Accurate mode: SFace (flip-averaged) fused with dlib's ResNet; about 5x slower.")(fn)
    fn = click.option("--embedder", default=None, help="Override the embedder (sface.2021dec, sface.2021dec+flip, dlib.resnet_v1, fusion.sface-flip+dlib).")(fn)
    return fn


def make_engine(accurate: bool, embedder: str | None, **kw: Any) -> fp.Engine:
    return fp.Engine("accurate" if accurate else "fast", embedder=embedder, **kw)


def expand_images(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, recursive)."""
    from faceprint.imaging.decode import IMAGE_SUFFIXES

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()))
        else:
            out.append(p)
    return out


def to_jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN: an unmeasurable value is null
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, allow_nan=False))


def fmt_fmr(match: fp.Match) -> str:
    """A false-match rate for people; ``~...*`` marks a value from the extrapolated tail."""
    return f"~{match.false_match_rate:.0e}*" if match.extrapolated else f"{match.false_match_rate:.1e}"


def face_dict(face: fp.Face) -> dict[str, Any]:
    q = face.quality
    return {
        "xyxy": [round(v, 1) for v in face.xyxy],
        "confidence": round(face.score, 4),
        "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in face.landmarks],
        "quality": None if q is None else {k: round(v, 2) for k, v in vars(q).items()},
    }
