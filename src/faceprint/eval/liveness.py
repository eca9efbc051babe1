"""Liveness material and ISO/IEC 30107-3 error rates.

Real material (``$FACEPRINT_DATA/liveness``): one person's live webcam video and a
phone replay of him. Synthetic material, labelled as such everywhere it is reported:

* **planar photo attacks**: a face photo held up as a flat card and moved along a
  smooth random path (turned up to 25 degrees about both axes, rolled, shifted), seen
  by a pinhole camera: what a printed photo or a photo on a phone looks like when
  waved in front of a camera;
* **screen replays**: live frames shown on a flat "phone" that moves the same way:
  the screen's pixel grid (red, green and blue stripes, at a random pitch of 0.6-1.6
  camera pixels, which the camera's own sampling turns into moiré), a dark bezel
  round it, and a band of glare across it;
* **live sequences**: stretches of the live video.

APCER: share of attack presentations accepted as live. BPCER: share of live
presentations rejected.
"""

from __future__ import annotations

import csv
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
    """Live frames on a moving flat screen: its pixel grid, a bezel and a band of glare."""
    out: Frames = []
    h, full_w = live[0][1].shape[:2]
    w = min(full_w, int(0.65 * h))  # a phone held upright shows the middle of the frame
    left = (full_w - w) // 2
    band = np.zeros((h, w), np.float32)
    x0 = rng.uniform(-0.1, 0.5) * w
    cv2.line(band, (int(x0), 0), (int(x0 + 0.3 * w), h), 1.0, int(0.12 * w))
    band = cv2.GaussianBlur(band, (0, 0), 0.03 * w)[..., None]
    bezel = int(rng.uniform(0.04, 0.08) * w)
    pitch = rng.uniform(0.6, 1.6)  # screen pixels as seen by the camera, in camera pixels
    across = int(0.8 * min(full_w, h) * w / h / pitch)  # the screen's pixels across, at show_on_plane's scale 0.8
    for (ms, frame), pose in zip(live, plane_path(len(live), rng, max_turn=15.0)):
        shown = (frame[:, left : left + w].astype(np.float32) * (1 - 0.6 * band) + 255.0 * 0.6 * band).clip(0, 255).astype(np.uint8)
        screen = pixel_grid(shown, across)
        phone = cv2.copyMakeBorder(screen, *(bezel * screen.shape[1] // w,) * 4, cv2.BORDER_CONSTANT, value=(18, 18, 20))
        out.append((ms, show_on_plane(phone, background, pose, scale=0.8)))
    return out


def pixel_grid(content: np.ndarray, across: int, *, strength: float = 0.08) -> np.ndarray:
    """``content`` as a screen ``across`` pixels wide shows it, drawn at three times
    that resolution: each pixel a red, a green and a blue stripe over a dark gap row.
    ``strength`` is how much of the grid survives the camera's lens."""
    h, w = content.shape[:2]
    native = cv2.resize(content, (across, max(1, round(across * h / w))), interpolation=cv2.INTER_AREA)
    plain = np.repeat(np.repeat(native, 3, axis=0), 3, axis=1).astype(np.float32)
    grid = np.zeros_like(plain)
    for c in range(3):
        grid[:, c::3, c] = plain[:, c::3, c] * 3.0
    grid[2::3] *= 0.25
    return ((1 - strength) * plain + strength * grid).clip(0, 255).astype(np.uint8)


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


@dataclass(frozen=True)
class LabelledAction:
    """An action a person was seen performing in a video, labelled by hand. ``mild``:
    too slight to say by eye whether a challenge would count it."""

    action: str
    start_s: float
    end_s: float
    mild: bool = False

    def mirrored(self) -> "LabelledAction":
        swap = {"TURN_LEFT": "TURN_RIGHT", "TURN_RIGHT": "TURN_LEFT"}
        return LabelledAction(swap.get(self.action, self.action), self.start_s, self.end_s, self.mild)


def read_action_labels(path: Path) -> list[LabelledAction]:
    """The ``action,start_s,end_s,...,strength`` rows of a label file, in time order."""
    with path.open(newline="") as f:
        rows = [LabelledAction(r["action"], float(r["start_s"]), float(r["end_s"]), r.get("strength") == "mild") for r in csv.DictReader(f)]
    return sorted(rows, key=lambda r: r.start_s)


def performed(labels: list[LabelledAction], start_s: float, asked: list[str], limit_s: float) -> bool:
    """Whether the labelled video, watched from ``start_s``, shows a person doing
    ``asked`` and nothing else a challenge counts against: the clear turns and open
    mouths that begin up to the start of the last asked action are, in order, exactly
    the asked ones, and no mild (uncertain) one is among them. Blinks not asked are
    ignored, as the challenge ignores them."""
    seen = [lab for lab in labels if start_s <= lab.start_s < start_s + limit_s]
    matched: list[LabelledAction] = []
    for action in asked:
        after = matched[-1].start_s if matched else start_s
        nxt = next((lab for lab in seen if lab.action == action and not lab.mild and lab.start_s > after - 1e-9 and lab not in matched), None)
        if nxt is None:
            return False
        matched.append(nxt)
    counted = [lab for lab in seen if lab.action != "BLINK" and lab.start_s <= matched[-1].start_s]
    return not any(lab.mild for lab in counted) and [lab.action for lab in counted] == [a for a in asked if a != "BLINK"]
