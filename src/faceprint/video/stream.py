"""The one frames -> detect -> track loop: each frame with its faces, ``track_id`` filled.

Everything that follows people through a video starts here: the watcher (alerts),
``detect_video`` and ``search_video`` (GetFaceDetection, GetFaceSearch) and the
attention command. :func:`tracked_faces` is the loop for callers that take a video
in one thread; :class:`Tracking` is its per-frame step, for the watcher, which
detects in one thread and tracks in another and needs the tracks it loses.

Example:
    >>> source = VideoSource("lobby.mp4", pace=False)                         # doctest: +SKIP
    >>> for item in tracked_faces(source, engine.analyzer.detect):  # doctest: +SKIP
    ...     print(item.frame.ms, item.faces.track_id)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from faceprint.types import Faces
from faceprint.video.sources import Frame, VideoSource
from faceprint.video.tracks import FaceTracker, Track

DEFAULT_FPS = 25.0  # when the source cannot tell its frame rate

Detect = Callable[[np.ndarray], Faces]


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class TrackedFrame:
    """One frame and the faces the tracker kept on it.

    Attributes:
        frame: the decoded frame (RGB pixels, index, stream and wall time).
        faces: the kept faces, ``track_id`` set (ByteTrack may drop a detection it
            cannot place yet, so these can be fewer than the detector found).
    """

    frame: Frame
    faces: Faces


class Tracking:
    """One stream's tracker, made at its first frame: a source knows its frame rate,
    which ByteTrack needs, only once it has started decoding.

    Args:
        fps: gives the stream's frame rate (0 or None: unknown, 25 is assumed).

    Example:
        >>> tracking = Tracking(lambda: source.stats.fps)                      # doctest: +SKIP
        >>> item = tracking.track(frame, analyzer.detect(frame.pixels))  # doctest: +SKIP
        >>> gone = tracking.lost(frame.index)   # after this frame's work: tracks to settle  # doctest: +SKIP
    """

    def __init__(self, fps: Callable[[], float | None]) -> None:
        self._fps = fps
        self.tracker: FaceTracker | None = None

    def track(self, frame: Frame, faces: Faces) -> TrackedFrame:
        """Track one frame's detections.

        Args:
            frame: the frame the faces were found on.
            faces: its detections (any filtering, such as regions, already done).

        Returns:
            The frame and its kept faces, ``track_id`` set; ``self.tracker.tracks``
            holds each track's state.
        """
        if self.tracker is None:
            self.tracker = FaceTracker(self._fps() or DEFAULT_FPS)
        return TrackedFrame(frame, self.tracker.update(faces, frame.index, frame.ms, frame.wall))

    def lost(self, frame_index: int) -> list[Track]:
        """Tracks not seen for a while, forgotten and returned (see ``FaceTracker.lost``).

        Args:
            frame_index: the frame whose work is done.

        Returns:
            The lost tracks, to decide on; none before the first frame.
        """
        return self.tracker.lost(frame_index) if self.tracker is not None else []

    def drain(self) -> list[Track]:
        """Every remaining track, at the end of the stream (none before the first frame).

        Returns:
            The tracks, forgotten by the tracker, to decide on.
        """
        return self.tracker.drain() if self.tracker is not None else []


def tracked_faces(source: VideoSource, detect: Detect) -> Iterator[TrackedFrame]:
    """Decode ``source``, detect each frame's faces and track them.

    A frame's lost tracks are forgotten when the next frame is asked for, so whatever
    the caller does with a frame happens before (as the watcher does it).

    Args:
        source: the video (``VideoSource``); its frames are decoded here.
        detect: finds one frame's faces, e.g. ``engine.analyzer.detect``.

    Returns:
        One :class:`TrackedFrame` per decoded frame, in order.

    Example:
        >>> with Engine("fast", workers=1) as engine:                          # doctest: +SKIP
        ...     ids = {int(t) for item in tracked_faces(VideoSource("a.mp4", pace=False), engine.analyzer.detect) for t in item.faces.track_id}
    """
    tracking = Tracking(lambda: source.stats.fps)
    for frame in source.frames():
        yield tracking.track(frame, detect(frame.pixels))
        tracking.lost(frame.index)
