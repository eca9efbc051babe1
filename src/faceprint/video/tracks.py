"""Faces followed across frames, and one identity decision per person rather than per frame.

ByteTrack (from ``supervision``) links each frame's detections into tracks: it keeps
low-confidence boxes that continue a track, so a face turning away for a few frames
keeps its id. Each track is embedded only a few times, on its best-quality frames
(large, frontal, confident), and decided once from the mean of those embeddings: a
single blurred or turned frame can no longer raise an alarm on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from faceprint.types import Face, Faces

MAX_SAMPLES = 3  # embeddings per track
MIN_GAP_MS = 150.0  # between two samples of one track
REFRESH_GAP_MS = 500.0  # once a track has its samples, a better frame replaces one at most this often
MIN_FACE_PX = 28.0  # smaller faces (at the working size) are tracked but not embedded
DECIDE_AFTER_MS = 300.0  # with two samples; one sample suffices after ...
DECIDE_ALONE_MS = 800.0
LOST_AFTER_FRAMES = 30
CHECK_MATCHED_MS = 1000.0
# Two views of one person score well above this; different people rarely do (SFace:
# about 1 impostor pair in 20 reaches 0.25). Below it, a track has changed person.
SAME_PERSON_COSINE = 0.25


def sample_score(face: Face) -> float:
    """How good a frame of this face is for recognition: size x confidence x frontality."""
    x0, y0, x1, y1 = face.xyxy
    size = min(x1 - x0, y1 - y0)
    eyes, nose = face.landmarks[:2], face.landmarks[2]
    eye_dist = float(np.linalg.norm(eyes[1] - eyes[0])) + 1e-6
    yaw = abs(float(nose[0] - eyes.mean(axis=0)[0])) / eye_dist  # 0 frontal, ~0.5 profile
    return float(size * face.score * max(0.0, 1.0 - 1.5 * yaw))


@dataclass(eq=False)  # holds arrays: compared by identity
class Sample:
    embedding: np.ndarray
    quality: float
    ms: float
    face: Face
    crop: np.ndarray  # RGB pixels around the face, for the alert's evidence
    frame_wh: tuple[int, int]  # the working frame's size, to express the box in fractions
    wall: float = 0.0  # time.time() when its frame was decoded


@dataclass
class Track:
    track_id: int
    first_ms: float
    first_wall: float
    last_ms: float
    last_frame: int
    frames: int = 0
    samples: list[Sample] = field(default_factory=list)
    version: int = 0  # bumped whenever the samples change
    decided_version: int = 0  # the samples' version the last decision saw
    matched: bool = False
    last_check_ms: float = 0.0  # a matched track is re-checked now and then (camera cuts)
    too_small: bool = True  # never seen at a size worth embedding
    sized_wall: float = 0.0  # time.time() of the first frame at a size worth embedding
    small_reported: bool = False

    @property
    def best(self) -> Sample | None:
        return max(self.samples, key=lambda s: s.quality) if self.samples else None

    def wants_sample(self, quality: float, ms: float, size: float) -> bool:
        """Embed this frame? The first good-sized frame; then frames at least nearly as
        good as the best, until there are MAX_SAMPLES; after that only a clearly
        better frame, which replaces the weakest (a person who turns to the camera
        late is still decided on their best view). A matched track is embedded
        once a second, only to notice that a camera cut put someone else in it."""
        if size < MIN_FACE_PX:
            return False
        if not self.samples:
            return True
        if self.matched:
            return ms - max(self.last_check_ms, self.samples[-1].ms) >= CHECK_MATCHED_MS
        if ms - max(s.ms for s in self.samples) < MIN_GAP_MS:
            return False
        if len(self.samples) < MAX_SAMPLES:
            return quality >= 0.8 * self.best.quality  # type: ignore[union-attr]
        if ms - max(s.ms for s in self.samples) < REFRESH_GAP_MS:
            return False
        return quality >= 1.2 * min(s.quality for s in self.samples)

    def add(self, sample: Sample) -> bool:
        """Take a sample; returns False, and starts the track afresh from it, when it
        is plainly someone else than the samples so far (a cut or a swap)."""
        if self.samples and float(self.template() @ sample.embedding) < SAME_PERSON_COSINE:
            self.samples, self.matched, self.decided_version = [sample], False, 0
            self.first_ms, self.version = sample.ms, self.version + 1
            self.first_wall = self.sized_wall = sample.wall  # the new person's latency starts here
            return False
        if self.matched:
            self.last_check_ms = sample.ms  # the same person still: nothing to decide
            return True
        if len(self.samples) >= MAX_SAMPLES:
            weakest = min(range(len(self.samples)), key=lambda i: self.samples[i].quality)
            del self.samples[weakest]
        self.samples.append(sample)
        self.version += 1
        return True

    def ready(self, ms: float, lost: bool) -> bool:
        """Time for a (new) decision: enough evidence, and new since the last one."""
        n = len(self.samples)
        if n == 0 or self.version <= self.decided_version or self.matched:
            return False
        age = ms - self.first_ms
        return lost or (n >= 2 and age >= DECIDE_AFTER_MS) or age >= DECIDE_ALONE_MS or n >= MAX_SAMPLES

    def template(self) -> np.ndarray:
        mean = np.mean([s.embedding for s in self.samples], axis=0)
        return mean / (np.linalg.norm(mean) + 1e-12)


class FaceTracker:
    """Track ids for each frame's faces (ByteTrack), and the per-track state."""

    def __init__(self, fps: float) -> None:
        self._tracker = sv.ByteTrack(frame_rate=max(1, round(fps or 25)), lost_track_buffer=LOST_AFTER_FRAMES, minimum_matching_threshold=0.8)
        self.tracks: dict[int, Track] = {}

    def update(self, faces: Faces, frame_index: int, ms: float, wall: float) -> Faces:
        """The faces ByteTrack keeps, with ``track_id`` filled (as supervision's trackers
        fill ``tracker_id``), and each one's :class:`Track` brought up to date.

        Args:
            faces: this frame's detections (crops and quality ride along to the result).
            frame_index: the frame's index in the stream, to tell lost tracks.
            ms: the frame's stream time.
            wall: ``time.time()`` when the frame was decoded (latencies start there).

        Returns:
            The kept faces, in ByteTrack's order, a selection of ``faces`` (so their
            crops still serve ``Analyzer.embed``); ``self.tracks[track_id]`` is each
            one's state.

        Example:
            >>> tracker = FaceTracker(fps=25.0)                                  # doctest: +SKIP
            >>> tracked = tracker.update(analyzer.detect(frame.pixels), frame.index, frame.ms, frame.wall)
            >>> [(f.track_id, tracker.tracks[f.track_id].frames) for f in tracked]
        """
        if len(faces) == 0:
            self._tracker.update_with_detections(sv.Detections.empty())
            return faces.with_(track_id=np.zeros(0, np.int64))
        boxes = faces.xyxy.astype(np.float32)
        detections = sv.Detections(xyxy=boxes, confidence=faces.score.astype(np.float32), class_id=np.zeros(len(faces), int))
        tracked = self._tracker.update_with_detections(detections)
        # ByteTrack returns the input boxes it kept, with their track ids
        rows = np.array([int(np.argmin(np.abs(boxes - box).sum(axis=1))) for box in tracked.xyxy], np.intp)
        kept: Faces = faces[rows].with_(track_id=np.asarray(tracked.tracker_id, np.int64).reshape(len(rows)))
        for face in kept:
            track_id = int(face.track_id)  # type: ignore[arg-type]
            track = self.tracks.get(track_id)
            if track is None:
                track = self.tracks[track_id] = Track(track_id, ms, wall, ms, frame_index)
            track.last_ms, track.last_frame = ms, frame_index
            track.frames += 1
            if min(face.size_wh) >= MIN_FACE_PX and track.too_small:
                track.too_small, track.sized_wall = False, wall
        return kept

    def lost(self, frame_index: int) -> list[Track]:
        """Tracks not seen for a while: removed and returned (a last decision is due)."""
        gone = [t for t in self.tracks.values() if frame_index - t.last_frame > LOST_AFTER_FRAMES]
        for t in gone:
            del self.tracks[t.track_id]
        return gone

    def drain(self) -> list[Track]:
        """Every remaining track, at the end of the stream."""
        gone, self.tracks = list(self.tracks.values()), {}
        return gone
