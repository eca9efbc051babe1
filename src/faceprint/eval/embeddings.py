"""Embed many evaluation images, with a fallback for images where no face is found,
and an on-disk cache so repeated evaluations cost nothing."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceprint.analysis.align import TEMPLATE_112
from faceprint.engine import Engine
from faceprint.errors import FaceprintError
from faceprint.types import Faces, FacesMeta


@dataclass
class EmbeddedSet:
    """Embeddings of a list of files, one row each.

    Attributes:
        vectors: ``(n, d)`` float32 unit vectors.
        no_face: True where no face was detected and the fallback crop was used.
        failed: True where the image could not be read at all (vector is zero).
    """

    vectors: np.ndarray
    no_face: np.ndarray
    failed: np.ndarray


def default_cache_dir() -> Path:
    base = os.environ.get("FACEPRINT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "faceprint")
    return Path(base) / "eval"


def fallback_face(w: int, h: int) -> Faces:
    """A face assumed at the image centre, for aligned datasets (LFW's deep-funneled
    images centre the labelled face, about half the image wide)."""
    side = 0.5 * min(w, h)
    x0, y0 = (w - side) / 2.0, (h - side) / 2.0
    lm = TEMPLATE_112 / 112.0 * side + np.array([x0, y0], np.float32)
    return Faces(
        xyxy=np.array([[x0, y0, x0 + side, y0 + side]]),
        score=np.array([0.0]),
        landmarks=lm[None],
        meta=FacesMeta(image_wh=(w, h)),
    )


def pick_centre(faces: Faces) -> Faces:
    """The face closest to the image centre (the labelled one in LFW-style crops)."""
    w, h = faces.meta.image_wh
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2.0
    d = np.linalg.norm(centres - np.array([w / 2.0, h / 2.0]), axis=1)
    i = int(np.argmin(d))
    return faces[i : i + 1]


def embed_files(engine: Engine, files: list[Path], *, choose: str = "largest", cache_dir: Path | None = None, progress: bool = True, desc: str = "embedding") -> EmbeddedSet:
    """Embed one face per file (``choose``: ``"largest"`` or ``"centre"``).

    Images with no detected face use :func:`fallback_face` and are flagged in
    ``no_face``; unreadable images get a zero vector and are flagged in ``failed``.
    """
    det = engine.analyzer.detector
    settings = [det.name, str(det.min_face_px), str(det.score_threshold), str(det.max_side_px), choose]
    # each file's size and modification time too, so an edited image is re-embedded
    stamps = [f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}" for f in files for st in [_stat(f)]]
    key = hashlib.sha256("\n".join(settings + stamps).encode()).hexdigest()[:20]
    cache = None
    if cache_dir is not None:
        contract = engine.analyzer.embedder.contract
        safe = hashlib.sha256(contract.encode()).hexdigest()[:12]
        cache = cache_dir / f"{engine.embedder_name}-{safe}-{key}.npz"
        if cache.is_file():
            z = np.load(cache)
            return EmbeddedSet(z["vectors"], z["no_face"], z["failed"])

    dim = engine.analyzer.embedder.dim
    vectors = np.zeros((len(files), dim), np.float32)
    no_face = np.zeros(len(files), bool)
    failed = np.zeros(len(files), bool)
    results = engine.map_engine(_embed_one, [(f, choose) for f in files])
    for i, res in enumerate(tqdm(results, total=len(files), desc=desc, disable=not progress, unit="img")):
        if isinstance(res, FaceprintError):
            failed[i] = True
            continue
        vectors[i], no_face[i] = res
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, vectors=vectors, no_face=no_face, failed=failed)
        os.replace(tmp, cache)
    return EmbeddedSet(vectors, no_face, failed)


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError:
        return os.stat_result((0,) * 10)


def _embed_one(engine: Engine, job: tuple[Path, str]) -> tuple[np.ndarray, bool]:
    path, choose = job
    pixels = engine.load(path)
    faces = engine.analyzer.detector.detect(pixels)
    fallback = len(faces) == 0
    if fallback:
        faces = fallback_face(pixels.shape[1], pixels.shape[0])
    elif choose == "centre":
        faces = pick_centre(faces)
    else:
        faces = faces.sorted_by_area()[0:1]
    return engine.analyzer.embedder.embed(pixels, faces)[0], fallback
