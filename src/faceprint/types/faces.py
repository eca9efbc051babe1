"""Typed containers passed between pipeline stages.

``Faces`` is a batch holding one array per field; ``Face`` is a read-only view of one
row. Boxes are always pixel ``xyxy`` in the coordinates of the decoded (EXIF-upright)
image; landmarks are five ``(x, y)`` points in the order right eye, left eye, nose tip,
right mouth corner, left mouth corner (the subject's right, so the first eye is on the
image's left).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Iterator, overload

import numpy as np

from faceprint.errors import InvalidParameter, NoFaceFound

QUALITY_FIELDS = ("size_px", "sharpness", "brightness", "yaw", "pitch", "roll")


@dataclass(frozen=True)
class FacesMeta:
    """Where a batch of faces came from and which models produced it."""

    image_wh: tuple[int, int] = (0, 0)
    detector: str = ""
    embedder: str = ""  # the embedding contract, e.g. "sface.2021dec/fp32-prelu-v1"


@dataclass(frozen=True)
class Quality:
    """Image quality of one face.

    Attributes:
        size_px: the shorter side of the face box, in pixels.
        sharpness: 0-100, from the variance of the Laplacian of the aligned crop.
        brightness: 0-100, mean luma of the aligned crop.
        yaw, pitch, roll: head pose in degrees (yaw > 0: the face turns to the image's
            right; pitch > 0: chin up; roll > 0: clockwise in the image).
    """

    size_px: float
    sharpness: float
    brightness: float
    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class Box:
    """A face box as fractions of the image size (Rekognition's BoundingBox).

    Made from a pixel ``xyxy`` box by :func:`faceprint.imaging.boxes.box_fractions`,
    the one place that decides how a box reaching past the image is clamped.

    Attributes:
        left, top: the box's left and top edges, 0 to 1 of the image's width and height.
        width, height: its size, as fractions of the image's width and height.
    """

    left: float
    top: float
    width: float
    height: float


# Rows hold numpy arrays, so dataclass equality (which would compare arrays) is off.
@dataclass(frozen=True, eq=False)
class Face:
    """One detected face: a read-only row of :class:`Faces`."""

    xyxy: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # (5, 2)
    embedding: np.ndarray | None
    quality: Quality | None
    track_id: int | None = None

    @property
    def size_wh(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.xyxy
        return (x2 - x1, y2 - y1)


def _check(name: str, value: np.ndarray | None, shape: tuple[int | None, ...]) -> None:
    if value is None:
        return
    ok = value.ndim == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise InvalidParameter(f"Faces.{name} must have shape {want}, got {tuple(value.shape)}")


@dataclass(eq=False)
class Faces:
    """A batch of faces from one image, one array per field.

    Example:
        >>> faces = Faces.empty()
        >>> len(faces)
        0
    """

    xyxy: np.ndarray  # (n, 4) float32
    score: np.ndarray  # (n,) float32, detector confidence 0-1
    landmarks: np.ndarray  # (n, 5, 2) float32
    embedding: np.ndarray | None = None  # (n, d) float32, L2-normalised
    quality: np.ndarray | None = None  # (n, 6) float32, columns QUALITY_FIELDS
    track_id: np.ndarray | None = None  # (n,) int64, video only: filled by FaceTracker.update
    meta: FacesMeta = field(default_factory=FacesMeta)
    # (n, 112, 112, 3) uint8: each face aligned to the embedder's template by detect(),
    # kept until embed() so that a face is aligned once per request, then dropped
    crops: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        _check("xyxy", self.xyxy, (None, 4))
        n = len(self.xyxy)
        self.score = np.asarray(self.score, dtype=np.float32)
        _check("score", self.score, (n,))
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        _check("landmarks", self.landmarks, (n, 5, 2))
        for name in ("embedding", "quality", "track_id", "crops"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value))
        _check("embedding", self.embedding, (n, None))
        _check("quality", self.quality, (n, len(QUALITY_FIELDS)))
        _check("track_id", self.track_id, (n,))
        _check("crops", self.crops, (n, None, None, 3))

    @classmethod
    def empty(cls, meta: FacesMeta | None = None) -> Faces:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            score=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
            meta=meta or FacesMeta(),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __iter__(self) -> Iterator[Face]:
        for i in range(len(self)):
            yield self._row(i)

    @overload
    def __getitem__(self, index: int | np.integer) -> Face: ...

    @overload
    def __getitem__(self, index: slice | np.ndarray) -> Faces: ...

    def __getitem__(self, index: int | np.integer | slice | np.ndarray) -> Face | Faces:
        """One face (a row, like a list) for an integer; a smaller batch for a slice, an
        index array or a boolean mask, like supervision's ``Detections``."""
        if isinstance(index, (int, np.integer)):
            if not -len(self) <= index < len(self):
                raise IndexError(f"face index {index} out of range for {len(self)} faces")
            return self._row(int(index))
        return self._select(index)

    def _select(self, index: slice | np.ndarray) -> Faces:
        kw = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kw[f.name] = value[index] if isinstance(value, np.ndarray) else value
        return Faces(**kw)

    def _row(self, i: int) -> Face:
        q = None if self.quality is None else Quality(*(float(v) for v in self.quality[i]))
        return Face(
            xyxy=tuple(float(v) for v in self.xyxy[i]),  # type: ignore[arg-type]
            score=float(self.score[i]),
            landmarks=self.landmarks[i],
            embedding=None if self.embedding is None else self.embedding[i],
            quality=q,
            track_id=None if self.track_id is None else int(self.track_id[i]),
        )

    @property
    def area(self) -> np.ndarray:
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return wh[:, 0] * wh[:, 1]

    def largest(self) -> Face:
        """The face with the largest box (the one Rekognition compares by default)."""
        if len(self) == 0:
            raise NoFaceFound("there are no faces to choose the largest from")
        return self._row(int(np.argmax(self.area)))

    def sorted_by_area(self) -> Faces:
        return self._select(np.argsort(-self.area, kind="stable"))

    def with_(self, **changes: object) -> Faces:
        """A copy with some fields replaced (validated like a new batch)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @staticmethod
    def concat(batches: list[Faces]) -> Faces:
        if not batches:
            return Faces.empty()
        kw: dict[str, object] = {"meta": batches[0].meta}
        for name in ("xyxy", "score", "landmarks", "embedding", "quality", "track_id", "crops"):
            values = [getattr(b, name) for b in batches]
            if any(v is None for v in values):
                kw[name] = None
                continue
            kw[name] = np.concatenate(values)
        return Faces(**kw)  # type: ignore[arg-type]
