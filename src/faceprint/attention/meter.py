"""Per-track, per-second attention from a stream of measured faces.

Each observation is one face of one frame: its track id (any tracker will do; no
identity or enrolment is needed), its time, and its :class:`FaceAttributes`.

* **Facing** the camera (or a screen beside it): where the eyes point, head pose plus
  eye direction, within ``FACING_DEGREES`` of the camera horizontally and vertically.
  When the eyes are too closed to trust the iris, head pose alone decides.
* **Eyes closed**: eye openness below ``CLOSED_FRACTION`` of the person's own open
  level (the 90th percentile of their openness over the last minute). People's
  resting openness differs a lot, so an absolute cut would call some people sleepy
  all the time; and this measure does not reach zero on a shut eye (docs/attributes.md),
  so "80% closed" is not something it can see.
* **PERCLOS**: the share of frames with eyes closed over the trailing minute, the usual
  drowsiness measure (reported from the first second on, over what there is).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from faceprint.analysis.attributes import FaceAttributes

FACING_DEGREES = 20.0
CLOSED_FRACTION = 0.7
BASELINE_PERCENTILE = 90.0
MIN_BASELINE = 0.15  # an openness level below this is not an open eye
PERCLOS_WINDOW_MS = 60_000.0
GAZE_TRUSTED = 50.0  # gaze confidence below which head pose alone decides facing


@dataclass(frozen=True)
class AttentionRow:
    """One person, one second of video.

    Attributes:
        track: the tracker's id for the person.
        second: the second of the video (0 = the first second).
        frames: frames of this person in that second.
        facing: share of those frames in which they faced the camera, 0-1.
        eyes_closed: share of those frames with eyes closed, 0-1.
        perclos: share of frames with eyes closed over the trailing minute, 0-1.
        head_yaw, head_pitch, gaze_yaw, gaze_pitch: means over the second, degrees.
    """

    track: int
    second: int
    frames: int
    facing: float
    eyes_closed: float
    perclos: float
    head_yaw: float
    head_pitch: float
    gaze_yaw: float
    gaze_pitch: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class _Track:
    openness: deque[tuple[float, float]] = field(default_factory=deque)  # (ms, openness), last minute
    closed: deque[tuple[float, bool]] = field(default_factory=deque)  # (ms, closed), last minute
    seconds: dict[int, list[tuple[bool, bool, float, float, float, float, float]]] = field(default_factory=dict)


class AttentionMeter:
    """Collects observations and turns them into per-second rows.

    Example:
        >>> meter = AttentionMeter()
        >>> # for each frame and tracked face: meter.observe(track_id, ms, attributes)
        >>> meter.rows()
        []
    """

    def __init__(self, *, facing_degrees: float = FACING_DEGREES) -> None:
        self.facing_degrees = facing_degrees
        self._tracks: dict[int, _Track] = {}

    def observe(self, track: int, ms: float, attrs: FaceAttributes) -> tuple[bool, bool]:
        """Record one face of one frame; returns (facing, eyes closed) for it."""
        t = self._tracks.setdefault(track, _Track())
        openness = float(np.mean(attrs.eye_openness))
        t.openness.append((ms, openness))
        _trim(t.openness, ms)
        baseline = max(MIN_BASELINE, float(np.percentile([o for _, o in t.openness], BASELINE_PERCENTILE)))
        closed = openness < CLOSED_FRACTION * baseline
        facing = self.is_facing(attrs)
        t.closed.append((ms, closed))
        _trim(t.closed, ms)
        perclos = sum(c for _, c in t.closed) / len(t.closed)
        second = int(ms // 1000)
        t.seconds.setdefault(second, []).append((facing, closed, perclos, attrs.pose.yaw, attrs.pose.pitch, attrs.gaze.yaw, attrs.gaze.pitch))
        return facing, closed

    def is_facing(self, attrs: FaceAttributes) -> bool:
        yaw, pitch = attrs.pose.yaw, attrs.pose.pitch
        if attrs.gaze_confidence >= GAZE_TRUSTED:
            yaw, pitch = yaw + attrs.gaze.yaw, pitch + attrs.gaze.pitch
        return abs(yaw) <= self.facing_degrees and abs(pitch) <= self.facing_degrees

    def rows(self) -> list[AttentionRow]:
        """Every (track, second) seen, in track then time order."""
        out = []
        for track, t in sorted(self._tracks.items()):
            for second, obs in sorted(t.seconds.items()):
                a = np.array(obs, dtype=np.float64)
                out.append(
                    AttentionRow(
                        track=track,
                        second=second,
                        frames=len(obs),
                        facing=float(a[:, 0].mean()),
                        eyes_closed=float(a[:, 1].mean()),
                        perclos=float(a[-1, 2]),  # the trailing minute as of the second's last frame
                        head_yaw=float(a[:, 3].mean()),
                        head_pitch=float(a[:, 4].mean()),
                        gaze_yaw=float(a[:, 5].mean()),
                        gaze_pitch=float(a[:, 6].mean()),
                    )
                )
        return out


def _trim(window: deque, ms: float) -> None:
    while window and ms - window[0][0] > PERCLOS_WINDOW_MS:
        window.popleft()
