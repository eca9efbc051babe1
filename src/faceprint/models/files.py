"""Locate a model's file inside its installed package and verify its checksum."""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path

from faceprint.errors import ModelChecksumError, ModelNotAvailable
from faceprint.models.registry import ModelCard

_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def locate(card: ModelCard) -> Path:
    """The path of a model's file on disk, without reading it.

    Raises:
        ModelNotAvailable: the package or the file is missing; names what to install.
    """
    path = Path(card.path)
    if not path.is_absolute():
        spec = importlib.util.find_spec(card.module) if card.module else None
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotAvailable(
                f"model {card.name} needs the package {card.package!r}, which is not installed: "
                f"{card.install_hint}",
                model=card.name,
            )
        path = Path(list(spec.submodule_search_locations)[0]) / card.path
    if not path.is_file():
        raise ModelNotAvailable(
            f"model {card.name}: file {path} is missing; reinstall it with {card.install_hint}",
            model=card.name,
        )
    return path


def read_verified(card: ModelCard) -> bytes:
    """The model file's bytes, after checking them against the card's sha256.

    Raises:
        ModelNotAvailable: the file is missing.
        ModelChecksumError: the bytes do not match the card.
    """
    path = locate(card)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelNotAvailable(f"model {card.name}: cannot read {path}: {exc.strerror}", model=card.name) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.sha256:
        raise ModelChecksumError(
            f"model {card.name}: {path} has sha256 {digest[:16]}…, expected {card.sha256[:16]}…; "
            f"the file was altered or corrupted, reinstall it with {card.install_hint}",
            model=card.name,
        )
    return data


def verified_path(card: ModelCard) -> Path:
    """The path of a model file whose checksum has been checked (once per file version).

    For runtimes (dlib) that only load from a path.
    """
    path = locate(card)
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        if _verified.get(key) == card.sha256:
            return path
    read_verified(card)
    with _lock:
        _verified[key] = card.sha256
    return path
