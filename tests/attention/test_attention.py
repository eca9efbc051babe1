"""Attention timelines: the meter's rules on measured values, and the command on a
real webcam video with blinks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faceprint.analysis.attributes import Angles, FaceAttributes, Flag
from faceprint.attention import AttentionMeter


def face(openness: float, *, yaw: float = 0.0, gaze_yaw: float = 0.0, gaze_confidence: float = 90.0) -> FaceAttributes:
    return FaceAttributes(
        eyes_open=Flag(openness >= 0.2, 80.0),
        mouth_open=Flag(False, 80.0),
        eye_openness=(openness, openness),
        mouth_openness=0.02,
        gaze=Angles(gaze_yaw, 0.0, 0.0),
        gaze_confidence=gaze_confidence,
        pose=Angles(yaw, 0.0, 0.0),
        landmarks={},
        presence=1.0,
    )


def test_eyes_closed_is_judged_against_each_persons_own_open_level() -> None:
    meter = AttentionMeter()
    # person 1 rests at 0.22 (narrow eyes), person 2 at 0.34; both blink once
    for i in range(60):
        ms = i * 33.3
        meter.observe(1, ms, face(0.11 if i == 40 else 0.22))
        meter.observe(2, ms, face(0.15 if i in (40, 41) else 0.34))
    rows = {(r.track, r.second): r for r in meter.rows()}
    assert rows[(1, 0)].eyes_closed == 0.0 and rows[(2, 0)].eyes_closed == 0.0
    assert rows[(1, 1)].eyes_closed > 0 and rows[(2, 1)].eyes_closed > 0
    assert rows[(2, 1)].perclos == pytest.approx(2 / 60, abs=1e-6)  # closed frames over all so far


def test_facing_combines_head_and_eyes_and_trusts_only_open_eyes() -> None:
    meter = AttentionMeter()
    assert meter.is_facing(face(0.3, yaw=5.0))
    assert not meter.is_facing(face(0.3, yaw=35.0))
    assert meter.is_facing(face(0.3, yaw=30.0, gaze_yaw=-20.0))  # head turned, eyes back on the camera
    assert not meter.is_facing(face(0.3, yaw=5.0, gaze_yaw=30.0))  # head on, eyes away
    assert meter.is_facing(face(0.1, yaw=5.0, gaze_yaw=30.0, gaze_confidence=10.0))  # iris not trusted


def test_perclos_forgets_what_is_older_than_a_minute() -> None:
    meter = AttentionMeter()
    for i in range(100):
        meter.observe(1, i * 1000.0, face(0.34))
    for i in range(100, 110):
        meter.observe(1, i * 1000.0, face(0.05))  # ten closed seconds
    last = meter.rows()[-1]
    assert last.perclos == pytest.approx(10 / 61, abs=1e-6)


def test_attention_command_on_a_webcam_video(data: Path, tmp_path: Path) -> None:
    video = data / "liveness" / "replay_apfol" / "videos" / "real2.webm"
    plot, table = tmp_path / "timeline.png", tmp_path / "rows.csv"
    run = subprocess.run(
        [sys.executable, "-m", "faceprint.cli.main", "attention", str(video), "--json", "--plot", str(plot), "--csv", str(table)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)["rows"]
    assert {r["track"] for r in rows} == {1}  # one person, one track
    assert len(rows) >= 7 and [r["second"] for r in rows] == sorted(r["second"] for r in rows)
    assert set(rows[0]) == {"track", "second", "frames", "facing", "eyes_closed", "perclos", "head_yaw", "head_pitch", "gaze_yaw", "gaze_pitch"}
    # he blinks a few times and mostly looks at the screen beside the camera
    assert any(r["eyes_closed"] > 0 for r in rows) and 0 < rows[-1]["perclos"] < 0.3
    assert sum(r["facing"] for r in rows) / len(rows) > 0.5
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and table.read_text().startswith("track,second,frames")
