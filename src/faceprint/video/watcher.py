"""Watch one stream against a collection: decode, detect, track, decide, alert.

Three threads per stream, in a pipeline. The decoder fills a bounded queue; when
analysis falls behind a live source, the oldest frames are dropped and counted (files
wait instead, so no frame of a recording is lost). The detector finds the faces of
every frame. The analyser tracks them (``stream.Tracking``, the step that
``stream.tracked_faces`` runs in one thread), embeds each person on a few good frames,
and decides once per track (see ``tracks.py``). Detection of one frame runs while the
faces of the previous one are embedded, so the two cores of a small machine are both
busy. Alerts go to the sinks, each with its own queue.

Example:
    >>> with Service() as svc:                                              # doctest: +SKIP
    ...     w = Watcher(svc, VideoSource("door.mp4"), WatchSettings("staff"), [JsonLinesSink(sys.stdout)])
    ...     w.run()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from faceprint.constants import DEFAULT_WATCH_SIMILARITY  # 1 false match in 100,000 comparisons
from faceprint.imaging import box_fractions, encode_jpeg
from faceprint.search import check_contract, search_collection
from faceprint.types import Face, Faces
from faceprint.video.alerts import Alert, Sink
from faceprint.video.backend import Backend
from faceprint.video.regions import Polygon, inside
from faceprint.video.sources import Frame, VideoSource
from faceprint.video.stream import Tracking
from faceprint.video.tracks import MIN_FACE_PX, Sample, Track, sample_score
from faceprint.video.urls import redact

log = logging.getLogger(__name__)

TOO_SMALL_AFTER_MS = 1000.0  # a face in view this long that never got large enough is reported as such
# A track out of sight this many frames is decided on what it has, without waiting for
# the tracker to give it up (it may come back: new samples then give a new decision).
DECIDE_UNSEEN_FRAMES = 6
CANDIDATES = 5  # hits rated per decision


@dataclass
class WatchSettings:
    """What one watcher looks for and where: the watch list, the bar, the regions.

    Args:
        collection: the watch list.
        min_similarity: similarity an identity decision must reach (50: 1 in 100,000).
        per_frame: decide on every embedded frame alone instead of per track (kept to
            measure what tracking buys; not for production).
        regions: where in the frame faces are searched (``regions.parse``); none: everywhere.
            It may be replaced while the watcher runs.
        starts_at: frames decoded before this time (Unix seconds) are skipped, not analysed.
        max_duration_s: stop after this much stream time from the first analysed frame.

    Example:
        >>> WatchSettings("staff", min_similarity=60).per_frame
        False
    """

    collection: str
    min_similarity: float = DEFAULT_WATCH_SIMILARITY
    per_frame: bool = False
    regions: list[Polygon] = field(default_factory=list)
    starts_at: float | None = None
    max_duration_s: float | None = None


@dataclass(frozen=True)
class Decision:
    """One identity decision on a track: matched, not matched, or not identifiable
    (the face never got large enough to embed; after 1 s in view it is said so)."""

    track_id: int
    ms: float
    matched: bool
    similarity: float
    samples: int
    latency_ms: float  # from the track's first frame, however small the face was then
    reason: str = ""  # "match", "no match" or "face too small"
    # from the first frame where the face was large enough to recognise (MIN_FACE_PX);
    # None when it never was
    identifiable_latency_ms: float | None = None


@dataclass
class WatchStats:
    """The counters of one watcher, written by its threads (read them through
    :meth:`Watcher.report`, which adds the source's and the sinks')."""

    frames_analyzed: int = 0
    frames_dropped: int = 0  # live frames skipped because analysis was behind
    frames_before_start: int = 0  # decoded before WatchSettings.starts_at
    faces: int = 0
    faces_outside_regions: int = 0  # detected, but not searched
    embeddings: int = 0
    tracks: int = 0
    decisions: list[Decision] = field(default_factory=list)
    alerts: int = 0
    started: float = field(default_factory=time.monotonic)
    detect_s: float = 0.0  # time spent detecting (the detector thread)
    track_s: float = 0.0  # tracking, embedding and deciding (the analyser thread)


Observer = Callable[[Frame, list[tuple[int, Face, "Alert | None"]]], None]


class Watcher:
    """One stream watched against one collection, in three threads (see the module).

    Subclass or wrap it to change what is done with frames; new outputs belong in a
    :class:`~faceprint.video.alerts.Sink` or the ``observer``, not here.

    Args:
        service: the backend whose engine analyses and whose store is searched.
        source: the stream or file to decode.
        settings: the watch list, threshold and regions.
        sinks: where alerts go (each has its own queue, so a slow one delays no other).
        name: names alerts, threads and log lines; default: the source with any
            password redacted.
        observer: called from the analyser thread with each analysed frame and its
            ``(track_id, face, alert or None)`` (a preview window, a test); keep it quick.
        on_end: called once from the watcher's last thread when all its work is done.

    Raises:
        NotFound: no such collection.
        InvalidParameter: the collection holds another embedder's vectors.

    Example:
        >>> w = Watcher(svc, VideoSource("rtsp://cam/1"), WatchSettings("staff"), sinks)  # doctest: +SKIP
        >>> w.start(); ...; w.stop(); w.report()["alerts"]                                 # doctest: +SKIP
        2
    """

    def __init__(
        self,
        service: Backend,
        source: VideoSource,
        settings: WatchSettings,
        sinks: list[Sink] | None = None,
        *,
        name: str | None = None,
        observer: Observer | None = None,
        on_end: Callable[[Watcher], None] | None = None,
    ) -> None:
        self.service = service
        self.source = source
        self.settings = settings
        self.sinks = sinks or []
        self.name = name or redact(source.source)  # it names alerts, threads and log lines: no password in it
        self.observer = observer
        self.stats = WatchStats()
        self.error: str | None = None
        self.end_reason: str | None = None  # why it ended on its own, when not by error or stop()
        self._on_end = on_end  # called from the watcher's last thread once all its work is done
        self._frames: queue.Queue[Frame | None] = queue.Queue(maxsize=64)
        # Small: detections wait here only while the analyser finishes a frame.
        self._detected: queue.Queue[tuple[Frame, Faces] | None] = queue.Queue(maxsize=4)
        self._threads: list[threading.Thread] = []
        self._ready = threading.Barrier(3)  # the decoder starts once both analysis threads are warm
        self._model = service.engine.analyzer.embedder.contract
        # NotFound, or another embedder's collection, now rather than in a thread later
        check_contract(service.engine, service.store, settings.collection)

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Start the decoder, detector and analyser threads and return at once.

        The decoder waits for both analysis threads to build their networks, so a
        live stream's clock starts when the watcher can keep up. A failure later is
        not raised: it is in :attr:`error` and ``report()["error"]``.
        """
        self.stats.started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._decode, name=f"faceprint-decode-{self.name}", daemon=True),
            threading.Thread(target=self._detect, name=f"faceprint-detect-{self.name}", daemon=True),
            threading.Thread(target=self._analyze, name=f"faceprint-watch-{self.name}", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop decoding, finish the frames already queued, free the threads.

        Args:
            timeout: seconds to wait for each thread; a thread still busy after it
                is left to end on its own (they are daemon threads).
        """
        self.source.stop()
        for t in self._threads:
            t.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads to end (the source ended, or :meth:`stop` was called).

        Args:
            timeout: seconds to wait for each thread; None: as long as it takes.
        """
        for t in self._threads:
            t.join(timeout)

    @property
    def running(self) -> bool:
        """Whether any of the watcher's threads is still alive."""
        return any(t.is_alive() for t in self._threads)

    def run(self) -> WatchStats:
        """Watch until the source ends (files) or :meth:`stop` is called.

        Returns:
            The watcher's counters, decisions included. A failure is not raised: it
            is in :attr:`error` (and ``report()``).

        Example:
            >>> stats = Watcher(svc, VideoSource("door.mp4"), WatchSettings("staff")).run()  # doctest: +SKIP
            >>> [d.reason for d in stats.decisions]                                          # doctest: +SKIP
            ['match', 'no match']
        """
        self.start()
        self.join()
        return self.stats

    # -- threads ------------------------------------------------------------------
    def _warm(self, build: Callable[[], None] | None = None) -> None:
        """Build this thread's networks (if given), then wait for the other threads: a
        stream's clock starts when the watcher can keep up with it."""
        try:
            if build is not None:
                build()
        finally:
            try:
                self._ready.wait(timeout=60)
            except threading.BrokenBarrierError:
                pass

    def _decode(self) -> None:
        try:
            self._warm()
            first_ms: float | None = None
            limit = self.settings.max_duration_s
            for frame in self.source.frames():
                if self.settings.starts_at is not None and frame.wall < self.settings.starts_at:
                    self.stats.frames_before_start += 1
                    continue
                first_ms = frame.ms if first_ms is None else first_ms
                if limit is not None and frame.ms - first_ms >= limit * 1000.0:
                    self.end_reason = f"stopped after {limit:g} s of stream, as its StopSelector asked"
                    self.source.stop()
                    break
                if self.source.live:
                    while True:
                        try:
                            self._frames.put_nowait(frame)
                            break
                        except queue.Full:  # behind a live source: drop the oldest frame
                            try:
                                self._frames.get_nowait()
                                self.stats.frames_dropped += 1
                            except queue.Empty:
                                pass
                else:
                    self._frames.put(frame)
        except Exception as exc:  # noqa: BLE001 - reported in the stats, the stream stops
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("video source failed", extra={"stream": self.name, "error": self.error})
        finally:
            self._frames.put(None)

    def _detect(self) -> None:
        detector = self.service.engine.analyzer.detector
        try:
            self._warm(lambda: detector.detect(np.zeros((64, 64, 3), np.uint8)))
            while (frame := self._frames.get()) is not None:
                started = time.perf_counter()
                faces = detector.detect(frame.pixels)
                self.stats.detect_s += time.perf_counter() - started
                self._detected.put((frame, faces))
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            while self._frames.get() is not None:  # let the decoder finish
                pass
        finally:
            self._detected.put(None)

    def _analyze(self) -> None:
        tracking = Tracking(lambda: self.source.stats.fps)  # the rate is known once a frame is
        try:
            self._warm(self.service.engine.analyzer.warm_up)
            while (item := self._detected.get()) is not None:
                started = time.perf_counter()
                self._step(tracking, *item)
                self.stats.track_s += time.perf_counter() - started
            for track in tracking.drain():
                self._decide(track, track.last_ms, lost=True)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            while self._detected.get() is not None:  # let the detector finish
                pass
        finally:
            if self._on_end is not None:
                self._on_end(self)

    def _fail(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        log.exception("stream analysis failed", extra={"stream": self.name})
        self.source.stop()

    # -- one frame --------------------------------------------------------------
    def _step(self, tracking: Tracking, frame: Frame, faces: Faces) -> None:
        analyzer = self.service.engine.analyzer
        self.stats.frames_analyzed += 1
        self.stats.faces += len(faces)
        regions = self.settings.regions
        if regions and len(faces):
            h, w = frame.pixels.shape[:2]
            keep = inside(faces.xyxy / np.array([w, h, w, h], np.float32), regions)
            self.stats.faces_outside_regions += int(len(keep) - keep.sum())
            faces = faces[keep]
        # the same step as tracked_faces (stream.py); detection ran in another thread
        tracked = tracking.track(frame, faces).faces
        tracker = tracking.tracker
        assert tracker is not None  # made by its first track()
        seen = [(int(face.track_id), face) for face in tracked]  # type: ignore[arg-type]
        self.stats.tracks = max(self.stats.tracks, max((tid for tid, _ in seen), default=0))
        wanted: list[tuple[Track, int, Face, float]] = []
        for i, (tid, face) in enumerate(seen):
            track = tracker.tracks[tid]
            quality = sample_score(face)
            size = min(face.size_wh)
            if (self.settings.per_frame and size >= MIN_FACE_PX) or track.wants_sample(quality, frame.ms, size):
                wanted.append((track, i, face, quality))
        alerts: dict[int, Alert] = {}
        if wanted:
            embedded = analyzer.embed(frame.pixels, tracked[np.array([i for _, i, _, _ in wanted])])
            self.stats.embeddings += len(wanted)
            for (track, _, face, quality), vector in zip(wanted, embedded.embedding):  # type: ignore[arg-type]
                sample = Sample(vector, quality, frame.ms, face, _crop(frame.pixels, face), (frame.pixels.shape[1], frame.pixels.shape[0]), frame.wall)
                if self.settings.per_frame:  # the comparison mode: each frame decided alone
                    track.samples, track.matched, track.version = [sample], False, track.version + 1
                elif not track.add(sample) or track.matched:
                    continue
                if track.ready(frame.ms, lost=False) or self.settings.per_frame:
                    alert = self._decide(track, frame.ms, lost=False, frame=frame)
                    if alert is not None:
                        alerts[track.track_id] = alert
        for tid, _ in seen:
            track = tracker.tracks[tid]
            if track.too_small and not track.small_reported and frame.ms - track.first_ms >= TOO_SMALL_AFTER_MS:
                track.small_reported = True
                latency = (time.time() - track.first_wall) * 1000.0
                self.stats.decisions.append(Decision(track.track_id, frame.ms, False, 0.0, 0, latency, "face too small"))
        for track in tracker.tracks.values():
            if frame.index - track.last_frame >= DECIDE_UNSEEN_FRAMES and track.version > track.decided_version:
                self._decide(track, frame.ms, lost=True)
        for track in tracking.lost(frame.index):
            self._decide(track, frame.ms, lost=True)
        if self.observer is not None:
            self.observer(frame, [(tid, face, alerts.get(tid)) for tid, face in seen])

    def _decide(self, track: Track, ms: float, *, lost: bool, frame: Frame | None = None) -> Alert | None:
        if not track.samples or (lost and track.version <= track.decided_version) or track.matched:
            return None
        vector = track.samples[-1].embedding if self.settings.per_frame else track.template()
        # a few candidates: the rate depends on both faces, so the nearest by cosine
        # may fail its own bar where the next one passes
        found = search_collection(self.service.engine, self.service.store, self.settings.collection, vector, min_similarity=self.settings.min_similarity, max_faces=CANDIDATES, action="StreamFaceSearch")
        track.decided_version = track.version
        now = time.time()
        latency = (now - track.first_wall) * 1000.0  # first frame decoded -> decided now
        identifiable = (now - track.sized_wall) * 1000.0
        if not found.matches:
            why = f"refused: {found.refusal}" if found.refusal else "no match"
            self.stats.decisions.append(Decision(track.track_id, ms, False, 0.0, len(track.samples), latency, why, identifiable))
            return None
        hit, match = found.matches[0], found.matches[0].match
        track.matched = not self.settings.per_frame
        self.stats.decisions.append(Decision(track.track_id, ms, True, match.similarity, len(track.samples), latency, "match", identifiable))
        best = track.best
        assert best is not None
        alert = Alert(
            stream=self.name,
            timestamp_ms=round(ms, 1),
            first_seen_ms=round(track.first_ms, 1),
            track_id=track.track_id,
            collection=self.settings.collection,
            face_id=hit.face.face_id,
            external_image_id=hit.face.external_image_id,
            user_id=hit.face.user_id,
            similarity=round(match.similarity, 2),
            false_match_rate=match.false_match_rate,
            model=self._model,
            bounding_box=box_fractions(best.face.xyxy, best.frame_wh),
            crop_jpeg=encode_jpeg(best.crop),
            samples=len(track.samples),
            latency_ms=round(latency, 1),
            wall_time=time.time(),
        )
        self.stats.alerts += 1
        for sink in self.sinks:
            sink.offer(alert)
        return alert

    def report(self) -> dict[str, object]:
        """Counters for the CLI, the API and the benchmark; safe to call while running.

        Returns:
            A JSON-ready dict: the source's, the watcher's and each sink's counters,
            ``analysis_fps`` (analysis work per second, as if one thread did it) and
            ``error`` (None unless the stream or its analysis failed).
        """
        elapsed = time.monotonic() - self.stats.started
        decided = self.stats.decisions
        return {
            "stream": self.name,
            "frames_decoded": self.source.stats.frames,
            "frames_analyzed": self.stats.frames_analyzed,
            "frames_dropped": self.stats.frames_dropped,
            "frames_before_start": self.stats.frames_before_start,
            "corrupt_packets": self.source.stats.corrupt,
            "reconnects": self.source.stats.reconnects,
            "source_errors": list(self.source.stats.errors[-5:]),
            "faces": self.stats.faces,
            "faces_outside_regions": self.stats.faces_outside_regions,
            "embeddings": self.stats.embeddings,
            "tracks": self.stats.tracks,
            "decisions": len(decided),
            "alerts": self.stats.alerts,
            # frames per second of analysis work (detection plus the rest), were it one thread
            "analysis_fps": self.stats.frames_analyzed / busy if (busy := self.stats.detect_s + self.stats.track_s) else 0.0,
            "elapsed_s": elapsed,
            "sinks": _sink_stats(self.sinks),
            "error": self.error,
        }


def _sink_stats(sinks: list[Sink]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for i, sink in enumerate(sinks):
        out[sink.name if sink.name not in out else f"{sink.name}#{i}"] = sink.stats()
    return out


def _crop(pixels: np.ndarray, face: Face, margin: float = 0.25) -> np.ndarray:
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = face.xyxy
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    a, b = int(max(0, x0 - mx)), int(max(0, y0 - my))
    c, d = int(min(w, x1 + mx)), int(min(h, y1 + my))
    return pixels[b:d, a:c].copy()
