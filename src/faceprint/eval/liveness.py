"""Liveness material and ISO/IEC 30107-3 error rates.

Real material (``$FACEPRINT_DATA/liveness``): one person's live webcam video and a
phone replay of him. Synthetic material, labelled as such everywhere it is reported:

* **planar photo attacks**: a face photo held up as a flat card and moved along a
  smooth random path (turned up to 25 degrees about both axes, rolled, shifted), seen
  by a pinhole camera: what a printed photo or a photo on a phone looks like when
  waved in front of a camera;
* **screen replays**: live frames shown on a flat "phone" that moves the same way,
  with the screen's glare laid over it;
* **live sequences**: stretches of the live video.

APCER: share of attack presentations accepted as live. BPCER: share of live
presentations rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

Frames = list[tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Presentation:
    name: str
    attack: bool
    kind: str  # "live", "replay", "photo (synthetic)", "screen replay (synthetic)", "live (segment)"
    frames: Frames


def video_frames(path: Path, *, every: int = 1, limit: int | None = None) -> Frames:
    """``(ms, RGB)`` frames of a video, every ``every``-th, at most ``limit``."""
    out: Frames = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                out.append(((frame.time or 0.0) * 1000.0 + i * 1e-3, frame.to_ndarray(format="rgb24")))
            if limit is not None and len(out) >= limit:
                break
    return out


def plane_path(n: int, rng: np.random.Generator, *, max_turn: float = 25.0) -> Iterator[tuple[float, float, float, float, float]]:
    """A smooth random path: yaw, pitch, roll (degrees) and x, y shift (fractions)."""
    knots = rng.uniform(-1, 1, size=(4, 5)) * np.array([max_turn, max_turn, 10.0, 0.12, 0.08])
    t = np.linspace(0, 1, n)
    xs = np.linspace(0, 1, len(knots))
    for k in range(n):
        yield tuple(float(np.interp(t[k], xs, knots[:, c])) for c in range(5))  # type: ignore[misc]


def show_on_plane(content: np.ndarray, background: np.ndarray, pose: tuple[float, float, float, float, float], *, scale: float = 0.6) -> np.ndarray:
    """``content`` on a flat card turned by ``pose``, seen by a pinhole camera over
    ``background``."""
    h, w = background.shape[:2]
    ch, cw = content.shape[:2]
    yaw, pitch, roll, dx, dy = pose
    side = scale * min(w, h)
    half = np.array([side * cw / max(ch, cw), side * ch / max(ch, cw)]) / 2
    corners = np.array([[-half[0], -half[1], 0], [half[0], -half[1], 0], [half[0], half[1], 0], [-half[0], half[1], 0]], np.float64)
    rot, _ = cv2.Rodrigues(np.radians([pitch, yaw, roll]))
    f = 1.2 * max(w, h)
    world = corners @ rot.T + np.array([0, 0, f])
    image = world[:, :2] / world[:, 2:] * f + np.array([w / 2 + dx * w, h / 2 + dy * h])
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    warp = cv2.getPerspectiveTransform(src, image.astype(np.float32))
    card = cv2.warpPerspective(content, warp, (w, h))
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), warp, (w, h))
    out = background.copy()
    out[mask > 0] = card[mask > 0]
    return out


def photo_attack(photo: np.ndarray, background: np.ndarray, rng: np.random.Generator, n: int = 30, fps: float = 15.0) -> Frames:
    return [(k * 1000.0 / fps, show_on_plane(photo, background, pose)) for k, pose in enumerate(plane_path(n, rng))]


def screen_replay(live: Frames, background: np.ndarray, rng: np.random.Generator) -> Frames:
    """Live frames on a moving flat screen, with a band of glare across it."""
    out: Frames = []
    h, w = live[0][1].shape[:2]
    band = np.zeros((h, w), np.float32)
    x0 = rng.uniform(0.2, 0.6) * w
    cv2.line(band, (int(x0), 0), (int(x0 + 0.3 * w), h), 1.0, int(0.12 * w))
    band = cv2.GaussianBlur(band, (0, 0), 0.03 * w)[..., None]
    for (ms, frame), pose in zip(live, plane_path(len(live), rng, max_turn=15.0)):
        shown = (frame.astype(np.float32) * (1 - 0.6 * band) + 255.0 * 0.6 * band).clip(0, 255).astype(np.uint8)
        out.append((ms, show_on_plane(shown, background, pose, scale=0.9)))
    return out


def apcer_bpcer(results: list[tuple[Presentation, bool]]) -> dict[str, float | int]:
    """``results``: each presentation with whether it was accepted as live."""
    attacks = [ok for p, ok in results if p.attack]
    lives = [ok for p, ok in results if not p.attack]
    return {
        "attacks": len(attacks),
        "live": len(lives),
        "apcer": sum(attacks) / len(attacks) if attacks else float("nan"),
        "bpcer": sum(not ok for ok in lives) / len(lives) if lives else float("nan"),
    }
