"""The tracker fills Faces.track_id, and tracked_faces is the one frames -> detect ->
track loop: driven here with boxes made by hand, no model and no video file."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceprint.types import Faces
from faceprint.video.sources import Frame
from faceprint.video.stream import Tracking, tracked_faces
from faceprint.video.tracks import LOST_AFTER_FRAMES, FaceTracker


def faces_at(*boxes: tuple[float, float, float, float]) -> Faces:
    n = len(boxes)
    crops = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, 4, 4, 3), np.uint8)  # face i's crop is all i
    return Faces(np.array(boxes, np.float32).reshape(n, 4), np.full(n, 0.9, np.float32), np.zeros((n, 5, 2), np.float32), crops=crops)


def frame(i: int) -> Frame:
    return Frame(np.zeros((8, 8, 3), np.uint8), i, i * 40.0, 1000.0 + i * 0.04, 1.0)


def test_update_returns_the_kept_faces_with_their_track_ids() -> None:
    tracker = FaceTracker(fps=25.0)
    first = None
    for i in range(5):  # two faces drifting right; the small one lists first
        kept = tracker.update(faces_at((300 + i, 50, 320 + i, 70), (10 + i, 10, 110 + i, 110)), i, i * 40.0, 1000.0 + i)
        assert kept.track_id is not None and len(kept) == 2 and len(set(kept.track_id.tolist())) == 2
        ids = {int(f.xyxy[0] >= 300): int(f.track_id) for f in kept}  # type: ignore[arg-type]
        first = first or ids
        assert ids == first  # each face keeps its id
        # each kept face brings its own crop along (for Analyzer.embed)
        for face, crop in zip(kept, kept.crops):  # type: ignore[arg-type]
            assert int(crop[0, 0, 0]) == (0 if face.xyxy[0] >= 300 else 1)
    assert first is not None
    big, small = tracker.tracks[first[0]], tracker.tracks[first[1]]
    assert big.frames == small.frames == 5 and big.last_frame == 4 and big.first_wall == 1000.0
    assert not big.too_small and small.too_small  # 20 px is tracked, not embedded
    empty = tracker.update(Faces.empty(), 5, 200.0, 1005.0)
    assert len(empty) == 0 and empty.track_id is not None and empty.track_id.shape == (0,)


@dataclass
class FakeStats:
    fps: float = 0.0


@dataclass
class FakeSource:
    """A VideoSource's two members tracked_faces uses; its rate is known once decoding starts."""

    n: int
    stats: FakeStats = field(default_factory=FakeStats)

    def frames(self):
        self.stats.fps = 25.0
        for i in range(self.n):
            yield frame(i)


def test_tracked_faces_tracks_every_frame_and_forgets_lost_tracks() -> None:
    detected: list[int] = []

    def detect(pixels: np.ndarray) -> Faces:
        i = len(detected)
        detected.append(i)
        return faces_at((10 + i, 10, 110 + i, 110)) if i < 3 else Faces.empty()

    items = list(tracked_faces(FakeSource(3 + LOST_AFTER_FRAMES + 2), detect))  # type: ignore[arg-type]
    assert [it.frame.index for it in items] == list(range(len(items))) == detected
    assert [len(it.faces) for it in items[:4]] == [1, 1, 1, 0]
    assert len({int(t) for it in items[:3] for t in it.faces.track_id}) == 1  # type: ignore[union-attr]


def test_tracking_makes_its_tracker_at_the_first_frame_and_returns_lost_tracks() -> None:
    rate: list[float] = []
    tracking = Tracking(lambda: rate[-1] if rate else 0.0)
    assert tracking.tracker is None and tracking.lost(0) == [] and tracking.drain() == []
    rate.append(30.0)
    item = tracking.track(frame(0), faces_at((10, 10, 110, 110)))
    assert tracking.tracker is not None and item.frame.index == 0
    tid = int(item.faces.track_id[0])  # type: ignore[index]
    assert tracking.lost(LOST_AFTER_FRAMES) == []  # not yet
    assert [t.track_id for t in tracking.lost(LOST_AFTER_FRAMES + 1)] == [tid] and tracking.tracker.tracks == {}
