"""attention_rows and rows_csv driven directly, with tracked frames made by hand and a
fake analyzer: small faces are tracked but not measured, and the rows come out per track
and second."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pytest

from faceprint.analysis.attributes import Angles, FaceAttributes, Flag
from faceprint.attention import AttentionRow, attention_rows, rows_csv
from faceprint.errors import InvalidParameter
from faceprint.types import Faces


def attrs(openness: float = 0.3, yaw: float = 0.0) -> FaceAttributes:
    return FaceAttributes(
        eyes_open=Flag(True, 80.0), mouth_open=Flag(False, 80.0), eye_openness=(openness, openness), mouth_openness=0.02,
        gaze=Angles(0.0, 0.0, 0.0), gaze_confidence=90.0, pose=Angles(yaw, 0.0, 0.0), landmarks={}, presence=1.0,
    )  # fmt: skip


@dataclass
class FakeFrame:
    pixels: np.ndarray
    ms: float


@dataclass
class FakeTracked:
    """What ``faceprint.video.stream.tracked_faces`` yields: a frame and its tracked faces."""

    frame: FakeFrame
    faces: Faces


class FakeAnalyzer:
    def __init__(self) -> None:
        self.measured: list[list[int]] = []

    def attributes(self, pixels: np.ndarray, faces: Faces) -> list[FaceAttributes]:
        self.measured.append([f.track_id for f in faces])  # type: ignore[misc]
        return [attrs(yaw=35.0 if int(pixels[0, 0, 0]) % 2 else 0.0) for _ in faces]  # odd frames look away


def two_faces() -> Faces:
    """A 100 px face (track 1) and a 10 px one (track 2)."""
    boxes = np.array([[0, 0, 100, 100], [200, 200, 210, 210]], np.float32)
    return Faces(boxes, np.array([0.9, 0.8], np.float32), np.zeros((2, 5, 2), np.float32), track_id=np.array([1, 2]))


def test_rows_per_track_and_second_leave_small_faces_out() -> None:
    tracked = [FakeTracked(FakeFrame(np.full((4, 4, 3), i, np.uint8), i * 250.0), two_faces()) for i in range(8)]  # two seconds at 4 fps
    analyzer = FakeAnalyzer()
    rows = attention_rows(tracked, analyzer, min_face_px=28.0)
    assert analyzer.measured == [[1]] * 8  # the 10 px face (track 2) is tracked, never measured
    assert [(r.track, r.second, r.frames) for r in rows] == [(1, 0, 4), (1, 1, 4)]
    assert all(r.facing == 0.5 for r in rows)  # half the frames look away
    assert attention_rows([], analyzer, min_face_px=28.0) == []


def test_frames_without_faces_are_skipped_and_untracked_faces_refused() -> None:
    analyzer = FakeAnalyzer()
    empty = Faces.empty().with_(track_id=np.zeros(0, np.int64))
    assert attention_rows([FakeTracked(FakeFrame(np.zeros((4, 4, 3), np.uint8), 0.0), empty)], analyzer, min_face_px=28.0) == []
    assert analyzer.measured == []
    untracked = two_faces().with_(track_id=None)
    with pytest.raises(InvalidParameter):
        attention_rows([FakeTracked(FakeFrame(np.zeros((4, 4, 3), np.uint8), 0.0), untracked)], analyzer, min_face_px=28.0)


def test_rows_csv_has_one_column_per_field() -> None:
    row = AttentionRow(1, 0, 4, 0.5, 0.0, 0.0, 1.23456, 0.0, 0.0, 0.0)
    text = rows_csv([row])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(AttentionRow.__dataclass_fields__)
    assert parsed[0]["head_yaw"] == "1.2346" and parsed[0]["track"] == "1"
    assert rows_csv([]).splitlines() == [",".join(AttentionRow.__dataclass_fields__)]
