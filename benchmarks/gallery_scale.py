"""The store at scale: galleries of 10k, 100k and 1M face-like faces through
``faceprint.store.Store`` (SQLite WAL, AES-GCM-sealed embeddings, audit log, in-memory
``VectorIndex``), searched with the 3,420 real LFW probe faces whose mates are in the
gallery (benchmarks/facelike.py describes the gallery and the synthetic faces).

For each size, in a fresh temporary store:

* build: ``Store.add_faces`` in batches of 1,000 with the collection's index live (as in
  a running service), faces per second of add_faces calls, and the slowest batch;
* disk: ``faceprint.db`` (+ ``-wal``, if any) after the store is closed (SQLite
  checkpoints the WAL on close), per face;
* reopen, in a fresh process: ``Store(home)`` plus the first search, which decrypts
  every row and rebuilds the index; the process's RSS growth and peak per face;
* the search step, single query, in that process: ``VectorIndex.search`` alone (k=10),
  and ``Store.search`` (SearchFacesByImage's step after the embedding: purpose check,
  index search, row lookup, and the audit entry committed with ``synchronous=FULL``;
  MaxFaces 10, FaceMatchThreshold 40);
* batch throughput: all 3,420 probes in one ``VectorIndex.search`` call, and single
  queries from one and from two threads;
* true-mate recall of the index against exact search over the same gallery.

Detecting and embedding the probe photo is not part of the search step; it is
measured in benchmarks/peer.py (docs/benchmarks.md).

10M: the ``VectorIndex`` alone is measured at 10M face-like vectors in a fresh process
(RSS, latency, recall on 1,000 probes); the store's RAM and disk at 10M are
extrapolated linearly from the per-face figures at 1M (and 100k, to show they are
flat).

    python benchmarks/gallery_scale.py --out bench-output     # about 8 minutes
    python benchmarks/gallery_scale.py --quick --out /tmp/gs  # 10k only, no 10M

Writes OUT/gallery_scale.json and OUT/gallery_scale.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import facelike as fl  # noqa: E402

BATCH = 1000
COLLECTION = "scale"
PURPOSE = "gallery scale benchmark"
TEN_M = 10_000_000
TEN_M_PROBES = 1000
FP16_SAVING = 256  # bytes per 128-d face if the re-rank copy were float16


def timed_probes(real: fl.RealFaces, n: int) -> np.ndarray:
    """Positions (in ``real.probes``) of the probes timed one by one: a seeded sample."""
    return np.sort(np.random.default_rng([fl.SEED, 1]).choice(len(real.probes), n, replace=False))


def only_index(store):  # noqa: ANN001, ANN201
    """The store's in-memory index of its one collection. (Private: the benchmark
    times the index alone, without the store's bookkeeping around it.)"""
    (index,) = store._indexes.values()
    return index


# -- build (this process) ------------------------------------------------------------
def build(n: int, real: fl.RealFaces, model: fl.FaceModel, contract: str, home: Path) -> tuple[dict, fl.ExactTopK, fl.Gallery]:
    from faceprint.store import Store
    from faceprint.types import Box, NewFace

    gal = fl.gallery(real, model, n)
    gt = fl.ExactTopK(real.probe_vectors)
    gc.collect()
    rss0 = fl.rss_bytes()
    store = Store(home, actor="benchmark")
    store.collections.create(COLLECTION, purpose=PURPOSE, model=contract, consent_required=False)
    store.faces.size(COLLECTION)  # loads the (empty) index, so add_faces keeps it current
    box = Box(0.25, 0.25, 0.5, 0.5)
    add_s, slowest, segments = 0.0, (0.0, 0), []
    seg_t, seg_n = 0.0, 0
    for start, vecs in gal.chunks():
        gt.update(start, vecs)
        for b0 in range(0, len(vecs), BATCH):
            faces = [NewFace(v, box, 0.99, f"img-{start + b0 + i:08d}") for i, v in enumerate(vecs[b0 : b0 + BATCH])]
            t = time.perf_counter()
            store.faces.add(COLLECTION, faces, model=contract)
            dt = time.perf_counter() - t
            add_s += dt
            seg_t += dt
            seg_n += len(faces)
            if dt > slowest[0]:
                slowest = (dt, start + b0 + len(faces))
        if seg_n >= max(CHUNK_REPORT, n // 10) or start + len(vecs) == n:
            segments.append({"faces_done": start + len(vecs), "faces_per_s": round(seg_n / seg_t)})
            print(f"  {start + len(vecs):>10,} faces  {seg_n / seg_t:8,.0f} faces/s", flush=True)
            seg_t, seg_n = 0.0, 0
    index = only_index(store)
    assert len(index) == n
    rss_built = fl.rss_bytes()
    nbytes = index.nbytes()
    store.close()
    del store, index
    gc.collect()
    db = home / "faceprint.db"
    wal = home / "faceprint.db-wal"
    disk = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    out = {
        "add_faces_s": round(add_s, 1),
        "build_faces_per_s": round(n / add_s),
        "build_segments": segments,
        "slowest_batch_s": round(slowest[0], 2),
        "slowest_batch_ends_at": slowest[1],
        "build_rss_growth_per_face": round((rss_built - rss0) / n, 1),
        "index_nbytes_per_face": round(nbytes / n, 1),
        "disk_bytes": disk,
        "disk_bytes_per_face": round(disk / n, 1),
        "wal_bytes_after_close": wal.stat().st_size if wal.exists() else 0,
    }
    return out, gt, gal


CHUNK_REPORT = 100_000


# -- reopen and search (a fresh process) -----------------------------------------------
def child(home: Path, truth: Path) -> dict:
    from faceprint.engine import DEFAULT_MIN_SIMILARITY, Engine
    from faceprint.store import Store

    z = np.load(truth)
    probes, exact_ids, mate_pos, timed = z["probes"], z["exact_ids"], z["mate_pos"], z["timed"]
    n = int(z["n"])
    min_cos = Engine().cosine_at(DEFAULT_MIN_SIMILARITY)
    gc.collect()
    fl.reset_peak_rss()
    rss0 = fl.rss_bytes()
    t = time.perf_counter()
    store = Store(home, actor="benchmark")
    open_s = time.perf_counter() - t
    store.faces.search(COLLECTION, probes[0], max_faces=fl.K, min_cosine=min_cos)
    reopen_s = time.perf_counter() - t
    rss1, peak = fl.rss_bytes(), fl.peak_rss_bytes()
    index = only_index(store)
    if not np.array_equal(index.ids(), np.arange(1, n + 1)):
        raise SystemExit("row ids are not 1..N in insertion order; cannot map results to gallery positions")

    def pos(ids: np.ndarray) -> np.ndarray:
        return ids - 1

    t = time.perf_counter()
    batch = index.search(probes, fl.K)
    batch_s = time.perf_counter() - t
    rec = fl.recall([pos(ids) for ids, _ in batch], exact_ids, mate_pos)
    q = probes[timed]
    vi = fl.latencies(lambda v: index.search(v, fl.K), q)
    st = fl.latencies(lambda v: store.faces.search(COLLECTION, v[0], max_faces=fl.K, min_cosine=min_cos), q)
    # Store.search must return what the index returns, cut at the threshold
    mismatch = 0
    for v in q[:100]:
        ids, cos = index.search(v[None], fl.K)[0]
        hits = store.faces.search(COLLECTION, v, max_faces=fl.K, min_cosine=min_cos)
        mismatch += [round(h.cosine, 5) for h in hits] != [round(float(c), 5) for c in cos if c >= min_cos]

    def loop(rows: np.ndarray) -> None:
        for v in rows:
            index.search(v[None], fl.K)

    def qps(threads: int) -> float:
        parts = np.array_split(q, threads)
        workers = [threading.Thread(target=loop, args=(p,)) for p in parts]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return len(q) / (time.perf_counter() - t)

    out = {
        "open_s": round(open_s, 2),
        "reopen_first_search_s": round(reopen_s, 2),
        "reopen_rss_growth_per_face": round((rss1 - rss0) / n, 1),
        "reopen_peak_rss_growth_per_face": round((peak - rss0) / n, 1),
        "rss_after_reopen_bytes": rss1,
        "peak_rss_bytes": peak,
        "approximate": bool(index.approximate),
        "reopen_index_nbytes_per_face": round(index.nbytes() / n, 1),
        "index_search": vi,
        "store_search": st,
        "store_search_mismatches_of_100": int(mismatch),
        "batch_qps": round(len(probes) / batch_s, 1),
        "single_qps_1_thread": round(qps(1), 1),
        "single_qps_2_threads": round(qps(2), 1),
        "min_cosine": min_cos,
        **rec,
    }
    out["audit_ok"] = bool(store.audit.verify().ok)
    store.close()
    return out


def run_child(*args: str) -> dict:
    """Run this script in a fresh process (clean RSS figures); its last line is JSON."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"the child process {' '.join(args)} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_size(n: int, real: fl.RealFaces, model: fl.FaceModel, contract: str, timed: np.ndarray, workdir: Path | None) -> dict:
    print(f"\n{n:,} faces: building through Store.add_faces", flush=True)
    home = Path(tempfile.mkdtemp(prefix=f"faceprint-scale-{n}-", dir=workdir))
    try:
        built, gt, gal = build(n, real, model, contract, home)
        truth = home.parent / f"{home.name}.truth.npz"
        np.savez(truth, probes=real.probe_vectors, exact_ids=gt.ids, mate_pos=gal.mate_pos, timed=timed, n=n)
        del gt, gal
        gc.collect()
        print(f"  built at {built['build_faces_per_s']:,} faces/s; disk {built['disk_bytes_per_face']:.0f} B/face; reopening in a fresh process", flush=True)
        searched = run_child("--child", str(home), str(truth))
        truth.unlink()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    r = {"n": n, **built, **searched}
    print(f"  reopen + first search {r['reopen_first_search_s']:.1f} s; VectorIndex.search p50 {r['index_search']['p50_ms']:.2f} p99 {r['index_search']['p99_ms']:.2f} ms; "
          f"Store.search p50 {r['store_search']['p50_ms']:.2f} p99 {r['store_search']['p99_ms']:.2f} ms; batch {r['batch_qps']:,.0f} q/s; "
          f"true-mate recall {r['mate_recall'] * 100:.2f}%", flush=True)
    return r


# -- 10M: the index alone (a fresh process) --------------------------------------------
def child_10m(n: int = 10_000_000) -> dict:
    from faceprint.store import VectorIndex

    real = fl.load_real()
    model = fl.fit(real)
    pick = timed_probes(real, TEN_M_PROBES)
    probes = real.probe_vectors[pick]
    gal = fl.gallery(real, model, n)
    gt = fl.ExactTopK(probes)
    gc.collect()
    fl.reset_peak_rss()
    rss0 = fl.rss_bytes()
    index = VectorIndex()
    add_s = 0.0
    t_all = time.perf_counter()
    for start, vecs in gal.chunks():
        gt.update(start, vecs)
        t = time.perf_counter()
        index.add(np.arange(start, start + len(vecs)), vecs)
        add_s += time.perf_counter() - t
    total_s = time.perf_counter() - t_all
    del vecs
    gc.collect()
    rss1, peak = fl.rss_bytes(), fl.peak_rss_bytes()
    rec = fl.recall([ids for ids, _ in index.search(probes, fl.K)], gt.ids, gal.mate_pos[pick])
    lat = fl.latencies(lambda v: index.search(v, fl.K), probes)
    t = time.perf_counter()
    index.search(probes, fl.K)
    batch_qps = len(probes) / (time.perf_counter() - t)
    return {
        "n": n,
        "probes": len(probes),
        "index_add_s": round(add_s, 1),
        "generate_and_ground_truth_s": round(total_s - add_s, 1),
        "index_nbytes": index.nbytes(),
        "index_nbytes_per_face": round(index.nbytes() / n, 1),
        "rss_growth_bytes": rss1 - rss0,
        "rss_growth_per_face": round((rss1 - rss0) / n, 1),
        "peak_rss_growth_bytes": peak - rss0,
        "peak_rss_bytes": peak,
        "index_search": lat,
        "batch_qps": round(batch_qps, 1),
        **rec,
    }


def extrapolate(sizes: list[dict], measured_10m: dict | None) -> dict:
    """10M from the largest measured store, linearly: bytes per face x 10M."""
    big = max(sizes, key=lambda r: r["n"])
    gib = lambda b: round(b / 2**30, 2)  # noqa: E731
    steady = big["reopen_rss_growth_per_face"] * TEN_M
    peak = big["reopen_peak_rss_growth_per_face"] * TEN_M
    out = {
        "from_n": big["n"],
        "method": f"linear: each per-face figure measured at {big['n']:,} faces, times 10,000,000 (vectors, codes, ids and rows all grow linearly with N)",
        "index_gib": gib(big["reopen_index_nbytes_per_face"] * TEN_M),
        "index_fp16_rerank_gib": gib((big["reopen_index_nbytes_per_face"] - FP16_SAVING) * TEN_M),
        "process_rss_after_reopen_gib": gib(steady),
        "process_peak_rss_during_reopen_gib": gib(peak),
        "disk_gib": gib(big["disk_bytes_per_face"] * TEN_M),
        "reopen_s": round(big["reopen_first_search_s"] * TEN_M / big["n"]),
        "build_hours": round(TEN_M / big["build_faces_per_s"] / 3600, 2),
    }
    if measured_10m:
        out["measured_index_rss_gib"] = gib(measured_10m["rss_growth_bytes"])
        out["measured_index_peak_rss_gib"] = gib(measured_10m["peak_rss_growth_bytes"])
    return out


def table(result: dict) -> str:
    rows = result["sizes"]
    head = "| | " + " | ".join(f"{r['n']:,}" for r in rows) + (" | 10M (VectorIndex alone, measured) |" if result.get("ten_million") else " |")
    sep = "|---" * (len(rows) + 1 + bool(result.get("ten_million"))) + "|"
    tm = result.get("ten_million") or {}

    def line(label: str, fmt, ten: str = "") -> str:  # noqa: ANN001
        return f"| {label} | " + " | ".join(fmt(r) for r in rows) + (f" | {ten} |" if tm else " |")

    lines = [head, sep,
             line("build rate, Store.add_faces (faces/s)", lambda r: f"{r['build_faces_per_s']:,}", f"{TEN_M / tm['index_add_s']:,.0f} (VectorIndex.add)" if tm else ""),
             line("reopen + first search (s)", lambda r: f"{r['reopen_first_search_s']:.1f}", "n/a"),
             line("VectorIndex.search p50 / p99 (ms)", lambda r: f"{r['index_search']['p50_ms']:.2f} / {r['index_search']['p99_ms']:.2f}", f"{tm['index_search']['p50_ms']:.2f} / {tm['index_search']['p99_ms']:.2f}" if tm else ""),
             line("Store.search p50 / p99 (ms, with audit commit)", lambda r: f"{r['store_search']['p50_ms']:.2f} / {r['store_search']['p99_ms']:.2f}", "n/a"),
             line("batch: all probes in one call (queries/s)", lambda r: f"{r['batch_qps']:,.0f}", f"{tm['batch_qps']:,.0f}" if tm else ""),
             line("single queries, 1 / 2 threads (queries/s)", lambda r: f"{r['single_qps_1_thread']:,.0f} / {r['single_qps_2_threads']:,.0f}", "n/a"),
             line(f"true-mate recall vs exact (top {fl.K})", lambda r: f"{r['mate_recall'] * 100:.2f}% ({r['mate_missed']} of {r['probes_with_mate_in_exact_topk']} missed)", f"{tm['mate_recall'] * 100:.2f}% ({tm['mate_missed']} of {tm['probes_with_mate_in_exact_topk']} missed)" if tm else ""),
             line(f"top-{fl.K} recall vs exact", lambda r: f"{r['topk_recall'] * 100:.2f}%", f"{tm['topk_recall'] * 100:.2f}%" if tm else ""),
             line("mate ranked first: exact / index", lambda r: f"{r['exact_mate_rank1'] * 100:.1f}% / {r['index_mate_rank1'] * 100:.1f}%", f"{tm['exact_mate_rank1'] * 100:.1f}% / {tm['index_mate_rank1'] * 100:.1f}%" if tm else ""),
             line("VectorIndex.nbytes() per face: grown by add_faces / rebuilt at reopen", lambda r: f"{r['index_nbytes_per_face']:.0f} / {r['reopen_index_nbytes_per_face']:.0f} B", f"{tm['index_nbytes_per_face']:.0f} B (grown by adds)" if tm else ""),
             line("RSS growth per face: build / after reopen / peak in reopen", lambda r: f"{r['build_rss_growth_per_face']:.0f} / {r['reopen_rss_growth_per_face']:.0f} / {r['reopen_peak_rss_growth_per_face']:.0f} B",
                  f"{tm['rss_growth_per_face']:.0f} B after adding; peak {tm['peak_rss_growth_bytes'] / tm['n']:.0f} B" if tm else ""),
             line("disk per face (db + wal, after close)", lambda r: f"{r['disk_bytes_per_face']:.0f} B", "n/a")]
    lines += ["", "Per-face RSS figures at 10,000 faces are mostly fixed costs (imports, SQLite's cache) spread over few faces."]
    x = result.get("extrapolated_10m")
    if x:
        lines += ["", f"10M faces through the store, extrapolated ({x['method']}): index {x['index_gib']} GiB ({x['index_fp16_rerank_gib']} GiB with float16 re-rank vectors), "
                  f"process RSS after reopen {x['process_rss_after_reopen_gib']} GiB, peak during reopen {x['process_peak_rss_during_reopen_gib']} GiB, disk {x['disk_gib']} GiB, "
                  f"reopen about {x['reopen_s']} s, build about {x['build_hours']} h through add_faces."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    ap.add_argument("--quick", action="store_true", help="10k faces only, no 10M")
    ap.add_argument("--no-10m", action="store_true", help="skip the 10M VectorIndex measurement")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary stores go (default: the system temp folder)")
    ap.add_argument("--render", action="store_true", help="only rewrite OUT/gallery_scale.md from OUT/gallery_scale.json")
    ap.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-10m", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.render:
        result = json.loads((args.out / "gallery_scale.json").read_text())
        result["extrapolated_10m"] = extrapolate(result["sizes"], result["ten_million"])
        (args.out / "gallery_scale.json").write_text(json.dumps(result, indent=2))
        (args.out / "gallery_scale.md").write_text(table(result))
        print(table(result))
        return
    if args.child_10m is not None:
        print(json.dumps(child_10m(args.child_10m)))
        return

    from faceprint.engine import Engine

    t_all = time.perf_counter()
    sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    n_timed = 300 if args.quick else 1000
    real = fl.load_real()
    model = fl.fit(real)
    contract = Engine().analyzer.embedder.contract
    timed = timed_probes(real, n_timed)
    result: dict = {
        "machine": fl.machine(),
        "settings": {"k": fl.K, "batch": BATCH, "timed_queries": n_timed, "probes": len(real.probes), "seed": fl.SEED, "model": contract, "quick": args.quick},
        "realism": fl.realism(real, model),
        "sizes": [],
    }
    for n in sizes:
        result["sizes"].append(run_size(n, real, model, contract, timed, args.workdir))
    result["ten_million"] = None
    if not (args.quick or args.no_10m):
        print(f"\n{TEN_M:,} faces: VectorIndex alone, in a fresh process", flush=True)
        t = time.perf_counter()
        result["ten_million"] = run_child("--child-10m", str(TEN_M)) | {"wall_s": round(time.perf_counter() - t, 1)}
    result["extrapolated_10m"] = extrapolate(result["sizes"], result["ten_million"])
    result["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    fl.write_results(result, args.out, "gallery_scale", table(result))


if __name__ == "__main__":
    main()
