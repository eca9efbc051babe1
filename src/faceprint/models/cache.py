"""Rewritten model graphs kept on disk, so each process does not rewrite them again.

Rewriting SFace's graph (:func:`faceprint.models.onnx_graph.optimise`) takes about
0.17 s, a quarter of a one-photo ``faceprint identify``. The result depends only on
the model file (pinned by its SHA-256 in the catalogue), the rewrite's version and the
onnx library that serialised it, so it is stored once under the user's cache folder
(``$FACEPRINT_CACHE/models``, default ``~/.cache/faceprint/models``) with the SHA-256
of its own bytes beside it. A cached graph whose bytes do not match is rewritten
again. A cache folder that cannot be written costs only the time: nothing fails.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

from faceprint.models.registry import ModelCard
from faceprint.models.files import read_verified

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    base = os.environ.get("FACEPRINT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "faceprint")
    return Path(base) / "models"


def rewritten(card: ModelCard, rewrite: Callable[[bytes], bytes], version: str) -> bytes:
    """``rewrite(model bytes)``, from the cache when an intact copy is there.

    Args:
        card: the model (its file is read and checked against the pinned SHA-256 on a miss).
        rewrite: the rewrite, a pure function of the model's bytes.
        version: names the rewrite; a new version never reads an old version's graph.

    Example:
        >>> graph = rewritten(card("sface.2021dec"), optimise, REWRITE_VERSION)   # doctest: +SKIP
    """
    # the serialiser's version is part of the key; read from its metadata, since
    # importing onnx (40 ms) is needed only on a miss
    path = cache_dir() / f"{card.name}-{card.sha256[:16]}-{version}-onnx{metadata.version('onnx')}.onnx"
    digest = path.with_suffix(".sha256")
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == digest.read_text().strip():
            return data
        log.warning("cached graph %s does not match its checksum; rewriting it", path)
    except OSError:
        pass
    data = rewrite(read_verified(card))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, content in ((path, data), (digest, hashlib.sha256(data).hexdigest().encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(tmp, target)
    except OSError as exc:
        log.debug("cannot cache the rewritten graph in %s: %s", path.parent, exc)
    return data
