"""Screen and print artefacts on drawn frames: moiré fringes, a panel's border, and
what must not read as either (codec blocks, one straight edge in a room)."""

from __future__ import annotations

import cv2
import numpy as np

from faceprint.liveness.artefacts import is_framed, moire_peak, panel_sides
from faceprint.liveness.passive import MOIRE_SPOOF

BOX = np.array([260.0, 160.0, 380.0, 320.0])  # a face-sized box in a 640x480 frame


def _skin(seed: int = 0) -> np.ndarray:
    """Smooth shading with fine, unpatterned texture, like skin under a webcam."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(140, 40, (480, 640)).astype(np.float32), (0, 0), 25)
    grain = cv2.GaussianBlur(rng.normal(0, 6, (480, 640)).astype(np.float32), (0, 0), 0.8)
    gray = np.clip(base + grain, 0, 255).astype(np.uint8)
    return np.dstack([gray, (gray * 0.8).astype(np.uint8), (gray * 0.7).astype(np.uint8)])


def test_fine_fringes_read_as_moire_and_plain_texture_does_not() -> None:
    plain = _skin()
    yy, xx = np.mgrid[0:480, 0:640]
    fringes = 10.0 * np.sin(2 * np.pi * (0.23 * xx + 0.11 * yy))
    moire = np.clip(plain.astype(np.float32) + fringes[..., None], 0, 255).astype(np.uint8)
    assert moire_peak(plain, BOX) < MOIRE_SPOOF < moire_peak(moire, BOX)  # type: ignore[operator]


def test_jpeg_blocks_are_not_moire() -> None:
    ok, jpeg = cv2.imencode(".jpg", _skin(1), [cv2.IMWRITE_JPEG_QUALITY, 25])
    blocky = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert moire_peak(blocky, BOX) < MOIRE_SPOOF  # type: ignore[operator]


def test_a_tiny_face_has_no_moire_say() -> None:
    assert moire_peak(_skin(), np.array([300.0, 200.0, 330.0, 240.0])) is None


def test_a_lit_panel_around_the_face_is_framed() -> None:
    frame = np.full((480, 640, 3), 40, np.uint8)
    cv2.rectangle(frame, (170, 40), (470, 470), (220, 220, 220), -1)  # a screen, lit, in a dark room
    frame[160:320, 260:380] = 150  # the face on it
    sides = panel_sides(frame, BOX)
    assert {"left", "right", "top"} <= set(sides) and all(c > 0 for c in sides.values())
    assert is_framed(sides)


def test_a_door_edge_beside_the_face_is_not_framed() -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 440:] = 200  # one bright doorway to the right
    frame[160:320, 260:380] = 150
    assert not is_framed(panel_sides(frame, BOX))


def test_edges_of_opposite_polarity_are_not_a_panel() -> None:
    # a dark wardrobe on the left, a bright window on the right: two edges, no panel
    frame = np.full((480, 640, 3), 120, np.uint8)
    frame[:, :150] = 30
    frame[:, 470:] = 230
    frame[160:320, 260:380] = 150
    sides = panel_sides(frame, BOX)
    assert {"left", "right"} <= set(sides)
    assert not is_framed(sides)
