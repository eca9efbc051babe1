"""The watcher's speed on both videos, this working tree against git revisions, in one
sitting: was a restructuring free?

    .venv/bin/python benchmarks/video_compare.py --baseline REV[,REV...] [--rounds 3]

Each revision is checked out into a temporary worktree and runs in its own process
(``PYTHONPATH`` at its ``src``), with this tree's run last in each round, so a slow
spell of this shared machine falls on all of them alike. Every process opens a copy of
one store built once by this tree (the ``watch`` gallery of benchmarks/video_realtime.py:
Lin-Manuel Miranda and ``--gallery`` LFW faces) and runs one watcher per video,
unpaced (as fast as it goes) at the default working width and similarity 50, per-track
decisions: the "unpaced" rows of video_realtime.py. Reported per revision: the median
over rounds of each video's wall time, its speed against real time (x1.0 keeps up with
a live camera) and its cores busy, with the alerts as a check that the work is the same.

Results: bench-output/video_compare.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

# Run inside each revision's process: only names that every revision since the watcher
# was written has (Service, Watcher, VideoSource, WatchSettings and its first field).
PROBE = r"""
import inspect, json, os, resource, sys, time
from pathlib import Path
import faceprint
from faceprint.video import MemorySink, VideoSource, Watcher, WatchSettings

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

home, collection, videos = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
fields = inspect.signature(WatchSettings).parameters
bar = "min_similarity" if "min_similarity" in fields else "threshold"  # renamed in issue 16
out = {}
with faceprint.Service(home, purge_every_s=None) as svc:
    svc.engine.analyzer.warm_up() if hasattr(svc.engine.analyzer, "warm_up") else None
    for name, path in videos.items():
        sink = MemorySink("collect")
        watcher = Watcher(svc, VideoSource(Path(path), pace=False), WatchSettings(collection, **{bar: 50.0}), [sink], name=name)
        c0, t0 = cpu(), time.perf_counter()
        watcher.run()
        wall = time.perf_counter() - t0
        sink.close()
        out[name] = {"wall_s": wall, "cores_busy": (cpu() - c0) / wall, "frames": watcher.stats.frames_analyzed, "alerts": sorted(a.external_image_id or "" for a in sink.alerts)}
print("RESULT " + json.dumps(out))
"""


def worktree(rev: str, root: Path) -> Path:
    path = root / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(path), rev], check=True, capture_output=True)
    return path


def run_probe(src: Path, home: Path, videos: dict[str, str]) -> dict[str, dict]:
    scratch = Path(tempfile.mkdtemp(prefix="fp-video-compare-"))
    try:
        copy = scratch / "store"
        shutil.copytree(home, copy)  # every run starts from the same store
        env = {**os.environ, "PYTHONPATH": str(src), "FACEPRINT_HOME": str(copy)}
        done = subprocess.run([sys.executable, "-c", PROBE, str(copy), "watch", json.dumps(videos)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the probe failed under {src}: {done.stderr[-1500:]}")
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
        return json.loads(line[len("RESULT ") :])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_store(home: Path, gallery: int) -> int:
    import faceprint
    from video_realtime import KNOWN, KNOWN_ID, build, lfw_faces

    with faceprint.Service(home, purge_every_s=None) as svc:
        return build(svc, "watch", [(KNOWN_ID, KNOWN), *lfw_faces(gallery)])


def main() -> None:
    from video_realtime import VIDEOS, video_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="git revisions (comma-separated) to compare with this tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gallery", type=int, default=200, help="LFW faces beside Lin-Manuel in the watch list")
    ap.add_argument("--out", type=Path, default=REPO / "bench-output")
    args = ap.parse_args()
    missing = [str(p) for p in VIDEOS.values() if not p.is_file()]
    if missing:
        sys.exit(f"the shared data is missing {missing}; set FACEPRINT_DATA")
    videos = {k: str(v) for k, v in VIDEOS.items()}
    info = {k: video_info(v) for k, v in VIDEOS.items()}
    began = time.perf_counter()
    revs = [r.strip() for r in args.baseline.split(",") if r.strip()]
    root = Path(tempfile.mkdtemp(prefix="fp-revs-"))
    try:
        home = root / "store"
        indexed = build_store(home, args.gallery)
        sources = {rev: worktree(rev, root) / "src" for rev in revs}
        sources["this tree"] = REPO / "src"
        runs: dict[str, list[dict]] = {name: [] for name in sources}
        for r in range(args.rounds):
            for name, src in sources.items():
                runs[name].append(run_probe(src, home, videos))
                print(f"round {r + 1}: {name}: " + ", ".join(f"{v} {runs[name][-1][v]['wall_s']:.2f} s" for v in videos), flush=True)
    finally:
        for rev in revs:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(root / rev.replace("/", "_"))], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for name, results in runs.items():
        for video in videos:
            walls = [x[video]["wall_s"] for x in results]
            wall = statistics.median(walls)
            rows.append(
                {
                    "revision": name,
                    "video": video,
                    "wall_s": round(wall, 3),
                    "each_round_s": [round(w, 2) for w in walls],
                    "x_real_time": round(float(info[video]["duration_s"]) / wall, 2),
                    "cores_busy": round(statistics.median(x[video]["cores_busy"] for x in results), 2),
                    "frames": results[0][video]["frames"],
                    "alerts": results[0][video]["alerts"],
                }
            )
    result = {"machine": machine(), "elapsed_s": time.perf_counter() - began, "rounds": args.rounds, "gallery_faces": indexed, "videos": info, "rows": rows}
    lines = [
        f"Watcher, unpaced, similarity 50, per-track decisions; watch list of {indexed} faces; {args.rounds} rounds in turns; medians.",
        "",
        "| revision | video | wall s | each round | x real time | cores busy | frames | alerts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        alerts = ", ".join(sorted(set(row["alerts"]))) or "none"
        lines.append(f"| {row['revision']} | {row['video']} | {row['wall_s']:.2f} | {', '.join(map(str, row['each_round_s']))} | {row['x_real_time']:.2f} | {row['cores_busy']} | {row['frames']} | {len(row['alerts'])} ({alerts}) |")
    write_results(result, args.out, "video_compare", "\n".join(lines))


if __name__ == "__main__":
    main()
