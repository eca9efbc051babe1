"""faceprint attention: who faced the camera, and whose eyes closed, second by second."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import faceprint as fp
from faceprint.cli.common import handle_errors


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
    from tqdm import tqdm

    from faceprint.attention import attention_rows, rows_csv, timeline_png
    from faceprint.video.sources import VideoSource
    from faceprint.video.stream import tracked_faces
    from faceprint.video.tracks import MIN_FACE_PX

    source = VideoSource(video, pace=False, max_width=max_width)
    with fp.Engine("fast", workers=1) as engine:
        stream = tracked_faces(source, engine.analyzer.detect)
        with tqdm(stream, unit="frame", disable=as_json or not sys.stderr.isatty(), file=sys.stderr) as tracked:
            rows = attention_rows(tracked, engine.analyzer, min_face_px=MIN_FACE_PX)
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
