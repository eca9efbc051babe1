"""One image in, faces out: detect -> align -> quality (with the face mesh's head pose) -> embed."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from faceprint.analysis.align import TEMPLATE_112
from faceprint.analysis.attributes import FaceAttributes, face_attributes, mesh_pose
from faceprint.analysis.detect import YuNetDetector
from faceprint.analysis.embed import Embedder, align_all, make_embedder
from faceprint.analysis.mesh import FaceMesh
from faceprint.analysis.quality import quality_measures
from faceprint.errors import InvalidParameter
from faceprint.types import Face, Faces, FacesMeta


@dataclass(frozen=True)
class Mode:
    """An operating point: which embedder, and how small a face the detector looks for."""

    embedder: str
    min_face_px: float
    description: str


MODES = {
    "fast": Mode("sface.2021dec", 32.0, "YuNet + SFace, one pass per face"),
    "accurate": Mode(
        "fusion.sface-flip+dlib", 16.0, "YuNet + SFace (flip-averaged) fused with dlib's ResNet"
    ),
}


class Analyzer:
    """The per-image pipeline, with its models loaded once.

    Thread-safe: the detector keeps one network per thread and onnxruntime sessions
    may be run from several threads.
    """

    def __init__(
        self,
        mode: str = "fast",
        *,
        embedder: str | None = None,
        min_face_px: float | None = None,
        score_threshold: float = 0.6,
    ) -> None:
        if mode not in MODES:
            raise InvalidParameter(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        spec = MODES[mode]
        self.mode = mode
        self.detector = YuNetDetector(
            score_threshold=score_threshold,
            min_face_px=spec.min_face_px if min_face_px is None else min_face_px,
        )
        self.embedder_name = embedder or spec.embedder
        self._embedder: Embedder | None = None
        self._mesh: FaceMesh | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        # Built on first use (detection alone should not pay for loading dlib), once,
        # even when the first calls come from several pool threads at the same time.
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = make_embedder(self.embedder_name)
        return self._embedder

    @property
    def mesh(self) -> FaceMesh:
        """The dense-landmark models, loaded on first use (only attributes need them)."""
        if self._mesh is None:
            with self._lock:
                if self._mesh is None:
                    self._mesh = FaceMesh()
        return self._mesh

    def attributes(self, image: np.ndarray, faces: Faces | Sequence[Face]) -> list[FaceAttributes]:
        """Eyes and mouth open, gaze, mesh head pose and named landmarks, per face."""
        return [face_attributes(self.mesh.landmarks_one(image, np.asarray(f.xyxy), f.landmarks)) for f in faces]

    @property
    def gil_bound(self) -> bool:
        """Whether embedding holds Python's GIL (dlib does), so threads cannot share it."""
        return "dlib" in self.embedder_name

    def warm_up(self) -> None:
        """Build the calling thread's detector network, face mesh and embedder session
        now (each thread has its own, built on first use), so a stream's first frames
        do not wait for them."""
        blank = np.zeros((128, 128, 3), np.uint8)
        self.detector.detect(blank)
        face = Faces(
            xyxy=np.array([[8.0, 8.0, 120.0, 120.0]], np.float32),
            score=np.ones(1, np.float32),
            landmarks=TEMPLATE_112[None].astype(np.float32) + 8.0,
            meta=FacesMeta(image_wh=(128, 128)),
        )
        self.pose(blank, face.xyxy[0], face.landmarks[0])
        self.embed(blank, face)

    def detect(self, image: np.ndarray, *, pose: bool = True) -> Faces:
        """Faces with boxes, landmarks, confidence and quality, largest first. Each
        face's aligned crop rides along (``Faces.crops``) for :meth:`embed`.

        Args:
            pose: measure each face's head pose (the face mesh, about 1 ms a face).
                Without, the quality's yaw, pitch and roll are NaN: for callers that
                neither report nor filter on pose (a quality filter reads NaN as
                ``LOW_FACE_QUALITY``).
        """
        return self._detect(image, pose=pose)

    def embed(self, image: np.ndarray, faces: Faces, crops: np.ndarray | None = None) -> Faces:
        """The same faces with ``embedding`` filled (and their crops dropped).

        The faces' aligned crops are used when :meth:`detect` left them (or ``crops``
        gives them), so a detected face is not aligned a second time.
        """
        emb = self.embedder
        vectors = emb.embed(image, faces, crops if crops is not None else faces.crops)
        meta = FacesMeta(image_wh=faces.meta.image_wh, detector=faces.meta.detector, embedder=emb.contract)
        return faces.with_(embedding=vectors, meta=meta, crops=None)

    def analyze(self, image: np.ndarray, *, pose: bool = True) -> Faces:
        """Detect, assess and embed every face, aligning each face once (``pose``: as
        in :meth:`detect`)."""
        return self.embed(image, self._detect(image, pose=pose))

    def _detect(self, image: np.ndarray, *, pose: bool = True) -> Faces:
        faces = self.detector.detect(image).sorted_by_area()
        crops = align_all(image, faces)
        if len(faces) == 0:
            return faces.with_(crops=crops)
        # One pose for a face in every answer: the mesh's (its error on mirrored faces is
        # half the five points'; docs/attributes.md), the same number attributes() gives.
        unknown = (math.nan, math.nan, math.nan)
        poses = [self.pose(image, box, lm) if pose else unknown for box, lm in zip(faces.xyxy, faces.landmarks)]
        quality = np.stack([quality_measures(c, box, angles) for c, box, angles in zip(crops, faces.xyxy, poses)])
        return faces.with_(quality=quality, crops=crops)

    def pose(self, image: np.ndarray, xyxy: np.ndarray, five: np.ndarray) -> tuple[float, float, float]:
        """Head yaw, pitch and roll (degrees) of one detected face, from the face mesh."""
        points, _ = self.mesh.face_points(image, xyxy, five)
        p = mesh_pose(points.astype(np.float64))
        return p.yaw, p.pitch, p.roll
