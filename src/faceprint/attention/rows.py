"""Attention rows from a sequence of tracked frames: measure, one row per person and
second, and those rows as CSV.

The frames come from the caller already detected and tracked (for a video file:
``faceprint.video.stream.tracked_faces``, whose ``TrackedFrame`` fits
:class:`TrackedFaces`), so this layer needs no video code and has no loop of its own.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Iterable, Protocol

import numpy as np

from faceprint.attention.meter import AttentionMeter, AttentionRow
from faceprint.errors import InvalidParameter

if TYPE_CHECKING:
    from faceprint.analysis.attributes import FaceAttributes
    from faceprint.types import Faces


class TimedFrame(Protocol):
    """One frame of a video: RGB pixels and its time."""

    @property
    def pixels(self) -> np.ndarray: ...

    @property
    def ms(self) -> float: ...  # from the start of the stream


class TrackedFaces(Protocol):
    """One frame and its tracked faces (``faceprint.video.stream.TrackedFrame`` is one)."""

    @property
    def frame(self) -> TimedFrame: ...

    @property
    def faces(self) -> Faces: ...  # track_id set


class Measurer(Protocol):
    """Measures faces' attributes (``Analyzer`` does)."""

    def attributes(self, image: np.ndarray, faces: Faces) -> list[FaceAttributes]: ...


def attention_rows(tracked: Iterable[TrackedFaces], analyzer: Measurer, *, min_face_px: float, meter: AttentionMeter | None = None) -> list[AttentionRow]:
    """Measure the attention of each tracked face on every frame.

    Nobody is identified: a person is a track, and the rows are per track and second.

    Args:
        tracked: the frames, in order, each with its faces, ``track_id`` set.
        analyzer: measures the faces' attributes (``Engine.analyzer``).
        min_face_px: faces smaller than this (shorter side, in pixels) are tracked but
            not measured: the face mesh cannot read eyes that small.
        meter: the meter to fill (default: a new one with the standard rules).

    Returns:
        One row per (track, second) seen, in track then time order.

    Example:
        >>> from faceprint import Engine                                      # doctest: +SKIP
        >>> from faceprint.video.sources import VideoSource
        >>> from faceprint.video.stream import tracked_faces
        >>> from faceprint.video.tracks import MIN_FACE_PX
        >>> source = VideoSource("class.mp4", pace=False)
        >>> with Engine("fast", workers=1) as engine:
        ...     rows = attention_rows(tracked_faces(source, engine.analyzer.detect), engine.analyzer, min_face_px=MIN_FACE_PX)
        >>> rows[0].track, rows[0].second, rows[0].facing, rows[0].perclos
    """
    meter = meter if meter is not None else AttentionMeter()
    for item in tracked:
        faces = item.faces
        if faces.track_id is None:
            raise InvalidParameter("attention_rows needs tracked faces (Faces.track_id set)")
        if not len(faces):
            continue
        box = faces.xyxy.astype(np.float64)  # as Face.size_wh computes it: the same faces at the 28 px edge
        wh = box[:, 2:] - box[:, :2]
        picked = faces[wh.min(axis=1) >= min_face_px]
        if len(picked):
            for tid, attrs in zip(picked.track_id.tolist(), analyzer.attributes(item.frame.pixels, picked)):
                meter.observe(tid, item.frame.ms, attrs)
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
