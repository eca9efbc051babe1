"""Per-face quality: size, sharpness, brightness, and the head pose measured elsewhere
(the face mesh's, ``attributes.mesh_pose``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

# A generic head in millimetres, camera coordinates (x right, y down, z away from
# the camera), nose tip at the origin: eye centres, nose tip, mouth corners. Average
# adult proportions; exact values matter little for yaw/pitch at the degree level.
_HEAD_3D = np.array(
    [[-31.0, -33.0, 27.0], [31.0, -33.0, 27.0], [0.0, 0.0, 0.0], [-25.0, 31.0, 23.0], [25.0, 31.0, 23.0]],
    dtype=np.float64,
)


def brightness(crop: np.ndarray) -> float:
    """Mean luma of an RGB crop, 0 (black) to 100 (white)."""
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(gray.mean()) / 255.0 * 100.0


def sharpness(crop: np.ndarray) -> float:
    """0-100 from the variance of the Laplacian of the crop's luma.

    The log scale puts a blurred face (variance ~10) near 33 and a crisp 112 px
    face (variance ≥ 1000) at 100.
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    var = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return float(min(100.0, 100.0 * math.log10(1.0 + var) / 3.0))


def five_point_pose(landmarks: np.ndarray, image_wh: tuple[int, int]) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees from five landmarks: a generic 3-D head fitted to
    them (``solvePnP``), roll from the line between the eyes. NaN yaw and pitch when
    the points are too close together to fit.

    No answer uses it: the face mesh's pose replaced it (its mirror error is half as
    large, docs/attributes.md). It stays so that benchmark can keep showing why.
    """
    pts = landmarks.astype(np.float64)
    (rx, ry), (lx, ly) = pts[0], pts[1]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    w, h = image_wh
    f = float(max(w, h, 1))
    camera = np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1]], dtype=np.float64)
    try:
        ok, rvec, _ = cv2.solvePnP(_HEAD_3D, pts, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:
        ok = False  # degenerate points (a face a few pixels wide): no pose to report
    if not ok:
        return math.nan, math.nan, roll
    rot, _ = cv2.Rodrigues(rvec)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    return yaw, pitch, roll


def quality_measures(crop: np.ndarray, xyxy: np.ndarray, pose: tuple[float, float, float]) -> np.ndarray:
    """The quality row for one face, in ``faceprint.types.QUALITY_FIELDS`` order, with
    its head pose given as ``(yaw, pitch, roll)``."""
    size = float(min(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]))
    yaw, pitch, roll = pose
    return np.array([size, sharpness(crop), brightness(crop), yaw, pitch, roll], dtype=np.float32)
