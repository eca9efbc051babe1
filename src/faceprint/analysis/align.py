"""Similarity-warp a face to the canonical 112x112 five-point template."""

from __future__ import annotations

import cv2
import numpy as np

# The widely used ArcFace/InsightFace 112x112 template (eye centres, nose tip, mouth
# corners), which SFace was trained with.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping ``src`` onto ``dst``.

    Returns the 2x3 matrix (Umeyama's closed form, no reflection).
    """
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1
    rot = u @ fix @ vt
    var = (s0**2).sum() / len(src)
    scale = (sig * np.diag(fix)).sum() / var if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp one face to a ``size x size`` crop whose landmarks sit on the template.

    Args:
        image: ``HxWx3`` uint8 RGB.
        landmarks: ``(5, 2)`` points in the image, YuNet order.
        size: output side in pixels (the template is scaled from 112).

    Returns:
        ``size x size x 3`` uint8 RGB crop.
    """
    m = similarity_transform(landmarks, TEMPLATE_112 * (size / 112.0))
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
