"""False-match rates per demographic group at the calibrated thresholds (issue 15):
UTKFace's measure split (race, gender, age; no identities, so FMR only) and LFW by
gender (FMR and FNMR), in fast and accurate mode, with the shipped global calibration.

    .venv/bin/python benchmarks/fairness.py [--modes fast,accurate] [--reps 1000]

The same numbers come from ``faceprint eval fairness`` (the commands are in the
output). Embeddings are cached in ~/.cache/faceprint/eval, so a rerun takes seconds
plus the bootstrap. Results: bench-output/fairness.{json,md}.
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
from faceprint.eval.embeddings import default_cache_dir  # noqa: E402
from faceprint.eval.fairness import FairnessReport, evaluate, rate_label  # noqa: E402
from faceprint.eval.fairness_labels import read_labels  # noqa: E402
from faceprint.eval.fairness_report import fmr_cell, group_tables, header, summary_table, times  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
UTK = DATA / "fairness" / "utkface"
LFW = DATA / "lfw"


def runs() -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """(name, the equivalent command, read_labels and evaluate arguments)."""
    return [
        (
            "utkface",
            "faceprint eval fairness UTKFACE --where split=measure",
            dict(csv=UTK / "labels.csv", root=UTK, labels=dict(where={"split": "measure"}), run=dict(choose="largest")),
        ),
        (
            # the age bins of the issue's table: children, adults 18-59, 60+
            "utkface_issue_bins",
            "faceprint eval fairness UTKFACE --where split=measure --bins age=18,60 --cross race:age",
            dict(csv=UTK / "labels.csv", root=UTK, labels=dict(where={"split": "measure"}, bins={"age": (18, 60)}), run=dict(choose="largest", crosses=[("race", "age")])),
        ),
        (
            "lfw_gender",
            "faceprint eval fairness LFW --groups LFW/gender.csv --by gender --choose centre",
            dict(csv=LFW / "gender.csv", root=LFW, labels=dict(by=["gender"]), run=dict(choose="centre")),
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default="fast,accurate", help="comma-separated: fast, accurate")
    ap.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--out", type=Path, default=REPO / "bench-output")
    args = ap.parse_args()
    if not UTK.is_dir() or not LFW.is_dir():
        sys.exit(f"the shared data is not at {DATA}; set FACEPRINT_DATA")
    began = time.perf_counter()
    result: dict = {"machine": machine(), "reps": args.reps, "modes": {}}  # type: ignore[type-arg]
    reports: dict[str, dict[str, FairnessReport]] = {}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        with faceprint.Engine(mode) as engine:
            for name, command, spec in runs():
                t0 = time.perf_counter()
                labels = read_labels(spec["csv"], spec["root"], **spec["labels"])
                rep = evaluate(engine, labels, reps=args.reps, cache_dir=default_cache_dir(), progress=True, **spec["run"])
                rep.settings["command"] = command + (" --accurate" if mode == "accurate" else "")
                rep.settings["seconds"] = round(time.perf_counter() - t0, 1)
                reports.setdefault(mode, {})[name] = rep
                result["modes"].setdefault(mode, {})[name] = rep.to_dict()
                print(f"{mode} {name}: {rep.settings['seconds']} s", flush=True)
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, args.out, "fairness", markdown(reports, result["machine"]))


def headline(rep: FairnessReport, rows: list[tuple[str, str]]) -> list[str]:
    """The issue's rows: chosen groups at each nominal threshold."""
    out = []
    for grouping, name in rows:
        try:
            g = rep.group(grouping, name)
        except KeyError:
            continue
        cells = " | ".join(f"{fmr_cell(r)} | {times(r.times_nominal)}" for r in g.at)
        label = "all" if grouping == "all" else f"{grouping}: {name}"
        out.append(f"| {label} | {g.images:,} | {g.impostor_pairs:,} | {cells} |")
    return out


def markdown(reports: dict[str, dict[str, FairnessReport]], mach: dict) -> str:  # type: ignore[type-arg]
    lines = [f"## Fairness: false-match rate per group at the calibrated thresholds ({mach['cpu']}, commit {mach['commit']})", ""]
    issue_rows = [("all", "all")] + [("race x age", f"{race} / {age}") for age in ("0-17", "18-59", "60+") for race in ("White", "Black", "Asian", "Indian", "Others")]
    for mode, by_name in reports.items():
        issue = by_name.get("utkface_issue_bins")
        if issue is not None:
            rates = " | ".join(f"FMR at {rate_label(r)} (95% CI) | x {rate_label(r)}" for r in issue.rates)
            lines += [f"### {mode} mode: the issue's table (UTKFace measure split, race x age 0-17 / 18-59 / 60+)", "", f"| group | images | pairs | {rates} |", "|" + "---|" * (3 + 2 * len(issue.rates))]
            lines += headline(issue, issue_rows) + [""]
        for name, rep in by_name.items():
            if name == "utkface_issue_bins":
                continue
            lines += [f"### {mode} mode: {name}", "", f"`{rep.settings['command']}` ({rep.settings['seconds']} s)", "", "```", header(rep), "```", "",
                      f"no face found: {rep.settings['no_face_images']} images (left out); unreadable: {rep.settings['unreadable_images']}", "",
                      "Worst and best group of each grouping:", "", summary_table(rep), "", group_tables(rep), ""]
    lines += ["Same-group impostor pairs: both images in the group, different people (UTKFace has no identities: every pair of its images is taken as an impostor pair). "
              "Intervals: bootstrap over images (UTKFace) or identities (LFW), not pairs. n/a: too few pairs to show the rate.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
