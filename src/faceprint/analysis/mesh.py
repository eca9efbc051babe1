"""Dense landmarks: MediaPipe's face mesh (468 points) and iris model (5 points per eye).

Both networks come from the ``mediapipe`` wheel (Apache-2.0), which faceprint installs
without its dependencies and never imports: only its ``.tflite`` files are read, and
LiteRT (``ai-edge-litert``) runs them. Each runs on a crop built from the detector's
box and eyes, the way MediaPipe's own graphs do:

* the face crop is the detection box scaled by 1.5, rotated so the eyes are level,
  resized to 192x192, RGB in [0, 1];
* each eye crop is a square 2.3 times the eye's width around its two corners, 64x64;
  the iris model was trained on one eye, so the other is mirrored in and out.

Points come back in the image's pixels; ``z`` is depth in the same scale as ``x``
(larger is further from the camera), relative to the head's centre.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from faceprint.models import card, read_verified
from faceprint.models.sessions import litert_interpreter
from faceprint.types import Faces

FACE_INPUT = 192
EYE_INPUT = 64
FACE_SCALE = 1.5
EYE_SCALE = 2.3
# Eye corners in the mesh: the eye on the image's left (the subject's right) and the
# eye on the image's right. The iris model takes the first as it is, the second mirrored.
EYE_CORNERS = ((33, 133), (362, 263))
# The iris model's first 16 contour points: 0 and 8 are the corners, 1-7 the lower lid,
# 9-15 the upper lid (MediaPipe maps them onto mesh points 33, 7, 163, 144, 145, 153,
# 154, 155, 133, 246, 161, 160, 159, 158, 157, 173 for the image-left eye).
EYE_CONTOUR = {"corners": (0, 8), "lids": ((11, 3), (12, 4), (13, 5))}


@dataclass(frozen=True)
class Mesh:
    """Dense landmarks of one face.

    Attributes:
        points: ``(478, 3)`` x, y in image pixels and relative depth z. Rows 0-467 are
            the face mesh; 468-472 the iris (centre, then four edge points) of the eye
            on the image's left, 473-477 that of the other eye.
        presence: 0-1, the mesh model's confidence that its crop holds a face.
        eye_contours: ``(2, 71, 3)`` the iris model's finer eye and brow contour, per
            eye (image-left eye first). Its first 16 points trace the eye: corner,
            lower lid, other corner, upper lid (see ``EYE_CONTOUR``).
    """

    points: np.ndarray
    presence: float
    eye_contours: np.ndarray

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]


class FaceMesh:
    """Dense landmarks for detected faces.

    Example:
        >>> mesh = FaceMesh()                                          # doctest: +SKIP
        >>> [m.points.shape for m in mesh.landmarks(image, engine.detect(image))]
        [(478, 3)]
    """

    name = "mediapipe.face_mesh+iris"

    def __init__(self) -> None:
        self._face_model = read_verified(card("mediapipe.face_landmark"))
        self._iris_model = read_verified(card("mediapipe.iris_landmark"))
        self._local = threading.local()  # LiteRT interpreters are not thread-safe

    def _nets(self) -> tuple[_Net, _Net]:
        nets = getattr(self._local, "nets", None)
        if nets is None:
            nets = self._local.nets = (_Net(self._face_model), _Net(self._iris_model))
        return nets

    def landmarks(self, image: np.ndarray, faces: Faces) -> list[Mesh]:
        """One :class:`Mesh` per face of an ``HxWx3`` uint8 RGB image."""
        return [self.landmarks_one(image, faces.xyxy[i], faces.landmarks[i]) for i in range(len(faces))]

    def landmarks_one(self, image: np.ndarray, xyxy: np.ndarray, five: np.ndarray) -> Mesh:
        mesh, presence = self.face_points(image, xyxy, five)
        _, iris_net = self._nets()
        eyes = [self._eye(iris_net, image, mesh, corners, mirror=i == 1) for i, corners in enumerate(EYE_CORNERS)]
        points = np.concatenate([mesh, *(iris for iris, _ in eyes)]).astype(np.float32)
        contours = np.stack([contour for _, contour in eyes]).astype(np.float32)
        return Mesh(points, presence, contours)

    def face_points(self, image: np.ndarray, xyxy: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, float]:
        """The face mesh alone (no iris): ``(468, 3)`` points in image pixels with
        depth, and the presence (0-1). Enough for the head's pose, at a third of
        :meth:`landmarks_one`'s cost."""
        face_net, _ = self._nets()
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        (ex0, ey0), (ex1, ey1) = five[0], five[1]
        angle = math.atan2(ey1 - ey0, ex1 - ex0)
        side = FACE_SCALE * max(x1 - x0, y1 - y0)
        warp = _square_warp(((x0 + x1) / 2, (y0 + y1) / 2), side, angle, FACE_INPUT)
        crop = cv2.warpAffine(image, warp, (FACE_INPUT, FACE_INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        outputs = face_net.run(crop.astype(np.float32)[None] / 255.0)
        raw = next(o for o in outputs if o.size == 468 * 3).reshape(468, 3)
        logit = float(next(o for o in outputs if o.size == 1).ravel()[0])
        # float32, as Mesh.points keeps them: the pose read from either is the same number
        return _to_image(raw, warp, side / FACE_INPUT).astype(np.float32), 1.0 / (1.0 + math.exp(-logit))

    def _eye(self, net: _Net, image: np.ndarray, mesh: np.ndarray, corners: tuple[int, int], *, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
        """The iris (5 points) and the eye contour (71 points) of one eye."""
        a, b = mesh[corners[0], :2], mesh[corners[1], :2]
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        side = EYE_SCALE * float(np.linalg.norm(b - a)) + 1e-3
        warp = _square_warp(tuple((a + b) / 2), side, angle, EYE_INPUT)
        crop = cv2.warpAffine(image, warp, (EYE_INPUT, EYE_INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if mirror:
            crop = crop[:, ::-1]
        outputs = net.run(np.ascontiguousarray(crop, dtype=np.float32)[None] / 255.0)
        iris = next(o for o in outputs if o.size == 15).reshape(5, 3).copy()
        contour = next(o for o in outputs if o.size == 71 * 3).reshape(71, 3).copy()
        if mirror:
            iris[:, 0] = EYE_INPUT - iris[:, 0]
            contour[:, 0] = EYE_INPUT - contour[:, 0]
        return _to_image(iris, warp, side / EYE_INPUT), _to_image(contour, warp, side / EYE_INPUT)


class _Net:
    """A LiteRT interpreter with its one input."""

    def __init__(self, model: bytes) -> None:
        self._interp = litert_interpreter(model)
        self._input = self._interp.get_input_details()[0]["index"]
        self._outputs = [d["index"] for d in self._interp.get_output_details()]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self._interp.set_tensor(self._input, np.ascontiguousarray(x, dtype=np.float32))
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self._outputs]


def _square_warp(centre: tuple[float, float], side: float, angle: float, size: int) -> np.ndarray:
    """The affine map taking a square (``side`` px, turned by ``angle`` radians, around
    ``centre``) of the image onto a ``size`` x ``size`` upright crop."""
    scale = size / max(side, 1e-3)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    cx, cy = centre
    # rotate by -angle about the centre, scale, then move the centre to the crop's
    return np.array(
        [[cos, sin, size / 2 - (cos * cx + sin * cy)], [-sin, cos, size / 2 - (-sin * cx + cos * cy)]],
        dtype=np.float64,
    )


def _to_image(points: np.ndarray, warp: np.ndarray, z_scale: float) -> np.ndarray:
    """Crop coordinates back to the image; z scaled like x."""
    back = cv2.invertAffineTransform(warp)
    xy = points[:, :2] @ back[:, :2].T + back[:, 2]
    return np.column_stack([xy, points[:, 2] * z_scale])
