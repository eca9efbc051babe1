"""A liveness attempt's frames, measured once: the face, its dense mesh and attributes,
a few embeddings, and the reasons a sequence cannot be judged at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Union

import numpy as np

from faceprint.analysis import Analyzer
from faceprint.analysis.attributes import FaceAttributes, face_attributes
from faceprint.analysis.mesh import Mesh
from faceprint.errors import ImageTooLarge, InvalidImage
from faceprint.types import Faces

# A frame's RGB pixels, or a function that decodes them: such frames are decoded one
# at a time, as they are judged, and a sequence refused early decodes no more of them.
FramePixels = Union[np.ndarray, Callable[[], np.ndarray]]

MIN_FRAMES = 8  # fewer cannot show a blink, a turn or motion
MIN_FPS = 5.0  # sparser frames are a slideshow: blinks and motion fall between them
MAX_FRAMES = 600
MIN_FACE_SHARE = 0.8  # frames that must hold the face
SECOND_FACE = 0.4  # a second face at least this big (relative to the first) is another person
IDENTITY_SAMPLES = 5


class Unjudgeable(ValueError):
    """The frames cannot be judged at all (no pass): too few, no face, several faces,
    out of order. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Measured:
    """One frame with a face."""

    index: int  # position in the attempt
    ms: float
    pixels: np.ndarray
    face: Faces  # the one face, as detected
    mesh: Mesh
    attrs: FaceAttributes

    @property
    def box(self) -> np.ndarray:
        return self.face.xyxy[0]


@dataclass(frozen=True, eq=False)
class Sequence:
    frames: list[Measured]
    embeddings: np.ndarray  # (k, d) of evenly spaced frames
    total: int  # frames received


def measure(analyzer: Analyzer, frames: Iterable[tuple[float, FramePixels]]) -> Sequence:
    """Measure ``(ms, RGB pixels)`` frames, one at a time.

    Raises:
        Unjudgeable: too few or too many frames, times that do not increase, a frame
            that cannot be decoded or differs in size, the face missing from too many
            frames, or more than one person in view.
    """
    items = list(frames)
    if len(items) < MIN_FRAMES:
        raise Unjudgeable("TOO_FEW_FRAMES", f"{len(items)} frames; a liveness check needs at least {MIN_FRAMES}")
    if len(items) > MAX_FRAMES:
        raise Unjudgeable("TOO_MANY_FRAMES", f"{len(items)} frames; at most {MAX_FRAMES} are judged")
    times = [ms for ms, _ in items]
    if not all(np.isfinite(times)) or any(b <= a for a, b in zip(times, times[1:])):
        raise Unjudgeable("FRAMES_OUT_OF_ORDER", "frame times must be numbers that increase")
    if (len(items) - 1) * 1000.0 / (times[-1] - times[0]) < MIN_FPS:
        raise Unjudgeable("FRAME_RATE_TOO_LOW", f"frames must come at least {MIN_FPS:g} a second")
    may_miss = int((1.0 - MIN_FACE_SHARE) * len(items) + 1e-9)
    measured: list[Measured] = []
    shape: tuple[int, ...] | None = None
    for i, (ms, source) in enumerate(items):
        pixels = _pixels(i, source)
        shape = shape or pixels.shape
        if pixels.shape != shape:
            raise Unjudgeable("FRAME_SIZE_CHANGED", "every frame must have the same size")
        faces = analyzer.detect(pixels, pose=False)  # largest first; the mesh below gives the pose
        if len(faces) == 0:
            if i + 1 - len(measured) > may_miss:
                raise Unjudgeable("FACE_NOT_FOUND", f"no face in {i + 1 - len(measured)} of the first {i + 1} of {len(items)} frames; at most {may_miss} may miss it")
            continue
        areas = (faces.xyxy[:, 2] - faces.xyxy[:, 0]) * (faces.xyxy[:, 3] - faces.xyxy[:, 1])
        if len(faces) > 1 and areas[1] >= SECOND_FACE * areas[0]:
            raise Unjudgeable("MULTIPLE_FACES", f"frame {i} shows more than one person")
        one = faces[:1]
        mesh = analyzer.mesh.landmarks(pixels, one)[0]
        measured.append(Measured(i, ms, pixels, one, mesh, face_attributes(mesh)))
    picks = np.linspace(0, len(measured) - 1, min(IDENTITY_SAMPLES, len(measured))).round().astype(int)
    embeddings = np.stack([analyzer.embed(measured[i].pixels, measured[i].face).embedding[0] for i in picks])  # type: ignore[index]
    return Sequence(measured, embeddings, len(items))


def _pixels(index: int, source: FramePixels) -> np.ndarray:
    if not callable(source):
        return source
    try:
        return source()
    except (InvalidImage, ImageTooLarge) as exc:
        raise Unjudgeable("FRAME_UNREADABLE", f"frame {index} cannot be decoded: {exc}") from None
