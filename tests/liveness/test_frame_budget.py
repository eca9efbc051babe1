"""A liveness request's frames cost bounded memory: their declared pixels are summed
from the headers and checked against a per-request budget before any is decoded, and
the frames are then decoded one at a time, as they are judged.

(300 tiny PNG frames declaring 1080p once peaked at 2.5 GB and held a worker 54 s.)"""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from faceprint.errors import ImageTooLarge
from faceprint.liveness.frames import Unjudgeable, measure
from faceprint.liveness.sessions import LivenessSessions
from faceprint.types import Faces
from tests.factories import encode


class NeverJudges:
    """An analyzer the refused request must never reach."""

    def detect(self, pixels: np.ndarray, **_: object) -> Faces:
        raise AssertionError("a frame was judged")


class TwoPeople:
    """Finds two equal faces in every frame."""

    def __init__(self) -> None:
        self.seen = 0

    def detect(self, pixels: np.ndarray, **_: object) -> Faces:
        self.seen += 1
        boxes = np.array([[10, 10, 60, 60], [70, 10, 120, 60]], np.float32)
        return Faces(xyxy=boxes, score=np.ones(2, np.float32), landmarks=np.zeros((2, 5, 2), np.float32))


def test_frames_over_the_pixel_budget_are_refused_before_any_is_decoded() -> None:
    from faceprint.api.liveness_operations import FRAME_PIXEL_BUDGET, put_liveness_frames

    full_hd = encode(Image.new("RGB", (1920, 1080), (90, 90, 90)), "PNG")  # a few KB, 6 MB decoded
    n = FRAME_PIXEL_BUDGET // (1920 * 1080) + 1
    assert len(full_hd) * n < 8 * 1024 * 1024  # fits in one request body
    sessions = LivenessSessions(NeverJudges())  # type: ignore[arg-type]
    session = sessions.create("key-a")
    sessions.challenge(session.session_id, "key-a")
    call = SimpleNamespace(
        params={"SessionId": session.session_id, "Frames": [{"Bytes": full_hd, "TimestampMillis": 66 * i} for i in range(n)]},
        caller=SimpleNamespace(key_id="key-a"),
        liveness=sessions,
    )
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge, match="frames"):
            put_liveness_frames(call)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1920 * 1080 * 3, f"{peak / 1e6:.0f} MB allocated: at least one frame was decoded"
    # nothing happened to the session: the caller may send smaller frames
    assert sessions.get(session.session_id, "key-a").status == "CREATED"


def test_frames_are_decoded_and_judged_one_at_a_time() -> None:
    decoded: list[int] = []

    def frame(i: int):  # noqa: ANN202
        def decode() -> np.ndarray:
            decoded.append(i)
            return np.zeros((120, 160, 3), np.uint8)

        return decode

    analyzer = TwoPeople()
    with pytest.raises(Unjudgeable) as exc:
        measure(analyzer, [(i * 66.0, frame(i)) for i in range(20)])  # type: ignore[arg-type]
    assert exc.value.reason == "MULTIPLE_FACES"
    assert decoded == [0] and analyzer.seen == 1  # the first frame decided it; none other was decoded
