"""faceprint: self-hosted face recognition.

A few verbs for everyday use, each wrapping one lazily built default :class:`Engine`
(fast mode); build your own ``Engine`` for other options or the accurate mode.

Example:
    >>> import faceprint as fp                                # doctest: +SKIP
    >>> faces = fp.detect("group.jpg")                        # Faces, largest first
    >>> result = fp.verify("passport.jpg", "selfie.jpg")      # Verification
    >>> result.similarity, result.false_match_rate, result.is_match
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from faceprint.constants import DEFAULT_MIN_SIMILARITY
from faceprint.errors import (
    FaceprintError,
    ImageTooLarge,
    InvalidImage,
    InvalidParameter,
    NoFaceFound,
)

if TYPE_CHECKING:
    from faceprint.analysis.attributes import FaceAttributes
    from faceprint.engine import Engine
    from faceprint.gallery import Gallery
    from faceprint.imaging import load_image
    from faceprint.imaging.decode import ImageSource
    from faceprint.models import ModelCard, list_models
    from faceprint.service import Service
    from faceprint.store import Store
    from faceprint.types import Comparison, Face, FaceMatch, Faces, Identification, Match, Quality, Verification

__version__ = "0.1.0"

# The public names that need numpy, OpenCV or ONNX Runtime, and the module each comes
# from. They are imported on first use (PEP 562), so that ``import faceprint`` (and
# ``faceprint --help``) does not load the engine: ``fp.Engine`` and
# ``from faceprint import Engine`` work as before.
_LAZY = {
    "FaceAttributes": "faceprint.analysis.attributes",
    "Engine": "faceprint.engine",
    "load_image": "faceprint.imaging",
    "ImageSource": "faceprint.imaging.decode",
    "ModelCard": "faceprint.models",
    "list_models": "faceprint.models",
    **dict.fromkeys(["Comparison", "Face", "FaceMatch", "Faces", "Identification", "Match", "Quality", "Verification"], "faceprint.types"),
    "Gallery": "faceprint.gallery",
    "Service": "faceprint.service",
    "Store": "faceprint.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if not name.startswith("_"):
        # a submodule used as an attribute (``fp.errors``, ``fp.store``), as when this
        # package imported them all up front
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_default: Engine | None = None
_default_lock = threading.Lock()


def _engine() -> Engine:
    global _default
    from faceprint.engine import Engine

    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def detect(image: ImageSource) -> Faces:
    """Detect faces: boxes (pixel xyxy), five landmarks, confidence, quality.

    Example:
        >>> faces = detect("group.jpg")                       # doctest: +SKIP
        >>> faces[0].xyxy, faces[0].quality.yaw
    """
    return _engine().detect(image)


def embed(image: ImageSource, faces: Faces | Face | None = None) -> Faces:
    """Embed the given faces (or every face found) as 128-d unit vectors.

    Example:
        >>> vectors = embed("me.jpg").embedding               # doctest: +SKIP
    """
    return _engine().embed(image, faces)


def compare(source: ImageSource, target: ImageSource, *, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Comparison:
    """CompareFaces: the largest face of ``source`` against every face of ``target``.

    Example:
        >>> result = compare("id.jpg", "team.jpg")            # doctest: +SKIP
        >>> [(m.match.similarity, m.face.xyxy) for m in result.matches]
    """
    return _engine().compare(source, target, min_similarity=min_similarity)


def verify(a: ImageSource, b: ImageSource, *, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Verification:
    """1:1 verification of the largest face in each image.

    Example:
        >>> verify("passport.jpg", "selfie.jpg").is_match     # doctest: +SKIP
        True
    """
    return _engine().verify(a, b, min_similarity=min_similarity)


__all__ = [
    "Engine",
    "load_image",
    "detect",
    "embed",
    "compare",
    "verify",
    "list_models",
    "ModelCard",
    "Faces",
    "Face",
    "Quality",
    "FaceAttributes",
    "Match",
    "Verification",
    "Comparison",
    "Identification",
    "Gallery",
    "Service",
    "Store",
    "FaceMatch",
    "FaceprintError",
    "InvalidImage",
    "ImageTooLarge",
    "InvalidParameter",
    "NoFaceFound",
    "DEFAULT_MIN_SIMILARITY",
]
