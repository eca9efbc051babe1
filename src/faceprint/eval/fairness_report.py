"""Tables and a plot for fairness reports, and a before/after comparison of two."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceprint.eval.fairness import FairnessReport, GroupResult, GroupingSummary, RateResult, rate_label
from faceprint.eval.report import table


def num(v: float | None) -> str:
    """Two significant digits, never in exponent form (0.00014, 0.51, 3.2)."""
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    return str(np.format_float_positional(v, precision=2, unique=False, fractional=False, trim="-"))


def times(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.0f}x" if v >= 10 else f"{v:.1f}x"


def fmr_cell(r: RateResult) -> str:
    if r.fmr is None:
        return r.fmr_note or "n/a"
    ci = f" ({num(r.fmr_low)}-{num(r.fmr_high)})" if r.fmr_low is not None else ""
    return f"{num(r.fmr)}{ci}"


def fnmr_cell(r: RateResult) -> str:
    if r.fnmr is None:
        return r.fnmr_note or "n/a"
    ci = f" ({num(r.fnmr_low)}-{num(r.fnmr_high)})" if r.fnmr_low is not None else ""
    return f"{num(r.fnmr)}{ci}"


def needed_cell(r: RateResult) -> str:
    if r.needed_similarity is None:
        cos = f" (cos {r.needed_cosine:.3f})" if r.needed_cosine is not None else ""
        return (r.needed_note or "n/a") + cos
    return f"{r.needed_similarity:.1f} (cos {r.needed_cosine:.3f})"


def group_tables(report: FairnessReport) -> str:
    """One Markdown table per grouping (all, race, race x gender...)."""
    genuine = any(g.genuine_pairs for g in report.groups)
    header = ["group", "images", "impostor pairs"]
    for rate in report.rates:
        label = rate_label(rate)
        header += [f"FMR at the {label} threshold (95% CI)", f"x {label}", f"similarity needed for {label}"]
        if genuine:
            header.append(f"FNMR at {label} (95% CI)")
    blocks = []
    for grouping in dict.fromkeys(g.grouping for g in report.groups):
        rows = []
        for g in (g for g in report.groups if g.grouping == grouping):
            row: list[object] = [g.name, _images(g), f"{g.impostor_pairs:,}"]
            for r in g.at:
                row += [fmr_cell(r), times(r.times_nominal), needed_cell(r)]
                if genuine:
                    row.append(fnmr_cell(r))
            rows.append(row)
        blocks.append(f"### {grouping}\n\n" + table(rows, header))
    return "\n\n".join(blocks)


def _images(g: GroupResult) -> str:
    return f"{g.images:,}" + (f" (+{g.excluded} no face)" if g.excluded else "")


def summary_table(report: FairnessReport) -> str:
    """Worst group against the nominal rate and against the best group."""
    rows = [
        [s.grouping, rate_label(s.nominal), s.worst or "n/a", num(s.worst_fmr), _worst_ci(s), s.best or "n/a", num(s.best_fmr), times(s.worst_to_best), s.note or ""]
        for s in report.summaries
    ]
    return table(rows, ["grouping", "nominal", "worst group", "its FMR", "worst / nominal (95% CI)", "best group", "its FMR", "worst / best", "note"])


def _worst_ci(s: GroupingSummary) -> str:
    if s.worst_to_nominal is None:
        return "n/a"
    ci = f" ({times(s.worst_to_nominal_low)}-{times(s.worst_to_nominal_high)})" if s.worst_to_nominal_low is not None else ""
    return times(s.worst_to_nominal) + ci


def header(report: FairnessReport) -> str:
    thresholds = ", ".join(
        f"{label}: similarity {-10.0 * np.log10(rate):.0f}" + (f" = cosine {cos:.4f}" if cos is not None else "")
        for rate, (label, cos) in zip(report.rates, report.thresholds_cosine.items())
    )
    genuine = "; genuine pairs: same identity" if any(g.genuine_pairs for g in report.groups) else ""
    return "\n".join([
        f"labels: {report.dataset}",
        f"calibration: {report.calibration}",
        f"thresholds: {thresholds}",
        f"images measured: {report.images:,} (left out: {report.excluded:,}, no face found or unreadable)",
        f"pairs: same-group impostor pairs (both images in the group, different people){genuine}",
        f"95% intervals: bootstrap, {report.bootstrap['reps']} resamples of {report.bootstrap['resamples']} (not of pairs); with no false match, the exact binomial bound",
        f"a rate is shown where a group has at least {report.min_pairs_factor:g}/rate impostor pairs",
    ])


def render(report: FairnessReport) -> str:
    return "\n\n".join([header(report), "### worst and best group", summary_table(report), group_tables(report)])


def plot(report: FairnessReport, path: Path, title: str) -> Path:
    """Each group's false-match rate at each nominal threshold, log scale, with its
    interval; dashed lines at the nominal rates. A group without false matches is drawn
    as '<' at the upper end of its interval."""
    from matplotlib.figure import Figure  # the object API: no global pyplot state

    groups = report.groups
    fig = Figure(figsize=(8, 1.5 + 0.24 * len(groups)), dpi=110)
    ax = fig.subplots()
    y = np.arange(len(groups))[::-1]
    colours = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    for i, rate in enumerate(report.rates):
        c = colours[i % len(colours)]
        off = (i - (len(report.rates) - 1) / 2) * 0.25
        for yy, g in zip(y, groups):
            r = g.at[i]
            if r.fmr is None:
                continue
            if r.fmr > 0:
                lo, hi = r.fmr_low if r.fmr_low is not None else r.fmr, r.fmr_high if r.fmr_high is not None else r.fmr
                ax.errorbar([r.fmr], [yy + off], xerr=[[r.fmr - min(lo, r.fmr)], [max(hi, r.fmr) - r.fmr]], fmt="o", color=c, ms=4, capsize=2)
            elif r.fmr_high:
                ax.plot([r.fmr_high], [yy + off], marker="<", color=c, ms=5)
        ax.axvline(rate, color=c, ls="--", lw=1, label=f"nominal {rate_label(rate)}")
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{g.grouping}: {g.name}" if g.grouping != "all" else "all" for g in groups], fontsize=7)
    ax.set_xlabel("false-match rate on same-group impostor pairs (95% CI)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def compare(before: FairnessReport, after: FairnessReport) -> str:
    """Per group and nominal rate, the false-match rate under two calibrations (for
    example the global table and an adaptive one) on the same images, then the
    worst-to-best ratios."""
    rows = []
    for g in before.groups:
        try:
            h = after.group(g.grouping, g.name)
        except KeyError:
            continue
        for rb in g.at:
            ra = next((r for r in h.at if r.nominal == rb.nominal), None)
            if ra is not None:
                rows.append([g.grouping, g.name, rate_label(rb.nominal), fmr_cell(rb), times(rb.times_nominal), fmr_cell(ra), times(ra.times_nominal), fnmr_cell(rb), fnmr_cell(ra)])
    groups = table(rows, ["grouping", "group", "nominal", "FMR before (95% CI)", "x before", "FMR after (95% CI)", "x after", "FNMR before", "FNMR after"])
    spread = []
    for sb in before.summaries:
        sa = next((s for s in after.summaries if s.grouping == sb.grouping and s.nominal == sb.nominal), None)
        if sa is not None:
            spread.append([sb.grouping, rate_label(sb.nominal), times(sb.worst_to_nominal), times(sa.worst_to_nominal), times(sb.worst_to_best), times(sa.worst_to_best)])
    ratios = table(spread, ["grouping", "nominal", "worst / nominal before", "after", "worst / best before", "after"])
    return f"before: {before.calibration}\nafter: {after.calibration}\n\n{groups}\n\n{ratios}"
