"""1:1 verification benchmarks: LFW View 2 and identity folders."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.engine import Engine
from faceprint.eval.datasets import identity_folders, lfw_pairs, read_groups
from faceprint.eval.embeddings import embed_files
from faceprint.eval.metrics import kfold_accuracy, rates_at, tar_at_far


def pair_scores(vectors: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", vectors[a], vectors[b])


def lfw(engine: Engine, root: Path, *, groups_csv: Path | None = None, cache_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """LFW View 2: 10-fold accuracy, TAR at FAR, fallbacks, per-group error rates.

    Returns a dict with exactly the keys ``accuracy``, ``accuracy_std``,
    ``tar_at_far`` (``"0.01"``, ``"0.001"``), ``no_face``, ``pairs``, and ``groups``
    when ``groups_csv`` is given; plus ``scores`` and ``same`` for plotting, which the
    CLI removes from its JSON.
    """
    ps = lfw_pairs(root)
    emb = embed_files(engine, ps.files, choose="centre", cache_dir=cache_dir, progress=progress, desc="LFW")
    a, b = np.array(ps.a), np.array(ps.b)
    same = np.array(ps.same)
    scores = pair_scores(emb.vectors, a, b)
    acc, std, _ = kfold_accuracy(scores, same, np.array(ps.fold))
    gen, imp = scores[same], scores[~same]
    out: dict[str, Any] = {
        "accuracy": acc,
        "accuracy_std": std,
        "tar_at_far": {f: tar_at_far(gen, imp, float(f))[0] for f in ("0.01", "0.001")},
        "no_face": int(emb.no_face.sum()),
        "pairs": int(len(scores)),
    }
    if groups_csv is not None:
        out["groups"] = group_rates(scores, same, a, b, ps.files, read_groups(groups_csv, root), far=1e-3)
    out["_scores"], out["_same"] = scores, same
    return out


def group_rates(scores: np.ndarray, same: np.ndarray, a: np.ndarray, b: np.ndarray, files: list[Path], labels: dict[Path, str], *, far: float) -> dict[str, dict[str, float]]:
    """FMR and FNMR per group at the overall threshold for ``far``.

    A pair belongs to a group when both images carry that label; mixed pairs are left
    out (they measure a different thing).
    """
    _, thr = tar_at_far(scores[same], scores[~same], far)
    g = np.array([labels.get(f, "unknown") for f in files])
    ga, gb = g[a], g[b]
    out = {}
    for name in sorted(set(g.tolist())):
        m = (ga == name) & (gb == name)
        if not m.any():
            continue
        fmr, fnmr = rates_at(scores[m], same[m], thr)
        out[name] = {
            "fmr": fmr,
            "fnmr": fnmr,
            "genuine_pairs": int((m & same).sum()),
            "impostor_pairs": int((m & ~same).sum()),
        }
    return out


def folder(engine: Engine, root: Path, *, impostor_ratio: int = 100, seed: int = 0, cache_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Identity folders: all genuine pairs and a seeded sample of impostor pairs.

    Up to ``impostor_ratio`` impostor pairs per genuine pair are sampled (all of them
    when fewer exist). Keys: ``tar_at_far`` (``"0.01"``, ``"0.001"``, ``"0.0001"``),
    ``genuine_pairs``, ``impostor_pairs``.
    """
    files, labels = identity_folders(root)
    emb = embed_files(engine, files, cache_dir=cache_dir, progress=progress, desc=root.name)
    lab = np.array(labels)
    genuine = [(i, j) for i, j in itertools.combinations(range(len(files)), 2) if lab[i] == lab[j]]
    n = len(files)
    total_imp = n * (n - 1) // 2 - len(genuine)
    want = min(max(1, len(genuine)) * impostor_ratio, total_imp)
    rng = np.random.default_rng(seed)
    if n < 2000 or want * 2 >= total_imp:
        impostors = [(i, j) for i, j in itertools.combinations(range(n), 2) if lab[i] != lab[j]]
        if len(impostors) > want:
            keep = rng.choice(len(impostors), size=want, replace=False)
            impostors = [impostors[k] for k in sorted(keep)]
    else:
        # at most half of the impostor pairs are wanted, so rejection sampling ends fast
        seen: set[tuple[int, int]] = set()
        while len(seen) < want:
            i, j = (int(x) for x in rng.integers(0, n, 2))
            if lab[i] != lab[j]:
                seen.add((min(i, j), max(i, j)))
        impostors = sorted(seen)
    ga = np.array([p[0] for p in genuine], int)
    gb = np.array([p[1] for p in genuine], int)
    ia = np.array([p[0] for p in impostors], int)
    ib = np.array([p[1] for p in impostors], int)
    gen = pair_scores(emb.vectors, ga, gb) if len(genuine) else np.zeros(0)
    imp = pair_scores(emb.vectors, ia, ib)
    return {
        "tar_at_far": {f: (tar_at_far(gen, imp, float(f))[0] if len(gen) else float("nan")) for f in ("0.01", "0.001", "0.0001")},
        "genuine_pairs": int(len(gen)),
        "impostor_pairs": int(len(imp)),
        "_scores": np.concatenate([gen, imp]),
        "_same": np.concatenate([np.ones(len(gen), bool), np.zeros(len(imp), bool)]),
    }
