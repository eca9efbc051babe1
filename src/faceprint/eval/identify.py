"""1:N identification over identity folders: rank-k and open-set FNIR at FPIR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from faceprint.engine import Engine
from faceprint.eval.datasets import identity_folders
from faceprint.eval.embeddings import embed_files
from faceprint.eval.metrics import fnir_at_fpir, rank_k


def identify(engine: Engine, root: Path, *, holdout: float = 0.1, seed: int = 0, cache_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Gallery = first image of each identity (sorted order); probes = the rest.

    Closed set: ``rank1``, ``rank5``. Open set: a seeded ``holdout`` share of
    identities is removed from the gallery, their probes become non-mated searches,
    and ``fnir_at_fpir["0.01"]`` is the miss rate of mated searches at a threshold
    that lets 1% of non-mated searches through.
    """
    files, labels = identity_folders(root)
    emb = embed_files(engine, files, cache_dir=cache_dir, progress=progress, desc=root.name)
    lab = np.array(labels)
    first = {}
    for i, name in enumerate(labels):
        first.setdefault(name, i)
    g_idx = np.array(sorted(first.values()))
    in_gallery = set(g_idx.tolist())
    p_idx = np.array([i for i in range(len(files)) if i not in in_gallery])
    if len(p_idx) == 0:
        return {"rank1": float("nan"), "rank5": float("nan"), "fnir_at_fpir": {"0.01": float("nan")}, "_probes": 0}
    sim = emb.vectors[p_idx] @ emb.vectors[g_idx].T
    out: dict[str, Any] = {
        "rank1": rank_k(sim, lab[p_idx], lab[g_idx], 1),
        "rank5": rank_k(sim, lab[p_idx], lab[g_idx], 5),
        "_probes": int(len(p_idx)),
        "_gallery": int(len(g_idx)),
    }
    names = np.array(sorted(first))
    rng = np.random.default_rng(seed)
    n_out = max(1, int(round(holdout * len(names)))) if len(names) > 1 else 0
    held = set(rng.choice(names, size=n_out, replace=False).tolist()) if n_out else set()
    keep_g = np.array([lab[i] not in held for i in g_idx])
    mated = np.array([lab[i] not in held for i in p_idx])
    if held and keep_g.any() and mated.any() and (~mated).any():
        s = sim[:, keep_g]
        gl = lab[g_idx][keep_g]
        best = s.argmax(axis=1)
        top = s[np.arange(len(s)), best]
        correct = gl[best] == lab[p_idx]
        fnir, _ = fnir_at_fpir(top[mated], correct[mated], top[~mated], 0.01)
        out["fnir_at_fpir"] = {"0.01": fnir}
        out["_nonmated_probes"] = int((~mated).sum())
    else:
        out["fnir_at_fpir"] = {"0.01": float("nan")}
    return out
