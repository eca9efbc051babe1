"""`make bench`: every measurement the README quotes, written to bench-output/ and
summarised in docs/benchmarks.md (``--engine-only``: just what depends on the
embedders; ``--doc-only``: just the doc, from the results already there). Slow (about half an hour on 2 cores the first time;
embeddings are cached in ~/.cache/faceprint/eval, so reruns are fast), plus the search
benchmarks (vector_index.py, gallery_scale.py: about 27 minutes more, see docs/search.md)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output"
DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
BIN = Path(sys.executable).parent
# (row label, engine options): each single model, then the two operating points
CONFIGS = [
    ("sface.2021dec = fast (default)", ["--embedder", "sface.2021dec"]),
    ("sface.2021dec+flip", ["--embedder", "sface.2021dec+flip"]),
    ("dlib.resnet_v1", ["--embedder", "dlib.resnet_v1"]),
    ("accurate: fusion.sface-flip+dlib", ["--accurate"]),
]


def faceprint(*args: str) -> dict:
    print("$ faceprint", " ".join(args), flush=True)
    out = subprocess.run([str(BIN / "faceprint"), *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    if "--doc-only" in sys.argv:
        # rebuild docs/benchmarks.md from the results already in bench-output/
        load = lambda name: json.loads((OUT / name).read_text())  # noqa: E731
        write_doc(load("lfw.json"), load("detect.json"), load("identify.json"), (OUT / "peer.md").read_text(), load("sface_runtime.json"), search_section() + service_section())
        return
    if not (DATA / "lfw").is_dir():
        sys.exit(f"the shared data is not at {DATA}; set FACEPRINT_DATA")
    OUT.mkdir(exist_ok=True)
    lfw = {label: faceprint("eval", "verify", "--lfw", str(DATA / "lfw"), "--groups", str(DATA / "lfw" / "gender.csv"), *opts) for label, opts in CONFIGS}
    (OUT / "lfw.json").write_text(json.dumps(lfw, indent=2))
    if "--engine-only" in sys.argv:
        # after a change to the embedders: the measurements that depend on them (LFW,
        # identification, SFace's runtime, the peer benchmark); the rest stays as it was
        load = lambda name: json.loads((OUT / name).read_text())  # noqa: E731
        ident = {label: faceprint("eval", "identify", str(DATA / "people/face_recognition/examples/knn_examples/train"), *opts) for label, opts in (CONFIGS[0], CONFIGS[3])}
        (OUT / "identify.json").write_text(json.dumps(ident, indent=2))
        for script in ("sface_runtime.py", "peer.py"):
            subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--out", str(OUT)], check=True)
        write_doc(lfw, load("detect.json"), ident, (OUT / "peer.md").read_text(), load("sface_runtime.json"), search_section() + service_section())
        return
    coco = OUT / "dlib_faces.coco.json"
    faces_dir = DATA / "detection/dlib_faces"
    subprocess.run([str(BIN / "faceprint"), "eval", "dlib-to-coco", str(faces_dir / "training.xml"), str(faces_dir / "testing.xml"), "--out", str(coco)], check=True, capture_output=True)
    det = {
        "fast": faceprint("eval", "detect", "--coco", str(coco), "--images", str(DATA / "detection/dlib_faces")),
        "accurate": faceprint("eval", "detect", "--coco", str(coco), "--images", str(DATA / "detection/dlib_faces"), "--accurate"),
    }
    (OUT / "detect.json").write_text(json.dumps(det, indent=2))
    knn = DATA / "people/face_recognition/examples/knn_examples/train"
    ident = {label: faceprint("eval", "identify", str(knn), *opts) for label, opts in (CONFIGS[0], CONFIGS[3])}
    (OUT / "identify.json").write_text(json.dumps(ident, indent=2))
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "sface_runtime.py"), "--out", str(OUT)], check=True)
    sface = json.loads((OUT / "sface_runtime.json").read_text())
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "peer.py"), "--out", str(OUT)], check=True)
    peer = (OUT / "peer.md").read_text()
    # search at scale (docs/search.md explains both)
    for script in ("vector_index.py", "gallery_scale.py"):
        subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--out", str(OUT)], check=True)
    # the HTTP service under load (about 8 minutes), a 10,000-request fuzz run, video (5
    # minutes), attribute validation (a minute)
    # per-group false-match rates before and after the region calibration (fairness.py:
    # UTKFace and LFW by gender, both modes, watch lists) and how its settings were chosen
    # and the command line end to end against face_recognition's (whole processes)
    for script in ("service_load.py", "fuzz_api.py", "video_realtime.py", "attributes.py", "liveness.py", "fairness.py", "fairness_select.py", "cli_end_to_end.py"):
        subprocess.run([sys.executable, str(REPO / "benchmarks" / script)], check=True)
    write_doc(lfw, det, ident, peer, sface, search_section() + service_section())


def search_section() -> str:
    """The scale table from gallery_scale.py and the headline of vector_index.py, if
    they have been run (an older bench-output/ without them still makes the doc)."""
    scale, index = OUT / "gallery_scale.json", OUT / "vector_index.json"
    if not scale.is_file():
        return ""
    lines = ["## Search at scale (face-like galleries through the store)", "",
             "How search works, what the galleries are made of and how 10M is estimated: [search.md](search.md). "
             "The search step is timed after the probe is embedded (detection and embedding: the table above).", "",
             (OUT / "gallery_scale.md").read_text() if (OUT / "gallery_scale.md").is_file() else ""]
    if index.is_file():
        vi = json.loads(index.read_text())
        big = vi["sizes"][max(vi["sizes"], key=int)]
        rows = [r for r in big["rows"] if "(product)" in r["setting"] or r["candidate"].startswith("exact")]
        lines += [f"Index candidates at {int(max(vi['sizes'], key=int)):,} faces (all of them: bench-output/vector_index.md and search.md), exact search and the store's setting:", "",
                  "| candidate | setting | p50 ms | p99 ms | true-mate recall |", "|---|---|---|---|---|"]
        lines += [f"| {r['candidate']} | {r['setting']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['mate_recall'] * 100:.2f}% |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def service_section() -> str:
    """The HTTP service's load table and fuzz summary, if they have been run."""
    lines = [""]
    if (OUT / "service_load.md").is_file():
        lines += ["## HTTP service load", "", "`benchmarks/service_load.py`; what limits it: [api.md](api.md#load).", "", (OUT / "service_load.md").read_text()]
    if (OUT / "fuzz_api.json").is_file():
        fuzz = json.loads((OUT / "fuzz_api.json").read_text())
        by = lambda d: ", ".join(f"{k} {v:,}" for k, v in sorted(d.items(), key=lambda kv: -kv[1]))  # noqa: E731
        lines += [
            "## HTTP service fuzzing",
            "",
            f"`benchmarks/fuzz_api.py` (tests/api/test_fuzz.py): {fuzz['requests']:,} requests in {fuzz['elapsed_s']:.0f} s, "
            f"{fuzz['envelope_faults']:,} of them with a broken envelope; {fuzz['failures']} failures; server healthy after: {fuzz['healthy_after']}.",
            "",
            f"- by status: {by(fuzz['statuses'])}",
            f"- by answer: {by(fuzz['codes'])}",
            "",
        ]
    if (OUT / "video_realtime.md").is_file():
        lines += ["<a id=\"video-real-time\"></a>", "", (OUT / "video_realtime.md").read_text(), ""]
    if (OUT / "attributes.md").is_file():
        lines += ["<a id=\"attributes\"></a>", "", (OUT / "attributes.md").read_text(), ""]
    if (OUT / "liveness.md").is_file():
        lines += ["<a id=\"liveness\"></a>", "", (OUT / "liveness.md").read_text(), ""]
    if (OUT / "fairness.md").is_file():
        lines += ["<a id=\"fairness\"></a>", "", (OUT / "fairness.md").read_text(), ""]
    if (OUT / "cli_end_to_end.md").is_file():
        lines += ["<a id=\"cli-end-to-end\"></a>", "", (OUT / "cli_end_to_end.md").read_text(), ""]
    if (OUT / "fairness_select.md").is_file():
        lines += ["<a id=\"fairness-select\"></a>", "", (OUT / "fairness_select.md").read_text(), ""]
    return "\n".join(lines)


def write_doc(lfw: dict, det: dict, ident: dict, peer: str, sface: dict, search: str = "") -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (benchmarks/run_all.py) on {machine}. Raw results: bench-output/*.json.",
        "",
        "## LFW View 2 (6,000 pairs, 10-fold)",
        "",
        "| model | accuracy | std | TAR@FAR=1e-2 | TAR@FAR=1e-3 | no face (fallback) | female FMR / FNMR | male FMR / FNMR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e, r in lfw.items():
        g = r.get("groups", {})
        fm = g.get("female", {})
        ma = g.get("male", {})
        lines.append(
            f"| {e} | {r['accuracy'] * 100:.2f}% | {r['accuracy_std'] * 100:.2f} | {r['tar_at_far']['0.01'] * 100:.2f}% | {r['tar_at_far']['0.001'] * 100:.2f}% | {r['no_face']} | "
            f"{fm.get('fmr', float('nan')):.4f} / {fm.get('fnmr', float('nan')):.4f} | {ma.get('fmr', float('nan')):.4f} / {ma.get('fnmr', float('nan')):.4f} |"
        )
    lines += ["", "Per-gender rates are at the threshold that gives FAR 1e-3 over all pairs; a pair counts for a group when both images carry its label.", ""]
    lines += ["## Detection (dlib's hand-labelled PASCAL VOC faces, training.xml + testing.xml: 9 images, 43 faces; IoU 0.5)", "", "| mode | recall | AP | recall <32 px | 32-96 px | >=96 px |", "|---|---|---|---|---|---|"]
    for m, r in det.items():
        s = r["recall_by_size"]
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {m} | {r['recall_iou50']:.3f} | {r['ap_iou50']:.3f} | {fmt(s['small_lt32'])} | {fmt(s['medium_32_96'])} | {fmt(s['large_ge96'])} |")
    lines += ["", "## Identification (face_recognition's knn_examples/train: gallery = first image per person)", "", "| model | rank-1 | rank-5 | FNIR@FPIR=0.01 |", "|---|---|---|---|"]
    for e, r in ident.items():
        lines.append(f"| {e} | {r['rank1']:.3f} | {r['rank5']:.3f} | {r['fnir_at_fpir']['0.01']:.3f} |")
    lines += ["", f"## SFace runtime, one face ({sface['machine']})", "", "| runtime | ms per face |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in sface["ms_per_face"].items()]
    lines += ["", "## Against face_recognition (same images, all cores)", "",
              "face_recognition runs as its CLI does with `--cpus`: one process per core, HOG detector, "
              "5-point landmarks, ResNet, no jitter. faceprint runs its engine's worker pool. "
              "Stage times are single-threaded means over 60 LFW images.", "", peer]
    if search:
        lines += ["", search]
    (REPO / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    print((REPO / "docs" / "benchmarks.md").read_text())


if __name__ == "__main__":
    main()
