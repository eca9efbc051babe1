"""Passive liveness on real footage and on a synthetic photo attack, through the
library and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

import faceprint as fp
from faceprint.eval.liveness import photo_attack, video_frames
from faceprint.liveness import check_liveness


def test_a_photo_moved_as_a_flat_card_fails_the_planar_motion_signal(engine: fp.Engine, data: Path) -> None:
    photo = cv2.cvtColor(cv2.imread(str(data / "people" / "face_recognition" / "examples" / "obama.jpg")), cv2.COLOR_BGR2RGB)
    background = np.full((480, 640, 3), 170, np.uint8)
    result = check_liveness(engine.analyzer, photo_attack(photo, background, np.random.default_rng(5)))
    assert not result.live and result.signals["planar_motion"] is not None and result.signals["planar_motion"] < 50
    assert "planar_motion" in result.reason


def test_the_live_video_passes_and_shows_parallax(engine: fp.Engine, data: Path) -> None:
    live = video_frames(data / "liveness" / "replay_apfol" / "videos" / "real2.webm", limit=60)
    result = check_liveness(engine.analyzer, live)
    assert result.live and result.confidence >= 50 and result.reason == ""
    assert result.signals["planar_motion"] > 50 and result.reference is not None  # type: ignore[operator]


def _cli(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "liveness", *args, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_liveness_command_passive(data: Path) -> None:
    videos = data / "liveness" / "replay_apfol" / "videos"
    live = _cli(str(videos / "real2.webm"), "--passive", "--max-frames", "60")
    replay = _cli(str(videos / "fake2.webm"), "--passive", "--max-frames", "60")
    assert {"verdict", "score"} <= set(live) and live["verdict"] == "live" and live["score"] >= 50
    assert replay["verdict"] == "spoof" and replay["score"] < 50 and "screen_glare" in replay["reason"]


def test_liveness_command_needs_a_mode(data: Path) -> None:
    video = data / "liveness" / "replay_apfol" / "videos" / "real2.webm"
    run = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "liveness", str(video)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "--passive" in run.stderr
