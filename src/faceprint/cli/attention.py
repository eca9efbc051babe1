"""faceprint attention: who faced the camera, and whose eyes closed, second by second."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

import faceprint as fp
from faceprint.cli.common import handle_errors

if TYPE_CHECKING:
    from faceprint.attention import AttentionRow
    from faceprint.video.sources import VideoSource


@click.command("attention")
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of CSV.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the rows as CSV here.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write a PNG timeline here.")
@click.option("--max-width", default=960, show_default=True, help="Frames wider than this are scaled down for analysis.")
@handle_errors
def attention(video: str, as_json: bool, csv_path: Path | None, plot: Path | None, max_width: int) -> None:
    """Per person (tracked, never identified) and per second of VIDEO: the share of
    frames facing the camera, the share with eyes closed, and PERCLOS (share with
    eyes closed over the trailing minute). Faces under 28 px are left out."""
    from faceprint.attention import timeline_png
    from faceprint.video.sources import VideoSource

    rows = attention_rows(VideoSource(video, pace=False, max_width=max_width), progress=not as_json)
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(rows_csv(rows))
    if plot is not None:
        timeline_png(rows, plot, title=Path(video).name)
    if as_json:
        click.echo(json.dumps({"video": video, "rows": [r.to_dict() for r in rows]}, indent=2))
    else:
        click.echo(rows_csv(rows), nl=False)
    if plot is not None:
        click.echo(f"timeline: {plot}", err=True)


def attention_rows(source: VideoSource, *, progress: bool = False) -> list[AttentionRow]:
    """Track the faces of a video and measure each one's attention on every frame."""
    from tqdm import tqdm

    from faceprint.attention import AttentionMeter
    from faceprint.video.tracks import MIN_FACE_PX, FaceTracker

    meter = AttentionMeter()
    tracker: FaceTracker | None = None
    with fp.Engine("fast", workers=1) as engine, tqdm(unit="frame", disable=not progress or not sys.stderr.isatty(), file=sys.stderr) as bar:
        analyzer = engine.analyzer
        for frame in source.frames():
            tracker = tracker or FaceTracker(source.stats.fps or 25.0)
            faces = analyzer.detect(frame.pixels)
            tracked = [(tid, row) for tid, row, face in tracker.update(faces, frame.index, frame.ms, frame.wall) if min(face.size_wh) >= MIN_FACE_PX]
            if tracked:
                picked = faces[[row for _, row in tracked]]
                for (tid, _), attrs in zip(tracked, analyzer.attributes(frame.pixels, picked)):  # type: ignore[arg-type]
                    meter.observe(tid, frame.ms, attrs)
            tracker.lost(frame.index)
            bar.update()
    return meter.rows()


def rows_csv(rows: list[AttentionRow]) -> str:
    from faceprint.attention import AttentionRow

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(AttentionRow.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(r.to_dict() for r in rows)
    return out.getvalue()
