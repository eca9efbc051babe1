"""Attention rows from a sequence of frames: detect, track, measure, one row per person
and second, and those rows as CSV.

The frames and the tracker come from the caller (for a video file: a
``faceprint.video.sources.VideoSource`` and a ``faceprint.video.tracks.FaceTracker``),
so this layer needs no video code: anything with the attributes below will do.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from faceprint.attention.meter import AttentionMeter, AttentionRow

if TYPE_CHECKING:
    import numpy as np

    from faceprint.analysis.pipeline import Analyzer
    from faceprint.types import Face, Faces


class TimedFrame(Protocol):
    """One frame of a video: RGB pixels, its index and its time."""

    @property
    def pixels(self) -> np.ndarray: ...

    @property
    def index(self) -> int: ...

    @property
    def ms(self) -> float: ...  # from the start of the stream

    @property
    def wall(self) -> float: ...  # time.time() when it was decoded


class Tracker(Protocol):
    """Gives each frame's faces the id of the person they continue (FaceTracker does)."""

    def update(self, faces: Faces, frame_index: int, ms: float, wall: float) -> list[tuple[int, int, Face]]:
        """``(track id, row in faces, face)`` for each face it keeps."""
        ...

    def lost(self, frame_index: int) -> object:
        """Forget tracks not seen for a while."""
        ...


def attention_rows(frames: Iterable[TimedFrame], analyzer: Analyzer, tracker: Callable[[], Tracker], *, min_face_px: float, meter: AttentionMeter | None = None) -> list[AttentionRow]:
    """Track the faces of a sequence of frames and measure each one's attention on every frame.

    Nobody is identified: a person is a track, and the rows are per track and second.

    Args:
        frames: the frames, in order.
        analyzer: detects the faces and measures their attributes (``Engine.analyzer``).
        tracker: makes the tracker, called at the first frame: a video source knows its
            frame rate, which a tracker needs, only once it has started decoding.
        min_face_px: faces smaller than this (shorter side, in pixels) are tracked but
            not measured: the face mesh cannot read eyes that small.
        meter: the meter to fill (default: a new one with the standard rules).

    Returns:
        One row per (track, second) seen, in track then time order.

    Example:
        >>> from faceprint import Engine                                      # doctest: +SKIP
        >>> from faceprint.video.sources import VideoSource
        >>> from faceprint.video.tracks import MIN_FACE_PX, FaceTracker
        >>> source = VideoSource("class.mp4", pace=False)
        >>> with Engine("fast", workers=1) as engine:
        ...     rows = attention_rows(source.frames(), engine.analyzer, lambda: FaceTracker(source.stats.fps or 25.0), min_face_px=MIN_FACE_PX)
        >>> rows[0].track, rows[0].second, rows[0].facing, rows[0].perclos
    """
    meter = meter if meter is not None else AttentionMeter()
    tracking: Tracker | None = None
    for frame in frames:
        tracking = tracking or tracker()
        faces = analyzer.detect(frame.pixels)
        tracked = [(tid, row) for tid, row, face in tracking.update(faces, frame.index, frame.ms, frame.wall) if min(face.size_wh) >= min_face_px]
        if tracked:
            picked = faces[[row for _, row in tracked]]
            for (tid, _), attrs in zip(tracked, analyzer.attributes(frame.pixels, picked)):  # type: ignore[arg-type]
                meter.observe(tid, frame.ms, attrs)
        tracking.lost(frame.index)
    return meter.rows()


def rows_csv(rows: list[AttentionRow]) -> str:
    """The rows as CSV text, with a header of AttentionRow's field names.

    Example:
        >>> rows_csv([])
        'track,second,frames,facing,eyes_closed,perclos,head_yaw,head_pitch,gaze_yaw,gaze_pitch\\r\\n'
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(AttentionRow.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(r.to_dict() for r in rows)
    return out.getvalue()
