"""How the region calibration's settings were chosen, without touching the measure split.

Regions are fitted on LFW plus one half of UTKFace's ``fit`` split and judged on the
other half: per race x age group (0-17, 18-59, 60+) and adult race x gender group,
the worst false-match rate over the nominal one at 1e-3 and 1e-4, plus LFW View 2
accuracy and TAR at FAR 1e-3 on the calibrated similarity. Each setting is fitted
with two k-means seeds.

    .venv/bin/python benchmarks/fairness_select.py [--regions 16,32,48,64] [--temperatures 0,0.03]

Results: bench-output/fairness_select.{json,md}. Fast mode only (the shipped accurate
regions use the settings chosen here).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

import faceprint  # noqa: E402
from faceprint.eval.calibrate import MIN_TAIL_SHARE, fit_regions  # noqa: E402
from faceprint.eval.datasets import lfw_pairs  # noqa: E402
from faceprint.eval.embeddings import default_cache_dir, embed_files  # noqa: E402
from faceprint.eval.fairness import RegionPairCalibration, measure  # noqa: E402
from faceprint.eval.fairness_labels import read_labels  # noqa: E402
from faceprint.eval.metrics import kfold_accuracy, tar_at_far  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
UTK = DATA / "fairness" / "utkface"
LFW = DATA / "lfw"
RATES = (1e-3, 1e-4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regions", default="16,24,32,48,64")
    ap.add_argument("--temperatures", default="0,0.03")
    ap.add_argument("--out", type=Path, default=REPO / "bench-output")
    args = ap.parse_args()
    began = time.perf_counter()
    with faceprint.Engine("fast") as engine:
        ps = lfw_pairs(LFW)
        lfw = embed_files(engine, ps.files, choose="centre", cache_dir=default_cache_dir(), progress=False).vectors
        labels = read_labels(UTK / "labels.csv", UTK, where={"split": "fit"}, bins={"age": (18, 60)})
        utk = embed_files(engine, labels.files, choose="largest", cache_dir=default_cache_dir(), progress=False)
        slope = MIN_TAIL_SHARE * engine.calibration.tail_slope
    usable = ~utk.failed & ~utk.no_face
    half = (np.random.default_rng(1).random(len(labels)) < 0.5) & usable
    held = labels.subset(~half & usable)
    vectors = np.concatenate([lfw, utk.vectors[half]])
    identities = np.array([f"lfw/{f.parent.name}" for f in ps.files] + [f"utk/{i}" for i in np.flatnonzero(half)])
    rows = []
    for k in [int(x) for x in args.regions.split(",")]:
        for temperature in [float(x) for x in args.temperatures.split(",")]:
            for seed in (0, 1):
                regions = fit_regions(vectors, identities, embedder="sface", contract="select", dataset="LFW + fit half", command="-", regions=k, temperature=temperature, seed=seed, min_tail_slope=slope)
                calibration = RegionPairCalibration(regions)
                rep = measure(utk.vectors[~half & usable], held, calibration, crosses=[("race", "age"), ("race", "gender", "age")], rates=RATES, reps=0)
                worst = []
                for i, rate in enumerate(RATES):
                    shown = [g.at[i].fmr for g in rep.groups if g.grouping in ("race x age", "race x gender x age") and g.at[i].fmr is not None and (g.grouping == "race x age" or g.name.endswith("18-59"))]
                    worst.append(max(shown) / rate)
                a, b, same = np.array(ps.a), np.array(ps.b), np.array(ps.same)
                scores = np.array([calibration.similarity(lfw[i : i + 1], lfw[j : j + 1])[0, 0] + 1e-6 * float(lfw[i] @ lfw[j]) for i, j in zip(a, b)])
                acc = float(kfold_accuracy(scores, same, np.array(ps.fold))[0])
                tar = float(tar_at_far(scores[same], scores[~same], 1e-3)[0])
                rows.append({"regions": k, "temperature": temperature, "seed": seed, "kept_regions": len(regions.tables), "worst_x_1e-3": round(worst[0], 2), "worst_x_1e-4": round(worst[1], 2), "lfw_accuracy": acc, "lfw_tar_1e-3": tar})
                print(rows[-1], flush=True)
    result = {"machine": machine(), "rows": rows, "elapsed_s": time.perf_counter() - began}
    lines = [f"## Choosing the region calibration's settings (held-out half of UTKFace's fit split; {result['machine']['cpu']})", "",
             "| regions | temperature | seed | worst group / nominal at 1e-3 | at 1e-4 | LFW accuracy | LFW TAR@FAR=1e-3 |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['regions']} | {r['temperature']} | {r['seed']} | {r['worst_x_1e-3']}x | {r['worst_x_1e-4']}x | {r['lfw_accuracy']:.2%} | {r['lfw_tar_1e-3']:.2%} |" for r in rows]
    lines += ["", "Groups: race x age (0-17, 18-59, 60+) and adult race x gender, where the held-out half has at least 1/rate pairs.", ""]
    write_results(result, args.out, "fairness_select", "\n".join(lines))


if __name__ == "__main__":
    main()
