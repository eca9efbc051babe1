"""An annotated copy of what a watcher saw: the analysed frames (up to 30 a second), each tracked face boxed
with its track number, and the name and similarity once the track is identified.

It is a watcher observer, so it draws exactly the boxes, tracks and decisions the
alerts came from. Frames keep their stream times, so frames a live source dropped
leave gaps in time instead of speeding the video up.

Example:
    >>> with AnnotatedVideo("out/door.mp4") as video:                   # doctest: +SKIP
    ...     Watcher(svc, VideoSource("door.mp4"), WatchSettings("staff"), observer=video).run()
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from faceprint.errors import InvalidParameter
from faceprint.types import Face
from faceprint.video.alerts import Alert
from faceprint.video.sources import Frame

MATCHED_RGB = (46, 204, 113)  # an identified track
TRACKED_RGB = (241, 196, 15)  # not identified (yet)
_CODECS = ("libx264", "mpeg4")  # H.264 where FFmpeg has it, MPEG-4 Part 2 otherwise


class AnnotatedVideo:
    """Write annotated frames to an MP4 file (H.264, or MPEG-4 when H.264 is missing).

    Args:
        path: the file to write; its folder is created.
        max_fps: frames closer together than this allows are skipped in the output.
    """

    def __init__(self, path: str | Path, *, max_fps: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".mkv", ".mov"):
            raise InvalidParameter(f"an annotated video must be .mp4, .mkv or .mov, not {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frames = 0
        self._min_gap_ms = 1000.0 / max_fps
        self._labels: dict[int, str] = {}
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._last_pts = -1
        self._closed = False
        self._lock = threading.Lock()

    def __call__(self, frame: Frame, tracked: list[tuple[int, Face, Alert | None]]) -> None:
        for track_id, _, alert in tracked:
            if alert is not None:
                who = alert.external_image_id or alert.user_id or alert.face_id[:8]
                self._labels[track_id] = f"{who} {alert.similarity:.0f}"
        pts = int(round(frame.ms))
        if self._last_pts >= 0 and pts - self._last_pts < self._min_gap_ms * 0.9:
            return
        image = frame.pixels.copy()
        thickness = max(1, round(image.shape[1] / 480))
        for track_id, face, _ in tracked:
            label = self._labels.get(track_id)
            colour = MATCHED_RGB if label else TRACKED_RGB
            x0, y0, x1, y1 = (int(round(v)) for v in face.xyxy)
            cv2.rectangle(image, (x0, y0), (x1, y1), colour, thickness)
            _caption(image, f"#{track_id} {label}" if label else f"#{track_id}", (x0, y0), colour)
        _caption(image, f"{frame.ms / 1000:7.2f} s", (4, image.shape[0] - 4), (255, 255, 255))
        self._write(image, pts)

    def _write(self, image: np.ndarray, pts: int) -> None:
        with self._lock:
            if self._closed:  # a watcher still finishing after close(): never reopen the file
                return
            if self._container is None:
                self._open(image.shape[1], image.shape[0])
            assert self._container is not None and self._stream is not None
            if image.shape[1] != self._stream.width or image.shape[0] != self._stream.height:
                image = cv2.resize(image, (self._stream.width, self._stream.height))  # a reconnected source may change size
            if pts <= self._last_pts:
                pts = self._last_pts + 1
            out = av.VideoFrame.from_ndarray(image, format="rgb24")
            out.pts, out.time_base = pts, Fraction(1, 1000)
            for packet in self._stream.encode(out):
                self._container.mux(packet)
            self._last_pts = pts
            self.frames += 1

    def _open(self, width: int, height: int) -> None:
        codec = next((c for c in _CODECS if c in av.codecs_available), _CODECS[-1])
        container = av.open(str(self.path), "w")
        try:
            stream = container.add_stream(codec, rate=30)
        except Exception:
            container.close()
            raise
        self._container = container
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "26"}
        self._stream = stream

    def close(self) -> None:
        """Flush the encoder and finish the file (a run with no frames writes none)."""
        with self._lock:
            self._closed = True
            if self._container is None:
                return
            try:
                assert self._stream is not None
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
            finally:
                self._container.close()
                self._container = None

    def __enter__(self) -> AnnotatedVideo:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _caption(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Black text on a filled label whose bottom-left corner is ``at``."""
    scale = max(0.4, image.shape[1] / 1600)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = at
    top = max(0, y - th - base - 4)
    cv2.rectangle(image, (x, top), (x + tw + 4, top + th + base + 4), colour, -1)
    cv2.putText(image, text, (x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
