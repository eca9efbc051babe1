"""Readable tables and PNG plots for evaluation results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from faceprint.eval.metrics import tar_at_far


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table with aligned columns (also valid Markdown)."""
    cells = [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in cells])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return "n/a" if v is None else str(v)


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> Path:
    """TAR against FAR (log axis) for each labelled ``(scores, same)`` set."""
    # The object API, not pyplot: no global backend or figure state is touched.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), dpi=110)
    ax = fig.subplots()
    for label, (scores, same) in curves.items():
        imp, gen = scores[~same], scores[same]
        if len(imp) == 0 or len(gen) == 0:
            continue
        fars = np.logspace(np.log10(max(1.0 / len(imp), 1e-6)), 0, 200)
        tars = [tar_at_far(gen, imp, f)[0] for f in fars]
        ax.semilogx(fars, tars, label=label)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
