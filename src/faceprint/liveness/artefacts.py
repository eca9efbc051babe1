"""Screen and print artefacts a single frame can show: glare, moiré, a panel's border.

* **Glare.** Screens and glossy prints reflect light as white, colourless patches;
  skin rarely does over much of the face.
* **Moiré.** A camera filming a screen samples the screen's own pixel grid; the two
  grids beat into fine periodic fringes over the face. In the face's spectrum that is
  a few sharp peaks, where skin, hair and sensor noise spread their energy evenly.
  The measure is the highest peak of the high-passed spectrum over its median, in
  the band between 0.08 and 0.45 cycles per pixel, leaving out the 8-pixel block grid
  that JPEG and video codecs print on every frame.
* **Panel border.** A phone, tablet or card held up to the camera puts straight
  edges on both sides of the face (and often above it), each one lighter on the same
  side: a lit screen inside a dark bezel, a pale card against the room. Rooms have
  straight edges too (doors, shelves, windows), so a frame counts as framed only
  when both sides are found within 1.5 face widths and agree in polarity, and a
  session only when many of its frames are.

Each function takes RGB pixels and the face's ``(x0, y0, x1, y1)`` box.
"""

from __future__ import annotations

import cv2
import numpy as np

MOIRE_BAND = (0.08, 0.45)  # cycles per pixel
MOIRE_MIN_SIDE = 32  # px of inner face below which a spectrum says nothing
BORDER_CONTRAST = 12.0  # grey levels between the two sides of an edge, to count as a panel's
BORDER_REACH = 1.5  # face widths from the face within which a panel's side edge is looked for


def glare_share(pixels: np.ndarray, box: np.ndarray) -> float:
    """Share of the face box that is near-white and colourless."""
    crop = _crop(pixels, box)
    if crop.size == 0:
        return 0.0
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    glare = (hsv[..., 2] >= 245) & (hsv[..., 1] <= 40)
    return float(glare.mean())


def moire_peak(pixels: np.ndarray, box: np.ndarray) -> float | None:
    """Highest spectral peak over the median in the inner face's fine detail; None
    when the face is too small to tell. Live faces measured 17 at the median and 46
    at the 99th percentile (benchmarks/liveness.py)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = int(min(x1 - x0, y1 - y0) * 0.7) // 2 * 2  # the inner face: no hair or background
    if side < MOIRE_MIN_SIDE:
        return None
    left, top = int((x0 + x1 - side) / 2), int((y0 + y1 - side) / 2)
    if left < 0 or top < 0 or top + side > pixels.shape[0] or left + side > pixels.shape[1]:
        return None
    gray = cv2.cvtColor(pixels[top : top + side, left : left + side], cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = gray - cv2.GaussianBlur(gray, (0, 0), 2.0)
    window = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
    spectrum = np.abs(np.fft.fft2(detail * window))
    fx, fy = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side))
    radius = np.hypot(fx, fy)
    band = (radius > MOIRE_BAND[0]) & (radius < MOIRE_BAND[1])
    for k in (1, 2, 3):  # codec block grids: peaks at k/8 cycles per pixel on either axis
        band &= (np.abs(np.abs(fx) - k / 8) > 1.5 / side) & (np.abs(np.abs(fy) - k / 8) > 1.5 / side)
    values = spectrum[band]
    return float(values.max() / (np.median(values) + 1e-6))


def panel_sides(pixels: np.ndarray, box: np.ndarray) -> dict[str, float]:
    """Straight edges around the face that could be a panel's sides: for each of
    ``left``, ``right``, ``top``, ``bottom`` found, the strongest edge's contrast in
    grey levels (positive: lighter on the face's side)."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = x1 - x0, y1 - y0
    rx0, ry0 = int(max(0, x0 - (BORDER_REACH + 0.1) * bw)), int(max(0, y0 - 2.2 * bh))
    rx1, ry1 = int(min(w, x1 + (BORDER_REACH + 0.1) * bw)), int(min(h, y1 + 1.5 * bh))
    gray = cv2.GaussianBlur(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.Canny(gray[ry0:ry1, rx0:rx1], 40, 120)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, 40, minLineLength=max(8, int(0.6 * bh)), maxLineGap=6)
    if lines is None:
        return {}
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    found: dict[str, float] = {}
    for xa, ya, xb, yb in lines[:, 0].astype(np.float64) + [rx0, ry0, rx0, ry0]:
        side = _side_of(xa, ya, xb, yb, (x0, y0, x1, y1), centre)
        if side is None:
            continue
        contrast = _contrast_across(gray, (xa, ya, xb, yb), centre)
        if abs(contrast) > abs(found.get(side, 0.0)):
            found[side] = contrast
    return found


def is_framed(sides: dict[str, float]) -> bool:
    """Both side edges, lighter on the same side (a panel), or any three that are."""
    strong = {s: c for s, c in sides.items() if abs(c) >= BORDER_CONTRAST}
    for sign in (1.0, -1.0):
        same = {s for s, c in strong.items() if c * sign > 0}
        if {"left", "right"} <= same or len(same) >= 3:
            return True
    return False


def _side_of(xa: float, ya: float, xb: float, yb: float, box: tuple[float, float, float, float], centre: np.ndarray) -> str | None:
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    angle = np.degrees(np.arctan2(yb - ya, xb - xa)) % 180
    if abs(angle - 90) < 25:  # upright: a left or right side, beside the face
        if min(max(ya, yb), y1) - max(min(ya, yb), y0) < 0.5 * bh:
            return None
        x = xa + (xb - xa) * (centre[1] - ya) / (yb - ya)
        if x0 - BORDER_REACH * bw < x < x0 - 0.05 * bw:
            return "left"
        if x1 + 0.05 * bw < x < x1 + BORDER_REACH * bw:
            return "right"
    elif (angle < 25 or angle > 155) and abs(xb - xa) >= 0.6 * bw and min(xa, xb) < centre[0] < max(xa, xb):
        y = ya + (yb - ya) * (centre[0] - xa) / (xb - xa)
        if y0 - 2.0 * bh < y < y0 - 0.05 * bh:
            return "top"
        if y1 + 0.1 * bh < y < y1 + 1.4 * bh:
            return "bottom"
    return None


def _contrast_across(gray: np.ndarray, segment: tuple[float, float, float, float], centre: np.ndarray) -> float:
    """Mean grey level 4-8 px inside the edge (towards the face) minus outside."""
    xa, ya, xb, yb = segment
    along = np.array([xb - xa, yb - ya])
    normal = np.array([-along[1], along[0]]) / (np.linalg.norm(along) + 1e-9)
    mid = np.array([(xa + xb) / 2, (ya + yb) / 2])
    if np.dot(centre - mid, normal) < 0:
        normal = -normal
    points = mid + np.linspace(-0.4, 0.4, 9)[:, None] * along

    def level(offsets: tuple[int, ...]) -> float:
        samples = (points[None] + np.array(offsets, np.float64)[:, None, None] * normal).reshape(-1, 2).round().astype(int)
        ok = (samples[:, 0] >= 0) & (samples[:, 0] < gray.shape[1]) & (samples[:, 1] >= 0) & (samples[:, 1] < gray.shape[0])
        return float(np.median(gray[samples[ok, 1], samples[ok, 0]])) if ok.any() else float("nan")

    contrast = level((4, 6, 8)) - level((-4, -6, -8))
    return 0.0 if np.isnan(contrast) else contrast


def _crop(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return pixels[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
