"""Where frames come from: video files, RTSP/HTTP streams and camera devices, decoded by
PyAV (FFmpeg), scaled to a working size on decode, paced, and reconnected when a live
stream drops.

A file is opened only as one of the plain containers in :data:`CONTAINERS`, named to
FFmpeg explicitly: its format is read from its first bytes here (or given, as the
format an upload was found to be), never left to FFmpeg's guess from the name and
contents. Playlists, scripts and session descriptions (hls, concat, image2, sdp,
rtsp, dash...) name other files or addresses that FFmpeg would open, so a file in one
of them is refused before any demuxer runs; and FFmpeg may open nothing but local
files on a file's behalf.

Example:
    >>> for frame in VideoSource("door.mp4", pace=False).frames():   # doctest: +SKIP
    ...     print(frame.index, frame.ms, frame.pixels.shape)
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from faceprint.errors import InvalidParameter
from faceprint.video.urls import redact

log = logging.getLogger(__name__)

LIVE_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
DEFAULT_MAX_WIDTH = 960  # detection on 1080p frames scaled to this is real time on 2 cores

# FFmpeg's demuxers for plain container files: each reads only the bytes it is given.
CONTAINERS = ("mov", "matroska", "mpegts", "avi", "flv", "mpeg", "ogg", "asf")
CONTAINER_NAMES = "MP4/MOV, Matroska/WebM, MPEG-TS, AVI, FLV, MPEG-PS, Ogg or ASF"
# Whatever a demuxer might want to open besides the file itself; the ones above open
# nothing, so this only matters if one of them ever learns to.
SAFE_OPTIONS = {"protocol_whitelist": "file"}
_QUICKTIME_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
SNIFF_BYTES = 1024


def container_format(head: bytes) -> str | None:
    """The plain container (FFmpeg's demuxer name) that a file's first bytes announce,
    or None for anything else: a playlist or script starts with text, never with a
    container's magic bytes."""
    if head[4:8] in _QUICKTIME_BOXES:
        return "mov"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"FLV\x01":
        return "flv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:16] == _ASF_GUID:
        return "asf"
    # MPEG-TS: a sync byte every 188 bytes from the first, or every 192 after a 4-byte
    # timestamp (M2TS)
    for first, step in ((0, 188), (4, 192)):
        if len(head) > first + 2 * step and all(head[first + k * step] == 0x47 for k in range(3)):
            return "mpegts"
    return None


def file_format(path: Path) -> str:
    """The plain container of a file, read from its first bytes.

    Raises:
        InvalidParameter: the file is not in one. OSError: it cannot be read.
    """
    with path.open("rb") as f:
        fmt = container_format(f.read(SNIFF_BYTES))
    if fmt is None:
        raise InvalidParameter(f"{path.name} is not a video in a plain container ({CONTAINER_NAMES})")
    return fmt


def open_container(target: str | io.BytesIO, fmt: str) -> av.container.InputContainer:
    """Open a file (an absolute path) or bytes as the plain container ``fmt``.

    Raises:
        InvalidParameter: ``fmt`` is not a plain container.
        av.error.FFmpegError: the data is not that container.
    """
    if fmt not in CONTAINERS:
        raise InvalidParameter(f"a video must be in a plain container ({CONTAINER_NAMES}), not {fmt!r}")
    options = dict(SAFE_OPTIONS)
    if fmt == "mov":
        options["enable_drefs"] = "0"  # QuickTime data references name other files (off by default)
    return av.open(target, format=fmt, container_options=options, timeout=10)


def probe_upload(data: bytes) -> str:
    """The container of an uploaded video, found from its bytes and confirmed by opening
    it as that container; it must hold a video stream.

    Raises:
        InvalidParameter: not a plain container, or no video stream faceprint can read.
    """
    fmt = container_format(data[:SNIFF_BYTES])
    if fmt is None:
        raise InvalidParameter(f"the upload is not a video in a plain container ({CONTAINER_NAMES})")
    try:
        with open_container(io.BytesIO(data), fmt) as container:
            if not container.streams.video:
                raise InvalidParameter("the upload has no video stream")
    except (av.error.FFmpegError, OSError, ValueError):
        raise InvalidParameter("the upload is not a video faceprint can read") from None
    return fmt


@dataclass(frozen=True)
class Frame:
    """One decoded frame: RGB pixels at the working size, its index and stream time."""

    pixels: np.ndarray
    index: int
    ms: float  # presentation time from the start of the stream
    wall: float  # time.time() when it was decoded (for alert latency)
    scale: float  # working size / original size


@dataclass
class SourceStats:
    frames: int = 0
    corrupt: int = 0  # packets or frames that failed to decode and were skipped
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    fps: float = 0.0  # the stream's own frame rate
    width: int = 0
    height: int = 0
    codec: str = ""
    format: str = ""
    duration_ms: float = 0.0  # 0 for live streams


class VideoSource:
    """Args:
    source: a file path, a URL (rtsp, http...) or a camera (``/dev/video0`` or
        ``camera:0``).
    pace: deliver frames no faster than their timestamps (files play at real
        time); live sources are paced by nature.
    max_width: frames wider than this are scaled down on decode.
    reconnect: for live sources, reopen after a drop with exponential backoff
        (1 s doubling to 30 s) until stopped; files end at their end.
    format: a file's container (one of :data:`CONTAINERS`), when it is already
        known; by default it is read from the file's first bytes.
    data: the video itself, held in memory (an upload the store decrypted);
        ``source`` then only names it.
    """

    def __init__(
        self, source: str | Path, *, pace: bool = True, max_width: int = DEFAULT_MAX_WIDTH, reconnect: bool | None = None,
        format: str | None = None, data: bytes | None = None,
    ) -> None:  # fmt: skip
        self.source = str(source)
        self.live = data is None and (self.source.startswith(LIVE_PREFIXES) or self.source.startswith(("/dev/video", "camera:")))
        if not self.live and data is None and not Path(self.source).is_file():
            raise InvalidParameter(f"no video file at {self.source}")
        self.format = format
        self._data = data
        self.pace = pace
        self.max_width = max_width
        self.reconnect = self.live if reconnect is None else reconnect
        self.stats = SourceStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def frames(self) -> Iterator[Frame]:
        """Decoded frames until the end (files) or until :meth:`stop`."""
        backoff = 1.0
        index = 0
        offset_ms = last_ms = 0.0
        attempt = 0
        while not self._stop.is_set():
            if attempt:
                self.stats.reconnects += 1  # every attempt after the first, failed or not
            attempt += 1
            try:
                container = self._open()
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                if not self.reconnect:
                    raise InvalidParameter(f"cannot open {redact(self.source)}: {redact(str(exc))}") from None
                self._note_drop(f"open failed: {exc}", backoff)
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 30.0)
                continue
            try:
                started_wall, first_ms, base_s = time.monotonic(), None, None
                for frame in self._decode(container):
                    if base_s is None:  # streams start at arbitrary times (cameras, cut files)
                        base_s = frame.time or 0.0
                    ms = offset_ms + ((frame.time or 0.0) - base_s) * 1000.0
                    if first_ms is None:
                        first_ms = ms
                    if self.pace and not self.live:
                        delay = (ms - first_ms) / 1000.0 - (time.monotonic() - started_wall)
                        if delay > 0 and self._stop.wait(delay):
                            return
                    last_ms = ms
                    pixels, scale = self._pixels(frame)
                    self.stats.frames += 1
                    yield Frame(pixels, index, ms, time.time(), scale)
                    index += 1
                    backoff = 1.0
                    if self._stop.is_set():
                        return
                if not self.reconnect:
                    return
                self._note_drop("the stream ended", backoff)
            except av.error.FFmpegError as exc:
                if not self.reconnect:
                    self.stats.errors.append(str(exc))
                    return
                self._note_drop(f"the stream dropped: {exc}", backoff)
            finally:
                container.close()
            offset_ms = last_ms + 1.0  # a reopened stream restarts its clock; ours keeps counting
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, 30.0)

    # -- internals ------------------------------------------------------------------
    def _open(self) -> av.container.InputContainer:
        if self.source.startswith("camera:") or self.source.startswith("/dev/video"):
            device = self.source if self.source.startswith("/dev/") else f"/dev/video{self.source.split(':', 1)[1]}"
            return av.open(device, format="v4l2", timeout=10)
        if self.live:
            options = {"rtsp_transport": "tcp"} if self.source.startswith("rtsp") else {}
            container = av.open(self.source, options=options, timeout=10)
        else:
            container = self._open_file()
        if not container.streams.video:
            container.close()
            raise InvalidParameter(f"{redact(self.source)} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.stats.fps = float(rate) if rate else 0.0
        self.stats.width, self.stats.height = stream.codec_context.width, stream.codec_context.height
        self.stats.codec, self.stats.format = stream.codec_context.name, container.format.name
        if stream.duration and stream.time_base:
            self.stats.duration_ms = float(stream.duration * stream.time_base) * 1000.0
        elif container.duration:  # microseconds, and may include other streams
            self.stats.duration_ms = container.duration / 1000.0
        return container

    def _open_file(self) -> av.container.InputContainer:
        if self._data is not None:
            return open_container(io.BytesIO(self._data), self.format or "")
        path = Path(self.source).resolve()  # absolute: no "name:" read as a protocol
        return open_container(str(path), self.format or file_format(path))

    def _decode(self, container: av.container.InputContainer) -> Iterator[av.VideoFrame]:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                self.stats.corrupt += 1  # a damaged packet: skip it, keep going
                continue
            yield from frames

    def _pixels(self, frame: av.VideoFrame) -> tuple[np.ndarray, float]:
        scale = min(1.0, self.max_width / frame.width)
        w, h = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
        return frame.to_ndarray(format="rgb24", width=w, height=h), w / frame.width

    def _note_drop(self, why: str, backoff: float) -> None:
        why = redact(why)  # an FFmpeg error names the URL, which may hold a password
        self.stats.errors.append(why)
        del self.stats.errors[:-20]
        log.warning("video source dropped; reconnecting", extra={"source": redact(self.source), "why": why, "retry_s": backoff})
