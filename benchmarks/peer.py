"""Peer benchmark: faceprint (fast and accurate) against face_recognition on the same
images, on all cores, with per-stage timings and LFW accuracy side by side.

Run with `make bench` (or `python benchmarks/peer.py --out bench-output`). Results are
written to OUT/peer.json and OUT/peer.md; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("FACEPRINT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def one_face_images(n: int, engine) -> list[Path]:  # noqa: ANN001
    """LFW images in which both systems' detectors find exactly one face.

    Many LFW photos show bystanders behind the named person; counting those as
    "one-face" images would charge whichever detector finds more of them for the
    extra embeddings. Candidates are taken at an even stride through the sorted list.
    """
    import face_recognition as fr

    files = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))
    cand = files[:: max(1, len(files) // (3 * n))]
    ours = [f for f in cand if len(engine.detect(f)) == 1]
    both = [f for f in ours if len(fr.face_locations(fr.load_image_file(str(f)))) == 1]
    return both[:n]


def multi_face_images() -> list[Path]:
    names = [
        "people/deepface/couple.jpg",
        "people/deepface/selfie-many-people.jpg",
        "people/face_recognition/examples/two_people.jpg",
        "people/face_recognition/examples/knn_examples/test/obama_and_biden.jpg",
        "people/face_recognition/examples/knn_examples/test/kit_with_rose.jpg",
        "detection/dlib_faces/2008_002470.jpg",
        "detection/dlib_faces/2008_004176.jpg",
        "detection/dlib_faces/bald_guys.jpg",
    ]
    return [DATA / n for n in names if (DATA / n).is_file()]


# --- face_recognition, the way its CLI runs: one process per core -----------------
def _fr_one(path: str) -> int:
    import face_recognition as fr

    img = fr.load_image_file(path)
    locs = fr.face_locations(img)
    return len(fr.face_encodings(img, locs))


def fr_throughput(files: list[Path], cpus: int) -> tuple[float, int]:
    with mp.get_context("fork").Pool(cpus) as pool:
        pool.map(_fr_one, [str(files[0])] * cpus)  # warm-up: load models in each worker
        t = time.perf_counter()
        faces = sum(pool.map(_fr_one, [str(f) for f in files], chunksize=4))
        return len(files) / (time.perf_counter() - t), faces


def fr_stages(files: list[Path]) -> dict[str, float]:
    import face_recognition as fr
    import face_recognition.api as fra

    ms: dict[str, list[float]] = {"decode": [], "detect": [], "align": [], "embed": []}
    for f in files:
        t0 = time.perf_counter()
        img = fr.load_image_file(str(f))
        t1 = time.perf_counter()
        locs = fr.face_locations(img)
        t2 = time.perf_counter()
        shapes = fra._raw_face_landmarks(img, locs, model="small")
        t3 = time.perf_counter()
        [np.array(fra.face_encoder.compute_face_descriptor(img, s, 1)) for s in shapes]
        t4 = time.perf_counter()
        for k, a, b in (("decode", t0, t1), ("detect", t1, t2), ("align", t2, t3), ("embed", t3, t4)):
            ms[k].append((b - a) * 1000)
    return {k: statistics.mean(v) for k, v in ms.items()}


def fr_lfw(cache: Path) -> dict[str, float]:
    """face_recognition on LFW View 2: HOG detection (centre face; centred fallback box
    when none is found, as faceprint does), 5-point landmarks, ResNet, 1 jitter."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from faceprint.eval.datasets import lfw_pairs
    from faceprint.eval.metrics import kfold_accuracy, tar_at_far

    ps = lfw_pairs(DATA / "lfw")
    if cache.is_file():
        z = np.load(cache)
        vecs, no_face = z["vectors"], z["no_face"]
    else:
        with mp.get_context("fork").Pool(os.cpu_count() or 1) as pool:
            res = pool.map(_fr_embed_centre, [str(f) for f in ps.files], chunksize=16)
        vecs = np.array([r[0] for r in res], np.float32)
        no_face = np.array([r[1] for r in res])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vectors=vecs, no_face=no_face)
    a, b, same = np.array(ps.a), np.array(ps.b), np.array(ps.same)
    # face_recognition compares by Euclidean distance; negate it as a score
    scores = -np.linalg.norm(vecs[a] - vecs[b], axis=1)
    acc, std, _ = kfold_accuracy(scores, same, np.array(ps.fold))
    return {
        "accuracy": acc,
        "accuracy_std": std,
        "tar_at_far_0.001": tar_at_far(scores[same], scores[~same], 1e-3)[0],
        "no_face": int(no_face.sum()),
    }


def _fr_embed_centre(path: str) -> tuple[np.ndarray, bool]:
    import face_recognition as fr

    img = fr.load_image_file(path)
    h, w = img.shape[:2]
    locs = fr.face_locations(img)
    fallback = not locs
    if fallback:
        s = int(0.5 * min(w, h))
        locs = [((h - s) // 2, (w + s) // 2, (h + s) // 2, (w - s) // 2)]
    else:
        locs = [min(locs, key=lambda l: ((l[1] + l[3]) / 2 - w / 2) ** 2 + ((l[0] + l[2]) / 2 - h / 2) ** 2)]
    return fr.face_encodings(img, locs)[0], fallback


# --- faceprint ------------------------------------------------------------------
def fp_throughput(engine, files: list[Path]) -> tuple[float, int]:  # noqa: ANN001
    list(engine.analyze_many(files[: engine.workers * 2]))  # warm-up
    t = time.perf_counter()
    faces = sum(len(r) for r in engine.analyze_many(files) if not isinstance(r, Exception))
    return len(files) / (time.perf_counter() - t), faces


def fp_stages(engine, files: list[Path]) -> dict[str, float]:  # noqa: ANN001
    from faceprint.analysis.embed import align_all
    from faceprint.analysis.quality import quality_measures

    # Each face is aligned once, as Analyzer.analyze does; "detect" includes the
    # quality measures (size, sharpness, brightness, the face mesh's pose) that detection returns.
    ms: dict[str, list[float]] = {"decode": [], "detect": [], "align": [], "embed": []}
    emb = engine.analyzer.embedder
    for f in files:
        t0 = time.perf_counter()
        img = engine.load(f)
        t1 = time.perf_counter()
        faces = engine.analyzer.detector.detect(img)
        t2 = time.perf_counter()
        crops = align_all(img, faces)
        t3 = time.perf_counter()
        [quality_measures(c, box, engine.analyzer.pose(img, box, lm)) for c, box, lm in zip(crops, faces.xyxy, faces.landmarks)]
        t4 = time.perf_counter()
        emb.embed(img, faces, crops)
        t5 = time.perf_counter()
        stages = {"decode": t1 - t0, "detect": (t2 - t1) + (t4 - t3), "align": t3 - t2, "embed": t5 - t4}
        for k, seconds in stages.items():
            ms[k].append(seconds * 1000)
    return {k: statistics.mean(v) for k, v in ms.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    ap.add_argument("--images", type=int, default=300, help="one-face LFW images for throughput")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds per system")
    ap.add_argument("--skip-lfw", action="store_true")
    args = ap.parse_args()
    if not (DATA / "lfw").is_dir():
        sys.exit(f"the shared data is not at {DATA}; set FACEPRINT_DATA")
    import faceprint as fp
    from faceprint.eval import verify as verify_mod
    from faceprint.eval.embeddings import default_cache_dir

    cpus = os.cpu_count() or 1
    engines = {"faceprint fast": fp.Engine("fast"), "faceprint accurate": fp.Engine("accurate")}
    single, multi = one_face_images(args.images, engines["faceprint fast"]), multi_face_images() * 3
    print(f"{len(single)} one-face images, {len(multi) // 3} multi-face images, {cpus} cores", flush=True)
    systems = {
        "face_recognition": lambda files: fr_throughput(files, cpus),
        **{name: (lambda files, e=e: fp_throughput(e, files)) for name, e in engines.items()},
    }
    # The systems take turns, round after round, so a slow spell of a shared machine
    # falls on all of them instead of on whichever happened to run then.
    rates: dict[str, dict[str, list[float]]] = {n: {"one": [], "multi": []} for n in systems}
    faces_found: dict[str, int] = {}
    for r in range(args.rounds):
        for name, run in systems.items():
            rates[name]["one"].append(run(single)[0])
            rate, faces = run(multi)
            rates[name]["multi"].append(rate)
            faces_found[name] = faces // 3
        print(f"round {r + 1}:", {n: round(v["one"][-1], 1) for n, v in rates.items()}, flush=True)
    base = rates["face_recognition"]
    results: dict[str, dict] = {}
    for name, v in rates.items():
        results[name] = {
            "one_face_img_s": statistics.median(v["one"]),
            "multi_face_img_s": statistics.median(v["multi"]),
            "one_face_rounds": v["one"],
            "multi_face_rounds": v["multi"],
            "multi_faces_found": faces_found[name],
            # each round's ratio against face_recognition's run in the same round
            "speedup_one_face_rounds": [a / b for a, b in zip(v["one"], base["one"])],
            "speedup_multi_face_rounds": [a / b for a, b in zip(v["multi"], base["multi"])],
        }
        results[name]["speedup_one_face"] = statistics.median(results[name]["speedup_one_face_rounds"])
        results[name]["speedup_multi_face"] = statistics.median(results[name]["speedup_multi_face_rounds"])
    results["face_recognition"]["stages_ms"] = fr_stages(single[:60])
    for name, engine in engines.items():
        with engine:
            results[name]["embedder"] = engine.embedder_name
            results[name]["stages_ms"] = fp_stages(engine, single[:60])
            if not args.skip_lfw:
                r = verify_mod.lfw(engine, DATA / "lfw", cache_dir=default_cache_dir())
                results[name]["lfw"] = {"accuracy": r["accuracy"], "accuracy_std": r["accuracy_std"], "tar_at_far_0.001": r["tar_at_far"]["0.001"], "no_face": r["no_face"]}
    if not args.skip_lfw:
        results["face_recognition"]["lfw"] = fr_lfw(default_cache_dir() / "face_recognition-lfw.npz")
    machine = f"{platform.processor() or platform.machine()}, {cpus} cores, Python {platform.python_version()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peer.json").write_text(json.dumps({"machine": machine, "one_face_images": len(single), "rounds": args.rounds, "results": results}, indent=2))
    (args.out / "peer.md").write_text(render(results, machine, len(single), args.rounds))
    print(render(results, machine, len(single), args.rounds))


def render(results: dict[str, dict], machine: str, images: int, rounds: int) -> str:
    head = "| system | one-face img/s | multi-face img/s | speed-up (rounds) | decode ms | detect ms | align ms | embed ms | LFW acc | TAR@FAR1e-3 | no face |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    rows = []
    for name, r in results.items():
        st, lfw = r["stages_ms"], r.get("lfw", {})
        rows.append(
            f"| {name} | {r['one_face_img_s']:.1f} | {r['multi_face_img_s']:.2f} | {r['speedup_one_face']:.1f}x / {r['speedup_multi_face']:.1f}x "
            f"({' '.join(f'{x:.1f}' for x in r['speedup_one_face_rounds'])}) | "
            f"{st['decode']:.1f} | {st['detect']:.1f} | {st['align']:.2f} | {st['embed']:.1f} | "
            f"{lfw.get('accuracy', float('nan')) * 100:.2f}% | {lfw.get('tar_at_far_0.001', float('nan')) * 100:.2f}% | {lfw.get('no_face', 'n/a')} |"
        )
    note = (
        f"Machine: {machine}. {images} LFW images in which both detectors find exactly one face, and 8 multi-face photos "
        f"(each run 3 times). The systems take turns for {rounds} rounds; rates are medians, and each speed-up is the median "
        "of the per-round ratios against face_recognition's run in the same round (one-face ratios per round in brackets).\n\n"
    )
    return note + head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
