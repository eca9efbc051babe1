"""The challenge on a live person doing what was asked (hand-labelled stretches of the
shared live video), and the label logic that picks such stretches."""

from __future__ import annotations

from pathlib import Path

import faceprint as fp
from faceprint.eval.liveness import LabelledAction, performed, read_action_labels, video_frames
from faceprint.liveness import check_liveness

LABELS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "real2_actions.csv"


def test_labels_pick_only_stretches_without_stray_actions() -> None:
    labels = [
        LabelledAction("TURN_LEFT", 1.0, 1.5),
        LabelledAction("BLINK", 2.0, 2.1),
        LabelledAction("OPEN_MOUTH", 3.0, 4.0),
        LabelledAction("TURN_RIGHT", 5.0, 5.5, mild=True),
    ]
    assert performed(labels, 0.0, ["TURN_LEFT", "BLINK"], 8.0)
    assert performed(labels, 0.0, ["TURN_LEFT", "OPEN_MOUTH"], 8.0)  # a blink in between never counts
    assert not performed(labels, 0.0, ["OPEN_MOUTH", "TURN_LEFT"], 8.0)  # wrong order
    assert not performed(labels, 0.0, ["BLINK", "OPEN_MOUTH"], 8.0)  # the turn before is a stray action
    assert not performed(labels, 2.5, ["OPEN_MOUTH", "TURN_RIGHT"], 8.0)  # a mild turn cannot be told
    assert [lab.action for lab in read_action_labels(LABELS)][:2] == ["TURN_LEFT", "TURN_RIGHT"]


def test_a_live_person_doing_the_asked_actions_passes_and_the_wrong_order_fails(engine: fp.Engine, data: Path) -> None:
    asked = ["TURN_LEFT", "TURN_RIGHT", "BLINK"]
    assert performed(read_action_labels(LABELS), 0.0, asked, 11.0)
    frames = video_frames(data / "liveness" / "replay_apfol" / "videos" / "real2.webm", limit=150)  # the first 8 s
    done = check_liveness(engine.analyzer, frames, actions=asked)
    assert done.live and done.challenge is not None and [a for a, _ in done.challenge.done] == asked
    swapped = check_liveness(engine.analyzer, frames, actions=["TURN_RIGHT", "TURN_LEFT", "BLINK"])
    assert not swapped.live and swapped.reason.startswith("CHALLENGE_FAILED")
