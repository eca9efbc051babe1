"""Measure a calibration table (score -> false-match rate) on impostor pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceprint.engine import Engine
from faceprint.errors import InvalidParameter
from faceprint.eval.datasets import lfw_pairs
from faceprint.eval.embeddings import embed_files
from faceprint.eval.fairness_labels import read_labels
from faceprint.matching.calibration import CalibrationTable, calibration_path
from faceprint.matching.regions import RegionCalibration, regions_path


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


NEAR_DUPLICATE = 0.95  # cosine above which two images are taken to be one photo, not strangers
REGIONS = 48
TEMPERATURE = 0.03
# A region's log-tail may be no flatter than this share of the global table's. Flatter
# tails come from one person photographed twice among "strangers" (UTKFace repeats
# public figures; checked by eye in the regions where it happened), not from strangers.
MIN_TAIL_SHARE = 0.4
DECIDABLE_QUANTILE = 0.99  # of true pairs' cosines (LFW): above it a threshold decides nothing


def fit_regions(
    vectors: np.ndarray,
    identities: np.ndarray,
    *,
    embedder: str,
    contract: str,
    dataset: str,
    command: str,
    regions: int = REGIONS,
    temperature: float = TEMPERATURE,
    seed: int = 0,
    min_tail_slope: float | None = None,
    decidable_cosine: float | None = None,
) -> RegionCalibration:
    """Fit regions (spherical k-means, faiss) and one table per region.

    Each region's table is measured on the pairs of different identities inside it,
    leaving out near-duplicates (cosine >= 0.95: the same photo twice, common in
    scraped sets). A region with fewer than 1,000 such pairs has too few to measure:
    its centroid is dropped and its faces go to their next nearest region.

    Args:
        vectors: ``(n, d)`` unit embeddings of faces of many ages and origins.
        identities: ``(n,)`` one label per person (pairs with equal labels are left out).
        min_tail_slope: the flattest tail a region may have (negative; None: any).
        decidable_cosine: see :class:`RegionCalibration` (None: its default).

    Raises:
        InvalidParameter: too few faces for the regions asked for.
    """
    import faiss  # only fitting needs it

    x = np.ascontiguousarray(vectors, np.float32)
    ids = np.asarray(identities)
    if len(x) != len(ids) or len(x) < 50 * regions:
        raise InvalidParameter(f"fitting {regions} regions needs at least {50 * regions} faces with one identity each, got {len(x)}")
    km = faiss.Kmeans(x.shape[1], regions, niter=25, seed=seed, spherical=True, verbose=False)
    km.train(x)
    centroids = km.centroids / np.linalg.norm(km.centroids, axis=1, keepdims=True)
    while True:
        nearest = (x @ centroids.T).argmax(1)
        pairs = [_region_impostors(x[nearest == c], ids[nearest == c]) for c in range(len(centroids))]
        small = [c for c, p in enumerate(pairs) if len(p) < 1000]
        if not small:
            break
        centroids = np.delete(centroids, small[0], axis=0)  # one at a time: its faces may fill a neighbour
    tables = [CalibrationTable.measure(embedder, contract, p, dataset=f"region {c} of {dataset}", command=command) for c, p in enumerate(pairs)]
    if min_tail_slope is not None:
        for t in tables:
            t.tail_slope = min(t.tail_slope, float(min_tail_slope))
    extra = {} if decidable_cosine is None else {"decidable_cosine": float(decidable_cosine)}
    return RegionCalibration(embedder, contract, centroids.astype(np.float32), tables, temperature, dataset, command, **extra)


def _region_impostors(x: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if len(x) < 2:
        return np.zeros(0, np.float32)
    i, j = np.triu_indices(len(x), 1)
    s = np.einsum("ij,ij->i", x[i], x[j]) if len(i) < 2_000_000 else (x @ x.T)[i, j]
    keep = (ids[i] != ids[j]) & (s < NEAR_DUPLICATE)
    return s[keep].astype(np.float32)


def calibrate_regions(engine: Engine, lfw_root: Path, utkface_root: Path, *, cache_dir: Path | None = None, out: Path | None = None, write: bool = True, progress: bool = True) -> RegionCalibration:
    """Fit the engine's region calibration on LFW View 2 and UTKFace's ``fit`` split.

    LFW gives adults with identities; UTKFace's fit split (never its ``measure`` split,
    which the fairness report is measured on) gives children, older people and many
    origins, each image taken as its own person.
    """
    ps = lfw_pairs(lfw_root)
    lfw = embed_files(engine, ps.files, choose="centre", cache_dir=cache_dir, progress=progress, desc="LFW")
    labels = read_labels(utkface_root / "labels.csv", utkface_root, where={"split": "fit"})
    utk = embed_files(engine, labels.files, choose="largest", cache_dir=cache_dir, progress=progress, desc="UTKFace fit")
    keep_l, keep_u = ~lfw.failed, ~(utk.failed | utk.no_face)
    names = [f"lfw/{f.parent.name}" for f in ps.files]
    vectors = np.concatenate([lfw.vectors[keep_l], utk.vectors[keep_u]])
    identities = np.array([n for n, k in zip(names, keep_l) if k] + [f"utk/{i}" for i in np.nonzero(keep_u)[0]])
    genuine = _genuine_cosines(lfw.vectors[keep_l], np.array(names)[keep_l])
    regions = fit_regions(
        vectors,
        identities,
        min_tail_slope=MIN_TAIL_SHARE * engine.calibration.tail_slope,
        decidable_cosine=round(float(np.quantile(genuine, DECIDABLE_QUANTILE)), 4),
        embedder=engine.embedder_name,
        contract=engine.analyzer.embedder.contract,
        dataset=f"LFW View 2 ({int(keep_l.sum())} images) and UTKFace's fit split ({int(keep_u.sum())} images with a face)",
        command=f"faceprint eval calibrate --regions --lfw LFW_DIR --utkface UTKFACE_DIR --embedder {engine.embedder_name}",
    )
    if write:
        target = out or regions_path(engine.embedder_name)
        try:
            regions.save(target)
        except OSError as exc:
            raise InvalidParameter(f"cannot write the region calibration to {target}: {exc.strerror}; pass --out FILE") from None
    return regions


def _genuine_cosines(vectors: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """Cosines of every pair of images of one person."""
    out = []
    for who in np.unique(identities):
        m = np.flatnonzero(identities == who)
        if len(m) > 1:
            i, j = np.triu_indices(len(m), 1)
            out.append(np.einsum("ij,ij->i", vectors[m[i]], vectors[m[j]]))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
