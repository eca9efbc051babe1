"""False-match rates per demographic group (issue 15), before and after the region
calibration: UTKFace's measure split (race, gender, age; no identities, so FMR only)
and LFW by gender (FMR and FNMR), fast and accurate mode; LFW accuracy and TAR under
both; and the watch-list test (enrol half of a group, search the other half: how
many strangers are named).

    .venv/bin/python benchmarks/fairness.py [--modes fast,accurate] [--reps 1000]

"before" is the single global table measured on LFW (``faceprint eval fairness ...
--calibration global``); "after" is what the engine decides with, its region
calibration (the default). Embeddings are cached in ~/.cache/faceprint/eval, so a
rerun takes seconds plus the bootstrap. Results: bench-output/fairness.{json,md}.
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
from faceprint.eval.datasets import lfw_pairs  # noqa: E402
from faceprint.eval.embeddings import default_cache_dir, embed_files  # noqa: E402
from faceprint.eval.fairness import FairnessReport, GlobalCalibration, PairCalibration, default_calibration, evaluate, rate_label  # noqa: E402
from faceprint.eval.fairness_labels import link_same_person, read_labels  # noqa: E402
from faceprint.eval.fairness_report import fmr_cell, group_tables, header, summary_table, times  # noqa: E402
from faceprint.eval.metrics import kfold_accuracy, tar_at_far  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
UTK = DATA / "fairness" / "utkface"
LFW = DATA / "lfw"
CALIBRATIONS = ("before", "after")
# the issue's watch lists: a group of the measure split, enrolled half and searched half
WATCH_LISTS = [("Asian", "0-17"), ("Indian", "0-17"), ("White", "0-17"), ("Indian", "18-59"), ("White", "18-59"), ("Others", "18-59")]
DEFAULT_SIMILARITY = 40.0
SAME_PERSON = REPO / "benchmarks" / "data" / "utkface_same_person.csv"


def runs() -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """(name, the equivalent command, read_labels and evaluate arguments)."""
    return [
        (
            # the issue's age bins: children, adults 18-59, 60+; and adult race x gender
            "utkface",
            "faceprint eval fairness UTKFACE --where split=measure --bins age=18,60 --cross race:age,race:gender:age",
            dict(csv=UTK / "labels.csv", root=UTK, labels=dict(where={"split": "measure"}, bins={"age": (18, 60)}), run=dict(choose="largest", crosses=[("race", "age"), ("race", "gender", "age")])),
        ),
        (
            # the same, with the pairs found by eye to be one person taken as one (benchmarks/data/README.md)
            "utkface_same_person",
            "faceprint eval fairness UTKFACE --where split=measure --bins age=18,60 --cross race:age,race:gender:age --same-person benchmarks/data/utkface_same_person.csv",
            dict(csv=UTK / "labels.csv", root=UTK, labels=dict(where={"split": "measure"}, bins={"age": (18, 60)}), same_person=SAME_PERSON, run=dict(choose="largest", crosses=[("race", "age"), ("race", "gender", "age")])),
        ),
        (
            "lfw_gender",
            "faceprint eval fairness LFW --groups LFW/gender.csv --by gender --choose centre",
            dict(csv=LFW / "gender.csv", root=LFW, labels=dict(by=["gender"]), run=dict(choose="centre")),
        ),
    ]


def calibration_of(engine: faceprint.Engine, which: str) -> PairCalibration:
    return GlobalCalibration(engine.calibration) if which == "before" else default_calibration(engine)


def lfw_accuracy(engine: faceprint.Engine, calibration: PairCalibration) -> dict[str, float]:
    """LFW View 2 10-fold accuracy and TAR at FAR 1e-3 on the calibrated similarity
    (the score the product decides on; before, a monotone map of the cosine)."""
    ps = lfw_pairs(LFW)
    v = embed_files(engine, ps.files, choose="centre", cache_dir=default_cache_dir(), progress=False).vectors
    a, b, same = np.array(ps.a), np.array(ps.b), np.array(ps.same)
    if isinstance(calibration, GlobalCalibration):
        scores = np.einsum("ij,ij->i", v[a], v[b])  # before: the cosine itself (same order as its similarity)
    else:
        scores = np.array([calibration.similarity(v[i : i + 1], v[j : j + 1])[0, 0] + 1e-6 * float(v[i] @ v[j]) for i, j in zip(a, b)])
    acc, std, _ = kfold_accuracy(scores, same, np.array(ps.fold))
    return {"accuracy": float(acc), "accuracy_std": float(std), "tar_at_far_1e-3": float(tar_at_far(scores[same], scores[~same], 1e-3)[0])}


def refusals(engine: faceprint.Engine) -> dict:  # type: ignore[type-arg]
    """How many measure-split faces per race x age group no useful cosine can decide at
    similarity 30, 40 and 50 (FALSE_MATCH_RATE_UNREACHABLE), and what rating a pair costs."""
    labels = read_labels(UTK / "labels.csv", UTK, where={"split": "measure"}, bins={"age": (18, 60)})
    emb = embed_files(engine, labels.files, choose="largest", cache_dir=default_cache_dir(), progress=False)
    ok = ~emb.failed & ~emb.no_face
    groups = sorted({(r, a) for r, a in zip(labels.columns["race"], labels.columns["age"]) if r and a})
    out: dict = {"groups": {}}  # type: ignore[type-arg]
    for sim in (30.0, 40.0, 50.0):
        need = engine.bar(sim).thresholds(emb.vectors[ok])
        race = np.array(labels.columns["race"])[ok]
        age = np.array(labels.columns["age"])[ok]
        for r, a in groups:
            m = (race == r) & (age == a)
            out["groups"].setdefault(f"{r} {a}", {"faces": int(m.sum())})[f"refused_at_{sim:.0f}"] = int(np.isinf(need[m]).sum())
    v = emb.vectors[ok]
    pairs = [(v[i % len(v)], v[(i * 7 + 1) % len(v)]) for i in range(2000)]
    t0 = time.perf_counter()
    for a, b in pairs:
        engine.rate(float(a @ b), a, b, min_similarity=40.0)
    out["rate_us_per_pair"] = round((time.perf_counter() - t0) / len(pairs) * 1e6, 1)
    return out


def watch_lists(engine: faceprint.Engine, calibration: PairCalibration) -> list[dict]:  # type: ignore[type-arg]
    """For each group: enrol the first half of its measure-split images, search the
    second half (all strangers to the list) at the default threshold, count the named."""
    labels = read_labels(UTK / "labels.csv", UTK, where={"split": "measure"}, bins={"age": (18, 60)})
    emb = embed_files(engine, labels.files, choose="largest", cache_dir=default_cache_dir(), progress=False)
    ok = ~emb.failed & ~emb.no_face
    out = []
    for race, age in WATCH_LISTS:
        members = np.array([i for i in range(len(labels)) if ok[i] and labels.columns["race"][i] == race and labels.columns["age"][i] == age])
        half = len(members) // 2
        enrolled, probes = members[:half], members[half : 2 * half]
        sim = calibration.similarity(emb.vectors[probes], emb.vectors[enrolled])
        named = int((sim.max(axis=1) >= DEFAULT_SIMILARITY).sum())
        out.append({"group": f"{race} {age}", "enrolled": int(half), "strangers": int(len(probes)), "named": named,
                    "expected_at_nominal": round(len(probes) * (1 - (1 - 10 ** (-DEFAULT_SIMILARITY / 10)) ** half), 2)})
    return out


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
            for which in CALIBRATIONS:
                calibration = calibration_of(engine, which)
                for name, command, spec in runs():
                    t0 = time.perf_counter()
                    labels = read_labels(spec["csv"], spec["root"], **spec["labels"])
                    if "same_person" in spec:
                        labels = link_same_person(labels, spec["same_person"])
                    rep = evaluate(engine, labels, reps=args.reps, calibration=calibration, cache_dir=default_cache_dir(), progress=True, **spec["run"])
                    rep.settings["command"] = command + (" --accurate" if mode == "accurate" else "") + (" --calibration global" if which == "before" else "")
                    rep.settings["seconds"] = round(time.perf_counter() - t0, 1)
                    reports.setdefault(f"{mode} {which}", {})[name] = rep
                    result["modes"].setdefault(mode, {}).setdefault(which, {})[name] = rep.to_dict()
                    print(f"{mode} {which} {name}: {rep.settings['seconds']} s", flush=True)
                result["modes"][mode][which]["lfw_accuracy"] = lfw_accuracy(engine, calibration)
                result["modes"][mode][which]["watch_lists"] = watch_lists(engine, calibration)
            result["modes"][mode]["after"]["refusals"] = refusals(engine)
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, args.out, "fairness", markdown(reports, result))


ISSUE_ROWS = [("all", "all")] + [("race x age", f"{race} / {age}") for age in ("0-17", "18-59", "60+") for race in ("White", "Black", "Asian", "Indian", "Others")] + [
    ("race x gender x age", f"{race} / {gender} / 18-59") for race in ("White", "Black", "Asian", "Indian", "Others") for gender in ("female", "male")
]


def before_after(before: FairnessReport, after: FairnessReport) -> list[str]:
    """One row per group: FMR (95% CI) and x nominal at each rate, before | after."""
    rates = " | ".join(f"{rate_label(r)} before | x | {rate_label(r)} after | x" for r in after.rates)
    lines = [f"| group | images | pairs | {rates} |", "|" + "---|" * (3 + 4 * len(after.rates))]
    for grouping, name in ISSUE_ROWS:
        try:
            gb, ga = before.group(grouping, name), after.group(grouping, name)
        except KeyError:
            continue
        cells = " | ".join(f"{fmr_cell(rb)} | {times(rb.times_nominal)} | {fmr_cell(ra)} | {times(ra.times_nominal)}" for rb, ra in zip(gb.at, ga.at))
        lines.append(f"| {name} | {ga.images:,} | {ga.impostor_pairs:,} | {cells} |")
    return lines


def spread(rep: FairnessReport, grouping: str) -> list[str]:
    """Worst and best group of a grouping (best among groups with a false match)."""
    out = []
    for i, rate in enumerate(rep.rates):
        shown = [(g.name, g.at[i].fmr) for g in rep.groups if g.grouping == grouping and g.at[i].fmr is not None]
        if not shown:
            continue
        worst = max(shown, key=lambda x: x[1])
        nonzero = [x for x in shown if x[1] > 0]
        best = min(nonzero, key=lambda x: x[1]) if nonzero else None
        ratio = f"{worst[1] / best[1]:.0f}x" if best else "n/a"
        out.append(f"{rate_label(rate)}: worst {worst[0]} {worst[1]:.2g} ({worst[1] / rate:.1f}x nominal), best with a false match {best[0] if best else 'n/a'} {best[1] if best else 0:.2g}, worst/best {ratio}")
    return out


def markdown(reports: dict[str, dict[str, FairnessReport]], result: dict) -> str:  # type: ignore[type-arg]
    mach = result["machine"]
    lines = [f"## Fairness: false-match rate per group, before and after the region calibration ({mach['cpu']}, commit {mach['commit']})", ""]
    for mode, by_which in result["modes"].items():
        before, after = reports[f"{mode} before"], reports[f"{mode} after"]
        lines += [f"### {mode} mode: UTKFace measure split, the issue's groups", "",
                  f"before: `{before['utkface'].settings['command']}`; after: `{after['utkface'].settings['command']}`", ""]
        lines += before_after(before["utkface"], after["utkface"]) + [""]
        for which in CALIBRATIONS:
            for grouping in ("race x age", "race x gender x age"):
                lines += [f"- {which}, {grouping}: " + "; ".join(spread(reports[f"{mode} {which}"]["utkface"], grouping))]
        lines += ["", f"### {mode} mode: the same, with the 31 pairs found by eye to be one person taken as one", "",
                  "UTKFace has no identities; every adult same-race pair of the measure split with cosine >= 0.5 was looked at (benchmarks/data/README.md). "
                  "Children's pairs were not checked.", ""]
        lines += before_after(before["utkface_same_person"], after["utkface_same_person"]) + [""]
        for which in CALIBRATIONS:
            for grouping in ("race x age", "race x gender x age"):
                lines += [f"- {which}, {grouping}: " + "; ".join(spread(reports[f"{mode} {which}"]["utkface_same_person"], grouping))]
        lines += ["", f"### {mode} mode: LFW by gender (FMR and FNMR)", ""]
        lines += before_after(before["lfw_gender"], after["lfw_gender"])[:2]
        for name in ("all", "female", "male"):
            grouping = "all" if name == "all" else "gender"
            gb, ga = before["lfw_gender"].group(grouping, name), after["lfw_gender"].group(grouping, name)
            cells = " | ".join(f"{fmr_cell(rb)} | {times(rb.times_nominal)} | {fmr_cell(ra)} | {times(ra.times_nominal)}" for rb, ra in zip(gb.at, ga.at))
            fnmr = " / ".join(f"FNMR {rate_label(rb.nominal)}: {rb.fnmr:.4f} -> {ra.fnmr:.4f}" for rb, ra in zip(gb.at, ga.at) if rb.fnmr is not None and ra.fnmr is not None)
            lines.append(f"| {name} ({fnmr}) | {ga.images:,} | {ga.impostor_pairs:,} | {cells} |")
        acc_b, acc_a = by_which["before"]["lfw_accuracy"], by_which["after"]["lfw_accuracy"]
        lines += ["", f"### {mode} mode: LFW View 2 accuracy (10-fold) and TAR at FAR 1e-3", "", "| calibration | accuracy | TAR@FAR=1e-3 |", "|---|---|---|",
                  f"| before (cosine) | {acc_b['accuracy']:.2%} | {acc_b['tar_at_far_1e-3']:.2%} |", f"| after (region-calibrated similarity) | {acc_a['accuracy']:.2%} | {acc_a['tar_at_far_1e-3']:.2%} |", ""]
        lines += [f"### {mode} mode: watch lists at the default threshold (similarity {DEFAULT_SIMILARITY:.0f}: 1e-4)", "",
                  "| group (measure split) | enrolled | strangers searched | named before | named after | expected at a true 1e-4 |", "|---|---|---|---|---|---|"]
        for wb, wa in zip(by_which["before"]["watch_lists"], by_which["after"]["watch_lists"]):
            lines.append(f"| {wa['group']} | {wa['enrolled']} | {wa['strangers']} | {wb['named']} | {wa['named']} | {wa['expected_at_nominal']} |")
        ref = by_which["after"]["refusals"]
        lines += ["", f"### {mode} mode: faces refused (FALSE_MATCH_RATE_UNREACHABLE), measure split", "",
                  "| group | faces | refused at similarity 30 | at 40 | at 50 |", "|---|---|---|---|---|"]
        for name, g in ref["groups"].items():
            lines.append(f"| {name} | {g['faces']} | {g['refused_at_30']} | {g['refused_at_40']} | {g['refused_at_50']} |")
        lines += ["", f"Rating one pair with the region calibration (`Engine.rate`, refusal check included): {ref['rate_us_per_pair']} µs.", ""]
    lines += ["Same-group impostor pairs: both images in the group, different people (UTKFace has no identities: every pair of its images is taken as an impostor pair, "
              "although some people appear in it more than once; see docs/fairness.md). Intervals: bootstrap over images (UTKFace) or identities (LFW), not pairs. "
              "n/a: too few pairs to show the rate.", ""]
    for mode in result["modes"]:
        for which in CALIBRATIONS:
            rep = reports[f"{mode} {which}"]["utkface"]
            lines += [f"<details><summary>{mode} mode, {which}: every group</summary>", "", "```", header(rep), "```", "", summary_table(rep), "", group_tables(rep), "", "</details>", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
