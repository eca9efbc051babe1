"""Vector-index candidates on face-like data, and the exact/approximate switch point.

Every candidate searches the same face-like galleries (benchmarks/facelike.py: the
LFW View 2 mates and single-image identities among synthetic SFace-like faces) with
the same 3,420 real probes:

* exact: ``faceprint.store.VectorIndex`` below its switch (one numpy matrix product);
* faiss ``IndexHNSWFlat`` (M=32, efConstruction=64), several efSearch;
* faiss ``IndexIVFFlat`` (nlist ~ 4 sqrt(N)), several nprobe;
* faiss PQ fast-scan + exact re-rank: ``faceprint.store.VectorIndex`` above its switch,
  with several re-rank candidate counts (the product uses ``CANDIDATES``);
* usearch HNSW (M=32, expansion_add=64), f32 and i8 vectors, several expansion_search;
* hnswlib (M=32, ef_construction=64), several ef, when it is installed.

Per candidate: build seconds, single-query latency p50/p99 (one query per call, the
same seeded sample of probes for every candidate), true-mate recall against exact
search (see ``facelike.recall``), bytes per vector (serialized index / N; for
VectorIndex its ``nbytes()`` / N). Then the crossover: exact against PQ + re-rank at
10k, 25k, 50k and 100k faces, the evidence for ``APPROXIMATE_FROM``.

    python benchmarks/vector_index.py --out bench-output            # about 18 minutes
    python benchmarks/vector_index.py --quick --out /tmp/vi         # about a minute

Writes OUT/vector_index.json.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import facelike as fl  # noqa: E402

import faceprint.store.vectors as vectors_mod  # noqa: E402
from faceprint.store import VectorIndex  # noqa: E402

BUILD_LIMIT_S = 300.0  # skip a graph index at 1M when its build is expected to take longer
HNSW_M, HNSW_EFC = 32, 64


class Candidate:
    """One index family: built once, searched under several settings."""

    name = ""

    def build(self, g: np.ndarray) -> None:
        raise NotImplementedError

    def settings(self, n: int) -> list[str]:
        return [""]

    def use(self, setting: str) -> None:
        pass

    def search(self, q: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def nbytes(self) -> int:
        raise NotImplementedError

    def free(self) -> None:
        pass


class Exact(Candidate):
    name = "exact (VectorIndex, numpy)"

    def build(self, g: np.ndarray) -> None:
        self.index = VectorIndex(approximate_from=2**62)
        self.index.add(np.arange(len(g)), g)

    def search(self, q: np.ndarray) -> list[np.ndarray]:
        return [ids for ids, _ in self.index.search(q, fl.K)]

    def nbytes(self) -> int:
        return self.index.nbytes()

    def free(self) -> None:
        del self.index


class PQRerank(Candidate):
    name = "PQ fast-scan + re-rank (VectorIndex)"

    def build(self, g: np.ndarray) -> None:
        self.index = VectorIndex(approximate_from=1)
        self.index.add(np.arange(len(g)), g)
        assert self.index.approximate

    def settings(self, n: int) -> list[str]:
        return [f"candidates={c}" + (" (product)" if c == self.default else "") for c in sorted({128, 256, self.default, 1024})]

    default = vectors_mod.CANDIDATES

    def use(self, setting: str) -> None:
        vectors_mod.CANDIDATES = int(setting.split("=")[1].split()[0])

    def search(self, q: np.ndarray) -> list[np.ndarray]:
        return [ids for ids, _ in self.index.search(q, fl.K)]

    def nbytes(self) -> int:
        return self.index.nbytes()

    def free(self) -> None:
        vectors_mod.CANDIDATES = self.default
        del self.index


class Faiss(Candidate):
    def search(self, q: np.ndarray) -> list[np.ndarray]:
        return list(self.index.search(np.ascontiguousarray(q, np.float32), fl.K)[1])

    def nbytes(self) -> int:
        return int(faiss.serialize_index(self.index).nbytes)

    def free(self) -> None:
        del self.index


class FaissHNSW(Faiss):
    name = f"faiss HNSW (M={HNSW_M}, efC={HNSW_EFC})"

    def build(self, g: np.ndarray) -> None:
        self.index = faiss.IndexHNSWFlat(g.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = HNSW_EFC
        self.index.add(g)

    def settings(self, n: int) -> list[str]:
        return [f"ef={e}" for e in (128, 256, 512)]

    def use(self, setting: str) -> None:
        self.index.hnsw.efSearch = int(setting.split("=")[1])


class FaissIVF(Faiss):
    name = "faiss IVF-Flat"

    def build(self, g: np.ndarray) -> None:
        self.nlist = 2 ** round(math.log2(4 * math.sqrt(len(g))))
        quantizer = faiss.IndexFlatIP(g.shape[1])
        self.index = faiss.IndexIVFFlat(quantizer, g.shape[1], self.nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(fl.SEED)
        sample = g[np.sort(rng.choice(len(g), size=min(len(g), 50 * self.nlist), replace=False))]
        self.index.train(sample)
        self.index.add(g)
        self.name = f"faiss IVF-Flat (nlist={self.nlist})"

    def settings(self, n: int) -> list[str]:
        nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
        return [f"nprobe={nlist // d}" for d in (64, 32, 16)]

    def use(self, setting: str) -> None:
        self.index.nprobe = int(setting.split("=")[1])


class USearch(Candidate):
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.name = f"usearch HNSW {dtype} (M={HNSW_M}, efC={HNSW_EFC})"

    def build(self, g: np.ndarray) -> None:
        from usearch.index import Index

        self.index = Index(ndim=g.shape[1], metric="cos", dtype=self.dtype, connectivity=HNSW_M, expansion_add=HNSW_EFC)
        self.index.add(np.arange(len(g)), g, threads=2)

    def settings(self, n: int) -> list[str]:
        return [f"ef={e}" for e in (64, 256, 512)]

    def use(self, setting: str) -> None:
        self.index.expansion_search = int(setting.split("=")[1])

    def search(self, q: np.ndarray) -> list[np.ndarray]:
        if len(q) == 1:
            return [np.asarray(self.index.search(q[0], fl.K).keys, np.int64)]
        return list(np.asarray(self.index.search(q, fl.K, threads=2).keys, np.int64))

    def nbytes(self) -> int:
        return len(self.index.save())

    def free(self) -> None:
        del self.index


class HNSWLib(Candidate):
    name = f"hnswlib (M={HNSW_M}, efC={HNSW_EFC})"

    def build(self, g: np.ndarray) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=g.shape[1])
        self.index.init_index(max_elements=len(g), ef_construction=HNSW_EFC, M=HNSW_M, random_seed=fl.SEED % 2**31)
        self.index.set_num_threads(2)
        self.index.add_items(g, np.arange(len(g)))

    def settings(self, n: int) -> list[str]:
        return [f"ef={e}" for e in (128, 256, 512)]

    def use(self, setting: str) -> None:
        self.index.set_ef(int(setting.split("=")[1]))

    def search(self, q: np.ndarray) -> list[np.ndarray]:
        self.index.set_num_threads(1 if len(q) == 1 else 2)
        return list(self.index.knn_query(q, k=fl.K)[0].astype(np.int64))

    def nbytes(self) -> int:
        return int(self.index.index_file_size())

    def free(self) -> None:
        del self.index


def hnswlib_available() -> bool:
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return False
    return True


def candidates() -> list[Candidate]:
    out: list[Candidate] = [Exact(), PQRerank(), FaissIVF(), FaissHNSW(), USearch("f32"), USearch("i8")]
    if hnswlib_available():
        out.append(HNSWLib())
    return out


def measure(c: Candidate, g: np.ndarray, probes: np.ndarray, timed: np.ndarray, exact_ids: np.ndarray, mate_pos: np.ndarray) -> list[dict]:
    gc.collect()
    t = time.perf_counter()
    c.build(g)
    build_s = time.perf_counter() - t
    per_vector = c.nbytes() / len(g)
    rows = []
    for setting in c.settings(len(g)):
        c.use(setting)
        if isinstance(c, Exact):  # exact is the reference: its recall is 1 by definition
            rec = fl.recall(list(exact_ids), exact_ids, mate_pos)
        else:
            rec = fl.recall(c.search(probes), exact_ids, mate_pos)
        lat = fl.latencies(c.search, timed)
        row = {"candidate": c.name, "setting": setting, "build_s": round(build_s, 2), **lat, "bytes_per_vector": round(per_vector, 1), **rec}
        rows.append(row)
        print(f"  {c.name:<40} {setting:<26} build {build_s:7.1f} s  p50 {lat['p50_ms']:7.2f}  p99 {lat['p99_ms']:7.2f} ms  "
              f"mate recall {rec['mate_recall'] * 100:6.2f}%  top-{fl.K} {rec['topk_recall'] * 100:6.2f}%  {per_vector:6.0f} B/vec", flush=True)
    c.free()
    gc.collect()
    return rows


def crossover(real: fl.RealFaces, model: fl.FaceModel, sizes: list[int], timed: np.ndarray) -> list[dict]:
    out = []
    for n in sizes:
        gal = fl.gallery(real, model, n)
        g = gal.all()
        exact = VectorIndex(approximate_from=2**62)
        exact.add(np.arange(n), g)
        e = fl.latencies(lambda q: exact.search(q, fl.K), timed)
        del exact
        t = time.perf_counter()
        pq = VectorIndex(approximate_from=1)
        pq.add(np.arange(n), g)
        build = time.perf_counter() - t
        p = fl.latencies(lambda q: pq.search(q, fl.K), timed)
        gt = fl.ExactTopK(real.probe_vectors)
        gt.update(0, g)
        rec = fl.recall([ids for ids, _ in pq.search(real.probe_vectors, fl.K)], gt.ids, gal.mate_pos)
        del pq
        row = {"n": n, "exact_p50_ms": e["p50_ms"], "exact_p99_ms": e["p99_ms"], "pq_p50_ms": p["p50_ms"], "pq_p99_ms": p["p99_ms"],
               "pq_build_s": round(build, 2), "pq_mate_recall": rec["mate_recall"], "pq_topk_recall": rec["topk_recall"]}
        out.append(row)
        print(f"  {n:>8,}  exact p50 {e['p50_ms']:6.2f} p99 {e['p99_ms']:6.2f} ms   PQ+re-rank p50 {p['p50_ms']:6.2f} p99 {p['p99_ms']:6.2f} ms"
              f"  (build {build:4.1f} s, mate recall {rec['mate_recall'] * 100:.2f}%)", flush=True)
    return out


def table(result: dict) -> str:
    lines = []
    for n, r in result["sizes"].items():
        lines += [f"### {int(n):,} faces (exact search puts the mate first for {r['exact_mate_rank1'] * 100:.1f}% of probes; in its top {fl.K} for {r['probes_with_mate_in_exact_topk']} of {r['probes']})", "",
                  f"| candidate | setting | build s | p50 ms | p99 ms | true-mate recall | top-{fl.K} recall | bytes/vector |", "|---|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            lines.append(f"| {row['candidate']} | {row['setting']} | {row['build_s']:.1f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                         f"{row['mate_recall'] * 100:.2f}% ({row['mate_missed']} missed) | {row['topk_recall'] * 100:.2f}% | {row['bytes_per_vector']:.0f} |")
        for s in r["skipped"]:
            lines.append(f"| {s['candidate']} | skipped | {s['reason']} | | | | | |")
        lines.append("")
    lines += ["### Exact against PQ fast-scan + re-rank (VectorIndex, single query)", "",
              "| faces | exact p50 ms | exact p99 ms | PQ+re-rank p50 ms | PQ+re-rank p99 ms | PQ build s | PQ true-mate recall |", "|---|---|---|---|---|---|---|"]
    for row in result["crossover"]:
        lines.append(f"| {row['n']:,} | {row['exact_p50_ms']:.2f} | {row['exact_p99_ms']:.2f} | {row['pq_p50_ms']:.2f} | {row['pq_p99_ms']:.2f} | {row['pq_build_s']:.1f} | {row['pq_mate_recall'] * 100:.2f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k faces, 200 timed queries")
    args = ap.parse_args()
    t_all = time.perf_counter()
    sizes = [20_000] if args.quick else [100_000, 1_000_000]
    cross = [10_000, 20_000] if args.quick else [10_000, 25_000, 50_000, 100_000]
    n_timed = 200 if args.quick else 1000

    real = fl.load_real()
    model = fl.fit(real)
    probes = real.probe_vectors
    timed = probes[np.sort(np.random.default_rng([fl.SEED, 1]).choice(len(probes), n_timed, replace=False))]
    result: dict = {
        "machine": fl.machine(),
        "settings": {"k": fl.K, "timed_queries": n_timed, "probes": len(probes), "seed": fl.SEED, "faiss_threads": faiss.omp_get_max_threads(),
                     "faiss": faiss.__version__, "quick": args.quick},
        "realism": fl.realism(real, model),
        "sizes": {},
    }
    built_100k: dict[str, float] = {}
    for n in sizes:
        print(f"\n{n:,} faces", flush=True)
        gal = fl.gallery(real, model, n)
        g = gal.all()
        t = time.perf_counter()
        gt = fl.ExactTopK(probes)
        for start, v in gal.chunks():
            gt.update(start, v)
        entry: dict = {"ground_truth_s": round(time.perf_counter() - t, 1), "rows": [], "skipped": []}
        for c in candidates():
            graph = isinstance(c, (USearch, HNSWLib))
            if graph and c.name in built_100k and n > 100_000:
                # HNSW builds grow about as N log N: extrapolate from the smaller run
                est = built_100k[c.name] * n / 100_000 * math.log(n) / math.log(100_000)
                if est > BUILD_LIMIT_S:
                    entry["skipped"].append({"candidate": c.name, "reason": f"build estimated at {est:.0f} s (from {built_100k[c.name]:.0f} s at 100k, scaled N log N) > {BUILD_LIMIT_S:.0f} s"})
                    print(f"  {c.name:<40} skipped: {entry['skipped'][-1]['reason']}", flush=True)
                    continue
            rows = measure(c, g, probes, timed, gt.ids, gal.mate_pos)
            entry["rows"] += rows
            if n == 100_000 or args.quick:
                built_100k[c.name] = rows[0]["build_s"] * (100_000 / n)
        rec = fl.recall(list(gt.ids), gt.ids, gal.mate_pos)
        entry |= {k: rec[k] for k in ("exact_mate_rank1", "probes_with_mate_in_exact_topk", "probes")}
        result["sizes"][str(n)] = entry
        del g
        gc.collect()
    print("\nexact against PQ + re-rank", flush=True)
    result["crossover"] = crossover(real, model, cross, timed)
    result["approximate_from"] = vectors_mod.APPROXIMATE_FROM
    result["hnswlib"] = "measured" if hnswlib_available() else "not installed"
    result["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    fl.write_results(result, args.out, "vector_index", table(result))


if __name__ == "__main__":
    main()
