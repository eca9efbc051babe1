"""The command line end to end, as users run it: whole processes, start-up included.

A 120-photo identification job: ``faceprint identify --gallery TRAIN PROBES`` against
``face_recognition TRAIN PROBES`` (its command line, all cores), where TRAIN is
face_recognition's knn_examples/train (the people to recognise) and PROBES is a folder
of 120 LFW photos, taken at an even stride. The two take turns for several rounds, so
a slow spell of this shared machine falls on both; the speed-up is the median of the
per-round ratios. Also timed: ``faceprint --help`` and a one-photo job (start-up
dominates both).

    .venv/bin/python benchmarks/cli_end_to_end.py [--rounds 3] [--photos 120]

Results: bench-output/cli_end_to_end.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
TRAIN = DATA / "people" / "face_recognition" / "examples" / "knn_examples" / "train"
BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({done.returncode}): {done.stderr[-500:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--out", type=Path, default=REPO / "bench-output")
    args = ap.parse_args()
    files = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))
    if not files or not TRAIN.is_dir():
        sys.exit(f"the shared data is not at {DATA}; set FACEPRINT_DATA")
    picked = files[:: max(1, len(files) // args.photos)][: args.photos]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        probes = Path(tmp) / "probes"
        probes.mkdir()
        for f in picked:  # one folder of photos, as a user would point both tools at
            (probes / f.name).symlink_to(f)
        one = str(picked[0])
        jobs = {
            "faceprint identify, 120 photos": [str(BIN / "faceprint"), "identify", "--gallery", str(TRAIN), str(probes)],
            "face_recognition, 120 photos": [str(BIN / "face_recognition"), "--cpus", str(os.cpu_count() or 1), str(TRAIN), str(probes)],
            "faceprint identify, 1 photo": [str(BIN / "faceprint"), "identify", "--gallery", str(TRAIN), one],
            "face_recognition, 1 photo": [str(BIN / "face_recognition"), str(TRAIN), one],
            "faceprint --help": [str(BIN / "faceprint"), "--help"],
        }
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for r in range(args.rounds):
            for name, cmd in jobs.items():
                times[name].append(timed(cmd))
            print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in jobs), flush=True)
    ratios = [fr / fp for fr, fp in zip(times["face_recognition, 120 photos"], times["faceprint identify, 120 photos"])]
    ratios_one = [fr / fp for fr, fp in zip(times["face_recognition, 1 photo"], times["faceprint identify, 1 photo"])]
    result = {
        "machine": machine(),
        "photos": len(picked),
        "gallery": str(TRAIN.relative_to(DATA)),
        "seconds": times,
        "median_s": {n: statistics.median(v) for n, v in times.items()},
        "speed_up_120": statistics.median(ratios),
        "speed_up_120_rounds": ratios,
        "speed_up_1": statistics.median(ratios_one),
        "elapsed_s": time.perf_counter() - began,
    }
    lines = [
        f"## The command line end to end ({result['machine']['cpu']}, {os.cpu_count()} cores, commit {result['machine']['commit']})",
        "",
        f"Whole processes, start-up included, {args.rounds} rounds taken in turns; gallery: face_recognition's knn_examples/train; probes: {len(picked)} LFW photos.",
        "",
        "| command | median s | each round |",
        "|---|---|---|",
    ]
    lines += [f"| `{n}` | {result['median_s'][n]:.2f} | {', '.join(f'{t:.2f}' for t in v)} |" for n, v in times.items()]
    lines += ["", f"faceprint is **{result['speed_up_120']:.1f}x** face_recognition on the 120-photo job (median of per-round ratios: {', '.join(f'{x:.1f}' for x in ratios)}) and {result['speed_up_1']:.1f}x on one photo.", ""]
    write_results(result, args.out, "cli_end_to_end", "\n".join(lines))


if __name__ == "__main__":
    main()
