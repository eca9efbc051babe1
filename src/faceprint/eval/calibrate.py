"""Measure a calibration table (score -> false-match rate) on impostor pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceprint.engine import Engine
from faceprint.errors import InvalidParameter
from faceprint.eval.datasets import lfw_pairs
from faceprint.eval.embeddings import embed_files
from faceprint.matching.calibration import CalibrationTable, calibration_path


def impostor_scores(vectors: np.ndarray, labels: np.ndarray, block: int = 1024) -> np.ndarray:
    """Scores of every pair of images whose labels differ (each pair once)."""
    out = []
    for start in range(0, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(start, min(start + block, len(vectors)))
        upper = np.arange(len(vectors))[None, :] > rows[:, None]
        differ = labels[rows][:, None] != labels[None, :]
        out.append(sims[upper & differ].astype(np.float32))
    return np.concatenate(out)


def calibrate_lfw(engine: Engine, root: Path, *, cache_dir: Path | None = None, out: Path | None = None, write: bool = True, progress: bool = True) -> CalibrationTable:
    """All cross-identity pairs among the LFW View 2 images (about 29.6 million).

    Writes the table to ``out``, or by default into the package's own calibration
    folder (where the engine reads it; that needs a writable, e.g. editable, install).
    """
    ps = lfw_pairs(root)
    emb = embed_files(engine, ps.files, choose="centre", cache_dir=cache_dir, progress=progress, desc="LFW")
    ok = ~emb.failed
    labels = np.array([f.parent.name for f in ps.files])[ok]
    scores = impostor_scores(emb.vectors[ok], labels)
    table = CalibrationTable.measure(
        engine.embedder_name,
        engine.analyzer.embedder.contract,
        scores,
        dataset=f"LFW deep-funneled, the {int(ok.sum())} images of View 2 pairs.txt; every pair of images of different people",
        command=f"faceprint eval calibrate --lfw LFW_DIR --embedder {engine.embedder_name}",
    )
    if write:
        target = out or calibration_path(engine.embedder_name)
        try:
            target.write_text(table.to_json() + "\n")
        except OSError as exc:
            raise InvalidParameter(f"cannot write the calibration table to {target}: {exc.strerror}; pass --out FILE") from None
    return table
