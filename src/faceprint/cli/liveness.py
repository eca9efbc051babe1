"""faceprint liveness: judge a recorded attempt."""

from __future__ import annotations

import json

import click

import faceprint as fp
from faceprint.cli.common import handle_errors
from faceprint.constants import ACTIONS
from faceprint.errors import InvalidParameter


@click.command("liveness")
@click.argument("video")
@click.option("--passive", is_flag=True, help="The passive checks alone (planar motion, screen glare, moiré, screen border, continuity, one identity).")
@click.option("--actions", default=None, help=f"The challenge the person was given, in order, comma-separated: {', '.join(ACTIONS)}.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys verdict, score, reason, signals).")
@click.option("--max-frames", default=450, show_default=True, help="Judge at most this many frames (from the start).")
@handle_errors
def liveness(video: str, passive: bool, actions: str | None, as_json: bool, max_frames: int) -> None:
    """Is the person in VIDEO live? Prints `live` or `spoof` and a 0-100 score."""
    from faceprint.liveness import check_liveness
    from faceprint.liveness.passive import SAME_PERSON_SIMILARITY
    from faceprint.video.sources import VideoSource

    asked = [a.strip().upper() for a in actions.split(",")] if actions else None
    if passive == bool(asked):
        raise InvalidParameter("give the challenge's --actions, or --passive for the passive checks alone (not both)")
    if asked and (bad := [a for a in asked if a not in ACTIONS]):
        raise InvalidParameter(f"unknown actions {bad}; choose from {', '.join(ACTIONS)}")
    frames = []
    for frame in VideoSource(video, pace=False).frames():
        frames.append((frame.ms, frame.pixels))
        if len(frames) >= max_frames:
            break
    with fp.Engine("fast", workers=1) as engine:
        result = check_liveness(engine.analyzer, frames, actions=None if passive else asked, same_person=engine.bar(SAME_PERSON_SIMILARITY).thresholds)
    if as_json:
        out = {"verdict": result.verdict, "score": result.confidence, "reason": result.reason, "signals": result.signals}
        if result.challenge is not None:
            out["challenge"] = {"asked": result.challenge.asked, "done": [{"action": a, "ms": round(t)} for a, t in result.challenge.done]}
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{result.verdict} {result.confidence:.1f}" + (f"  ({result.reason})" if result.reason else ""))
    for name, score in result.signals.items():
        click.echo(f"  {name}: {'no say' if score is None else f'{score:.1f}'}")
