"""Face-like galleries for the search benchmarks (vector_index.py, gallery_scale.py).

Real faces
    The 7,701 images of LFW View 2 (``lfw_pairs(root).files``), embedded once by the
    default engine (fast mode, SFace, the face nearest the image centre) and cached in
    ``~/.cache/faceprint/eval``. Identity = the image's folder. Of the 1,559 identities
    with two or more images, the first image (in file order) goes into the gallery as
    the *mate* and every other image (3,420) is a *probe*; the 2,722 identities with a
    single image go into the gallery as real *distractors*.

Synthetic faces (the fit)
    Two-level Gaussian model of the 128-d embeddings, fitted on all 7,701 real ones:

    * within-identity covariance ``Sw``: pooled scatter of each image around its
      identity's mean, over identities with >= 2 images, divided by the pooled degrees
      of freedom (images minus identities);
    * identity centres ``c ~ N(mu, Sb)``: ``mu`` the mean of the per-identity means,
      ``Sb = cov(per-identity means) - mean(1/n_i) * Sw`` (the one-way random-effects
      estimator: a mean of ``n_i`` images still carries ``Sw / n_i`` of image noise),
      negative eigenvalues clipped to zero;
    * one face of a synthetic identity: ``normalise(c + s * w)``, ``w ~ N(0, Sw)``,
      with a per-image scale ``s**2 ~ Gamma(shape=WITHIN_SHAPE, scale=1/WITHIN_SHAPE)``
      (mean 1, so the covariance is unchanged). A plain Gaussian gives genuine-pair
      cosines that are too concentrated (real pairs range from profile-vs-frontal to
      near duplicates); the scale mixture widens them to the real spread.

    Each synthetic distractor is one face of a fresh identity, so none is a mate of a
    probe. :func:`realism` compares real and synthetic impostor and genuine cosines;
    the benchmarks write it into their JSON and docs/search.md quotes it.

Galleries
    A gallery of N faces holds the 1,559 mates, the 2,722 real distractors and
    N - 4,281 synthetic faces, the real ones at seeded random positions. Synthetic
    faces are generated in chunks of ``CHUNK`` with one generator per chunk, seeded by
    ``(SEED, chunk number)``, so a run with the same seed rebuilds the same gallery, and
    galleries of different sizes share their synthetic faces position by position.
"""

from __future__ import annotations

import json

import os
import resource
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
SEED = 20240607
CHUNK = 100_000
WITHIN_SHAPE = 2.5  # Gamma shape of the per-image noise scale (see the module docstring)
K = 10  # results per search: SearchFacesByImage's default MaxFaces
PERCENTILES = (1, 50, 99, 99.9)


# -- the real faces --------------------------------------------------------------
@dataclass
class RealFaces:
    """The LFW View 2 embeddings and the mate / probe / distractor split.

    Attributes:
        vectors: ``(7701, d)`` unit embeddings, one per file.
        labels: identity (folder name) per file.
        mates: file index of each multi-image identity's first image.
        distractors: file index of each single-image identity's image.
        probes: file index of every other image of a multi-image identity.
        probe_mate: for each probe, its position in ``mates``.
    """

    vectors: np.ndarray
    labels: list[str]
    mates: np.ndarray
    distractors: np.ndarray
    probes: np.ndarray
    probe_mate: np.ndarray

    @property
    def probe_vectors(self) -> np.ndarray:
        return self.vectors[self.probes]


def load_real(data: Path = DATA) -> RealFaces:
    """Embed (or read from the cache) LFW View 2 and split it."""
    from faceprint.engine import Engine
    from faceprint.eval.datasets import lfw_pairs
    from faceprint.eval.embeddings import default_cache_dir, embed_files

    root = data / "lfw"
    if not root.is_dir():
        raise SystemExit(f"the shared data is not at {data}; set FACEPRINT_DATA")
    files = lfw_pairs(root.resolve()).files
    emb = embed_files(Engine(), files, choose="centre", cache_dir=default_cache_dir(), desc="LFW (cached after the first run)")
    if emb.failed.any():
        raise SystemExit(f"{int(emb.failed.sum())} LFW images could not be read")
    labels = [f.parent.name for f in files]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(labels):
        groups[name].append(i)
    multi = [n for n in sorted(groups) if len(groups[n]) >= 2]
    mates = np.array([groups[n][0] for n in multi])
    distractors = np.array([groups[n][0] for n in sorted(groups) if len(groups[n]) == 1])
    probes = np.array([i for n in multi for i in groups[n][1:]])
    probe_mate = np.array([j for j, n in enumerate(multi) for _ in groups[n][1:]])
    return RealFaces(emb.vectors.astype(np.float32), labels, mates, distractors, probes, probe_mate)


# -- the synthetic faces -------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class FaceModel:
    """The two-level Gaussian fit described in the module docstring."""

    def __init__(self, vectors: np.ndarray, labels: list[str], within_shape: float = WITHIN_SHAPE) -> None:
        x = np.asarray(vectors, np.float64)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(labels):
            groups[name].append(i)
        members = [np.array(v) for v in groups.values()]
        means = np.stack([x[m].mean(0) for m in members])
        counts = np.array([len(m) for m in members], np.float64)
        resid = np.concatenate([x[m] - x[m].mean(0) for m in members if len(m) >= 2])
        dof = sum(len(m) - 1 for m in members if len(m) >= 2)
        self.sw = resid.T @ resid / dof
        self.mu = means.mean(0)
        sb = np.cov(means.T) - np.mean(1.0 / counts) * self.sw
        w, v = np.linalg.eigh(sb)
        self.clipped_eigenvalues = int((w < 0).sum())
        self.sb = (v * np.clip(w, 0.0, None)) @ v.T
        self.dim = x.shape[1]
        self.within_shape = within_shape
        self._lb = np.linalg.cholesky(self.sb + 1e-9 * np.eye(self.dim)).T.astype(np.float32)
        self._lw = np.linalg.cholesky(self.sw + 1e-9 * np.eye(self.dim)).T.astype(np.float32)
        self._mu = self.mu.astype(np.float32)

    def describe(self) -> dict[str, float]:
        return {
            "mean_norm_sq": float(self.mu @ self.mu),
            "trace_between": float(np.trace(self.sb)),
            "trace_within": float(np.trace(self.sw)),
            "clipped_eigenvalues": self.clipped_eigenvalues,
            "within_scale_gamma_shape": self.within_shape,
        }

    def centres(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._mu + rng.standard_normal((n, self.dim), dtype=np.float32) @ self._lb

    def faces_of(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(centres)
        scale = np.sqrt(rng.gamma(self.within_shape, 1.0 / self.within_shape, size=(n, 1))).astype(np.float32)
        return _unit(centres + scale * (rng.standard_normal((n, self.dim), dtype=np.float32) @ self._lw))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` faces of ``n`` fresh identities, unit float32."""
        return self.faces_of(self.centres(n, rng), rng)


def fit(real: RealFaces) -> FaceModel:
    return FaceModel(real.vectors, real.labels)


def realism(real: RealFaces, model: FaceModel, seed: int = SEED) -> dict[str, object]:
    """Real against synthetic cosine percentiles (1, 50, 99, 99.9).

    * impostor: all pairs among one face per identity (4,281 real identities; as many
      synthetic ones);
    * genuine: each probe against its mate (3,420 real pairs; as many synthetic
      identities with two faces each);
    * nearest impostor: for each real probe, its highest cosine to the 2,722 real
      distractors, and to 2,722 synthetic faces (what competes with the mate in a search).
    """
    rng = np.random.default_rng([seed, 999])
    one = real.vectors[np.concatenate([real.mates, real.distractors])]
    iu = np.triu_indices(len(one), 1)

    def pct(a: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(a, PERCENTILES)]

    syn_one = model.sample(len(one), rng)
    c = model.centres(len(real.probes), rng)
    a, b = model.faces_of(c, rng), model.faces_of(c, rng)
    syn_distr = model.sample(len(real.distractors), rng)
    p = real.probe_vectors
    out = {
        "percentiles": list(PERCENTILES),
        "impostor": {"real": pct((one @ one.T)[iu]), "synthetic": pct((syn_one @ syn_one.T)[iu])},
        "genuine": {"real": pct(np.sum(p * real.vectors[real.mates[real.probe_mate]], 1)), "synthetic": pct(np.sum(a * b, 1))},
        "nearest_impostor_of_probe": {
            "real": pct((p @ real.vectors[real.distractors].T).max(1)),
            "synthetic": pct((p @ syn_distr.T).max(1)),
        },
        "fit": model.describe() | {"identities": len(set(real.labels)), "images": len(real.labels)},
    }
    return out


# -- galleries -----------------------------------------------------------------------
@dataclass
class Gallery:
    """A face-like gallery of ``n`` faces, produced chunk by chunk.

    Attributes:
        real_pos: gallery position of each real face (mates first, then distractors).
        mate_pos: gallery position of each probe's mate.
    """

    real: RealFaces
    model: FaceModel
    n: int
    seed: int
    real_pos: np.ndarray
    mate_pos: np.ndarray

    def chunks(self, size: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, vectors)`` covering positions ``0..n-1`` in order. Synthetic faces
        of chunk ``i`` come from the generator seeded ``(seed, i)``, so they do not
        depend on ``n`` or on ``size`` being a divisor of ``CHUNK``."""
        real_vecs = self.real.vectors[np.concatenate([self.real.mates, self.real.distractors])]
        order = np.argsort(self.real_pos)
        sorted_pos, sorted_vecs = self.real_pos[order], real_vecs[order]
        for c0 in range(0, self.n, CHUNK):
            c1 = min(self.n, c0 + CHUNK)
            block = self.model.sample(CHUNK, np.random.default_rng([self.seed, c0 // CHUNK]))[: c1 - c0]
            lo, hi = np.searchsorted(sorted_pos, [c0, c1])
            block[sorted_pos[lo:hi] - c0] = sorted_vecs[lo:hi]
            for s0 in range(0, c1 - c0, size):
                yield c0 + s0, block[s0 : s0 + size]

    def all(self) -> np.ndarray:
        return np.concatenate([v for _, v in self.chunks()])


def gallery(real: RealFaces, model: FaceModel, n: int, seed: int = SEED) -> Gallery:
    n_real = len(real.mates) + len(real.distractors)
    if n < n_real:
        raise ValueError(f"a gallery needs at least the {n_real} real faces")
    pos = np.random.default_rng([seed, n]).choice(n, size=n_real, replace=False)
    return Gallery(real, model, n, seed, pos, pos[: len(real.mates)][real.probe_mate])


# -- exact ground truth and recall ---------------------------------------------------
class ExactTopK:
    """Exact top-``k`` by cosine of fixed queries over a gallery seen chunk by chunk
    (faiss's brute-force ``knn``, merged across chunks)."""

    def __init__(self, queries: np.ndarray, k: int = K) -> None:
        self.q = np.ascontiguousarray(queries, np.float32)
        self.k = k
        self.ids = np.zeros((len(queries), 0), np.int64)
        self.scores = np.zeros((len(queries), 0), np.float32)

    def update(self, start: int, vectors: np.ndarray) -> None:
        import faiss

        kk = min(self.k, len(vectors))
        sc, top = faiss.knn(self.q, np.ascontiguousarray(vectors, np.float32), kk, metric=faiss.METRIC_INNER_PRODUCT)
        ids = np.concatenate([self.ids, top + start], 1)
        sc = np.concatenate([self.scores, sc], 1)
        keep = np.argsort(-sc, axis=1, kind="stable")[:, : self.k]
        self.ids, self.scores = np.take_along_axis(ids, keep, 1), np.take_along_axis(sc, keep, 1)


def recall(found: list[np.ndarray] | np.ndarray, exact_ids: np.ndarray, mate_pos: np.ndarray, k: int = K) -> dict[str, float]:
    """How much of exact search an index keeps.

    * ``mate_recall``: of the probes whose true mate exact search ranks in its top
      ``k``, the share for which the index also returns the mate in its top ``k``
      (the headline number);
    * ``topk_recall``: share of all exact top-``k`` results the index returns (the usual
      ANN recall@k, over every probe);
    * ``exact_mate_rank1`` / ``index_mate_rank1``: share of probes whose first result is
      the mate, by exact search and by the index (the absolute accuracy).
    """
    exact_has = (exact_ids[:, :k] == mate_pos[:, None]).any(1)
    got_mate = np.array([bool(np.isin(m, f[:k])) for f, m in zip(found, mate_pos)])
    overlap = np.array([len(np.intersect1d(f[:k], e[:k])) for f, e in zip(found, exact_ids)])
    first = np.array([len(f) > 0 and f[0] == m for f, m in zip(found, mate_pos)])
    return {
        "mate_recall": float(got_mate[exact_has].mean()),
        "mate_missed": int((exact_has & ~got_mate).sum()),
        "probes_with_mate_in_exact_topk": int(exact_has.sum()),
        "probes": int(len(mate_pos)),
        "topk_recall": float(overlap.sum() / (k * len(mate_pos))),
        "exact_mate_rank1": float((exact_ids[:, 0] == mate_pos).mean()),
        "index_mate_rank1": float(first.mean()),
    }


# -- timing and memory ---------------------------------------------------------------
def latencies(fn, queries: np.ndarray, warmup: int = 20) -> dict[str, float]:  # noqa: ANN001
    """Single-query latency: ``fn(one_query_row)`` for each row, one at a time."""
    for q in queries[:warmup]:
        fn(q[None])
    ms = np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter()
        fn(q[None])
        ms[i] = (time.perf_counter() - t) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()), "queries": int(len(ms))}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    """Resident memory of this process now."""
    return _status("VmRSS")


def peak_rss_bytes() -> int:
    """Highest resident memory since the start, or since :func:`reset_peak_rss`."""
    return _status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Start the peak over from the current RSS (Linux: ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def machine() -> dict[str, object]:
    import platform

    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": round(mem / 2**30, 1), "python": platform.python_version(), "machine": platform.machine(), "commit": commit()}


def commit() -> str:
    """The repository's commit, with ``+dirty`` when src/ has uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def write_results(result: dict, out: Path, stem: str, table: str) -> None:  # type: ignore[type-arg]
    """Warn if the code changed during the run, then write ``out/stem.json`` and
    ``out/stem.md`` and print the table."""
    if commit() != result["machine"]["commit"]:
        result["machine"]["commit_at_end"] = commit()
        print(f"warning: the code changed during the run ({result['machine']['commit']} -> {commit()})", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (out / f"{stem}.md").write_text(table)
    print("\n" + table)
    print(f"{result['elapsed_s']:.0f} s; wrote {out / f'{stem}.json'}")
