"""attention_rows and rows_csv driven directly, with a fake analyzer and tracker: small
faces are tracked but not measured, the tracker is made at the first frame, and the rows
come out per track and second."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from faceprint.analysis.attributes import Angles, FaceAttributes, Flag
from faceprint.attention import AttentionRow, attention_rows, rows_csv
from faceprint.types import Face, Faces


def attrs(openness: float = 0.3, yaw: float = 0.0) -> FaceAttributes:
    return FaceAttributes(
        eyes_open=Flag(True, 80.0), mouth_open=Flag(False, 80.0), eye_openness=(openness, openness), mouth_openness=0.02,
        gaze=Angles(0.0, 0.0, 0.0), gaze_confidence=90.0, pose=Angles(yaw, 0.0, 0.0), landmarks={}, presence=1.0,
    )  # fmt: skip


@dataclass
class FakeFrame:
    pixels: np.ndarray
    index: int
    ms: float
    wall: float


class FakeAnalyzer:
    """Two faces per frame: a 100 px one and a 10 px one."""

    def __init__(self) -> None:
        self.measured: list[int] = []

    def detect(self, pixels: np.ndarray) -> Faces:
        boxes = np.array([[0, 0, 100, 100], [200, 200, 210, 210]], np.float32)
        return Faces(boxes, np.array([0.9, 0.8], np.float32), np.zeros((2, 5, 2), np.float32))

    def attributes(self, pixels: np.ndarray, faces: Faces) -> list[FaceAttributes]:
        self.measured.append(len(faces))
        return [attrs(yaw=35.0 if int(pixels[0, 0, 0]) % 2 else 0.0) for _ in faces]  # odd frames look away


class FakeTracker:
    def __init__(self) -> None:
        self.lost_at: list[int] = []

    def update(self, faces: Faces, frame_index: int, ms: float, wall: float) -> list[tuple[int, int, Face]]:
        return [(row + 1, row, faces[row]) for row in range(len(faces))]  # type: ignore[misc]

    def lost(self, frame_index: int) -> None:
        self.lost_at.append(frame_index)


def test_rows_per_track_and_second_leave_small_faces_out() -> None:
    frames = [FakeFrame(np.full((4, 4, 3), i, np.uint8), i, i * 250.0, 0.0) for i in range(8)]  # two seconds at 4 fps
    analyzer, made = FakeAnalyzer(), []

    def tracker() -> FakeTracker:
        made.append(FakeTracker())
        return made[-1]

    rows = attention_rows(frames, analyzer, tracker, min_face_px=28.0)  # type: ignore[arg-type]
    assert len(made) == 1 and made[0].lost_at == list(range(8))
    assert analyzer.measured == [1] * 8  # the 10 px face (track 2) is tracked, never measured
    assert [(r.track, r.second, r.frames) for r in rows] == [(1, 0, 4), (1, 1, 4)]
    assert all(r.facing == 0.5 for r in rows)  # half the frames look away
    assert attention_rows([], analyzer, tracker, min_face_px=28.0) == [] and len(made) == 1  # type: ignore[arg-type]


def test_rows_csv_has_one_column_per_field() -> None:
    row = AttentionRow(1, 0, 4, 0.5, 0.0, 0.0, 1.23456, 0.0, 0.0, 0.0)
    text = rows_csv([row])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(AttentionRow.__dataclass_fields__)
    assert parsed[0]["head_yaw"] == "1.2346" and parsed[0]["track"] == "1"
    assert rows_csv([]).splitlines() == [",".join(AttentionRow.__dataclass_fields__)]
