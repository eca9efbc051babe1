"""The attention timeline as a PNG: one panel per person, facing / eyes closed /
PERCLOS against time."""

from __future__ import annotations

from pathlib import Path

from faceprint.attention.meter import AttentionRow


def timeline_png(rows: list[AttentionRow], path: str | Path, *, title: str = "", max_tracks: int = 8) -> Path:
    """Draw the rows (the ``max_tracks`` people seen longest) and write a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    by_track: dict[int, list[AttentionRow]] = {}
    for r in rows:
        by_track.setdefault(r.track, []).append(r)
    tracks = sorted(by_track, key=lambda t: -sum(r.frames for r in by_track[t]))[:max_tracks]
    tracks.sort()
    n = max(1, len(tracks))
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.9 * n + 0.6), sharex=True, squeeze=False)
    for ax, track in zip(axes[:, 0], tracks):
        rs = by_track[track]
        x = [r.second + 0.5 for r in rs]
        ax.step(x, [r.facing for r in rs], where="mid", label="facing", color="#2e86de")
        ax.step(x, [r.eyes_closed for r in rs], where="mid", label="eyes closed", color="#e67e22")
        ax.plot(x, [r.perclos for r in rs], label="PERCLOS (trailing minute)", color="#c0392b", linestyle="--")
        ax.set_ylim(-0.05, 1.35)  # room above 1 for the legend
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_ylabel(f"person {track}")
        ax.grid(alpha=0.3)
    if not tracks:
        axes[0, 0].text(0.5, 0.5, "no faces", ha="center", va="center")
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
