"""Attribute validation (docs/attributes.md): eyes-open and mouth-open calls against the
hand labels in tests/data/attribute_labels.csv, and yaw against the mirror image on LFW.

    .venv/bin/python benchmarks/attributes.py [--mirror-faces 200]

Results: bench-output/attributes.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

import faceprint  # noqa: E402
from faceprint.analysis.attributes import EYES_OPEN_RATIO, MOUTH_OPEN_RATIO  # noqa: E402
from faceprint.eval.attributes import label_accuracy, mirror_agreement, read_labels  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror-faces", type=int, default=200, help="LFW images for the mirror test")
    args = ap.parse_args()
    labels = read_labels(REPO / "tests" / "data" / "attribute_labels.csv")
    lfw = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))
    began = time.perf_counter()
    with faceprint.Engine("fast", workers=1) as engine:
        result = {
            "machine": machine(),
            "labels": label_accuracy(engine, DATA, labels, {"eyes": EYES_OPEN_RATIO, "mouth": MOUTH_OPEN_RATIO}),
            "mirror": mirror_agreement(engine, lfw[3 :: max(1, len(lfw) // args.mirror_faces)][: args.mirror_faces]),
        }
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, REPO / "bench-output", "attributes", table(result))


def table(r: dict) -> str:  # type: ignore[type-arg]
    f = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    out = [
        f"## Attributes ({r['machine']['cpu']}, commit {r['machine']['commit']})",
        "",
        "Hand labels: tests/data/attribute_labels.csv (how they were chosen: docs/attributes.md).",
        "",
        "| attribute | labelled (open / closed) | shipped cut | accuracy | balanced accuracy | open called closed | closed called open | openness median: open / closed | cut the labels pick | two-fold balanced accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("eyes", "mouth"):
        a = r["labels"][name]
        out.append(
            f"| {name} open | {a['labelled']} ({a['open']} / {a['closed']}) | {a['cut']:.3f} | {f(a['accuracy'])} | {f(a['balanced_accuracy'])} | {a['open_called_closed']} | {a['closed_called_open']} "
            f"| {f(a['ratio_median_open'])} / {f(a['ratio_median_closed'])} | {f(a['cut_fitted_on_all'])} | {f(a['two_fold_balanced_accuracy'])} |"
        )
    m = r["mirror"]
    out += [
        "",
        f"Mirror test: {m['faces']} LFW faces (|yaw| median {f(m['abs_yaw_median'], 1)}, p90 {f(m['abs_yaw_p90'], 1)} degrees); error = |yaw + yaw of the mirrored image|, degrees.",
        "",
        "| estimate | median | p90 | max |",
        "|---|---|---|---|",
    ]
    for key, name in (("mesh_yaw", "head yaw, mesh (every Pose)"), ("five_point_yaw", "head yaw, five points (no longer reported)"), ("mesh_roll", "head roll, mesh"), ("gaze_yaw", "eye direction yaw")):
        e = m[key]
        if e:
            out.append(f"| {name} | {e['median']:.1f} | {e['p90']:.1f} | {e['max']:.1f} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
