"""Passive liveness signals: what a challenge alone would miss.

* **Planar motion.** A printed photo or a phone screen moves as one flat plane: the
  image points of the face in any two frames are related by a single homography. A
  real head that turns shows parallax (the nose moves against the cheeks), which no
  homography explains. The signal tracks corners inside the face (optical flow, checked
  back and forth) between frame pairs and fits one homography to all of them: its
  residual, in eye-distances. The mesh's own landmarks cannot serve here: the mesh
  network reads a tilted photo as an untilted face and bends its points accordingly.
  Pairs where the face hardly moved cannot say.
* **Screen and print artefacts** (``artefacts.py``): glare (the median share of the
  face box that is near-white and colourless), moiré (the median spectral peak of
  the inner face) and a panel's border (the share of frames with a lit or pale panel
  around the face), each over up to 15 frames spread over the attempt.
* **Continuity.** Frames of one real attempt follow from one another, so corners
  track from frame to frame. A slideshow of stills (eyes shut in one, head turned in
  the next) breaks tracking between most pairs; the signal is the share of pairs that
  tracked.
* **One identity.** Several frames are embedded; all must be the same person (a swap
  mid-session, or a second face, is a spoof attempt or a bad session).

Each signal is measured on its own and reported (docs/liveness.md has the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from faceprint.liveness.artefacts import glare_share, is_framed, moire_peak, panel_sides
from faceprint.liveness.frames import Measured, Sequence

PAIR_STEP = 2  # frames compared: every second one ...
PAIR_GAP = 3  # ... against the one this many steps later
MIN_TRACKED = 25  # corners that must track both ways for a pair to count
MIN_MOTION = 0.03  # eye-distances the face must move between a pair's frames to count
PARALLAX_LIVE = 0.02  # homography residual (eye-distances) at which a sequence reads as 3-D
CONTINUOUS = 0.5  # share of neighbouring frames that must track for the frames to be one take
CONTINUITY_PAIRS = 40
GLARE_SPOOF = 0.02  # share of the face box that is glare, above which it reads as a screen or print
# Above the 90th percentile of single live frames (31) and near their 99th (46): the
# median of several frames of a live face does not reach it (benchmarks/liveness.py).
MOIRE_SPOOF = 40.0
BORDER_SPOOF = 0.25  # share of frames with a panel around the face, above which it reads as held up
ARTEFACT_SAMPLES = 15
SAME_PERSON = 0.30  # the lowest cosine between two frames of one person we accept (SFace, an average adult)
# The same bar as a similarity: two frames must be as alike as 1 in 100 pairs of
# strangers of their kind (SFace's global table puts 0.30 at similarity 20). With a
# region calibration a child's frames need more (strangers among children score higher),
# so swapping in another child mid-session no longer passes as one person.
SAME_PERSON_SIMILARITY = 20.0


@dataclass(frozen=True)
class PassiveSignals:
    """Args:
    parallax: 90th percentile homography residual over frame pairs where the face
        moved (eye-distances); None when it never moved enough to tell.
    pairs: how many frame pairs that was measured on.
    continuity: share of frame pairs whose corners tracked (both ways).
    glare: median share of glare pixels in the face box.
    identity: the lowest cosine between the sampled frames' embeddings, less the
        amount by which the pair's calibrated bar exceeds :data:`SAME_PERSON` (equal
        to the lowest cosine without a calibration).
    moire: median spectral peak of the inner face; None when the face was too small.
    framed: share of sampled frames with a panel's border around the face.
    """

    parallax: float | None
    pairs: int
    glare: float
    identity: float
    continuity: float = 1.0
    moire: float | None = None
    framed: float = 0.0

    def scores(self) -> dict[str, float | None]:
        """Each signal as a 0-100 liveness score (50 at its threshold); None: no say."""
        return {
            "planar_motion": None if self.parallax is None else _score(self.parallax, PARALLAX_LIVE, 0.005),
            "screen_glare": _score(-self.glare, -GLARE_SPOOF, 0.01),
            "moire": None if self.moire is None else _score(-self.moire, -MOIRE_SPOOF, 4.0),
            "screen_border": _score(-self.framed, -BORDER_SPOOF, 0.05),
            "identity": _score(self.identity, SAME_PERSON, 0.1),
            "continuity": _score(self.continuity, CONTINUOUS, 0.1),
        }


def passive_signals(seq: Sequence, same_person: Callable[[np.ndarray], np.ndarray] | None = None) -> PassiveSignals:
    """``same_person`` maps ``(n, d)`` embeddings to the cosine each face needs to count
    as one person with another (a pair needs the higher of its two); None: SAME_PERSON."""
    residual, pairs, continuity = parallax(seq)
    sample = seq.frames[:: max(1, len(seq.frames) // ARTEFACT_SAMPLES)]
    glare = float(np.median([glare_share(m.pixels, m.box) for m in sample]))
    peaks = [p for p in (moire_peak(m.pixels, m.box) for m in sample) if p is not None]
    moire = float(np.median(peaks)) if len(peaks) >= len(sample) / 2 else None
    framed = float(np.mean([is_framed(panel_sides(m.pixels, m.box)) for m in sample]))
    return PassiveSignals(residual, pairs, glare, one_person(seq.embeddings, same_person), continuity, moire, framed)


def one_person(embeddings: np.ndarray, same_person: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
    """The identity signal: the lowest cosine between frames, shifted so that
    :data:`SAME_PERSON` is the bar whatever the faces' calibrated bars are.

    Example:
        >>> v = np.array([[1.0, 0.0], [0.6, 0.8]])
        >>> round(one_person(v), 2), round(one_person(v, lambda e: np.full(len(e), 0.7)), 2)
        (0.6, 0.2)
    """
    cos = embeddings @ embeddings.T
    need = np.full(len(cos), SAME_PERSON) if same_person is None else np.asarray(same_person(embeddings), np.float64)
    # an undecidable face (inf) gets the highest bar a face can have: a cosine of 1
    need = np.where(np.isfinite(need), need, 1.0)
    margin = cos - np.maximum(need[:, None], need[None, :])
    return float(SAME_PERSON + margin.min())


def passive_score(signals: PassiveSignals) -> float:
    """0-100: the weakest signal that has a say (a spoof only needs to fail one)."""
    said = [s for s in signals.scores().values() if s is not None]
    return float(min(said)) if said else 50.0


def parallax(seq: Sequence) -> tuple[float | None, int, float]:
    """Homography residual of image features tracked across frame pairs, in
    eye-distances (90th percentile over the pairs where the face moved), how many
    pairs that was, and the share of neighbouring frames whose corners tracked."""
    frames = seq.frames[::PAIR_STEP]
    residuals = []
    for a, b in zip(frames, frames[PAIR_GAP:]):
        r = _pair_residual(a, b)
        if r is not None and r is not LOST:
            residuals.append(float(r))
    # continuity: neighbouring frames, at most CONTINUITY_PAIRS of them spread over the take
    step = max(1, (len(seq.frames) - 1) // CONTINUITY_PAIRS)
    neighbours = [(seq.frames[i], seq.frames[i + 1]) for i in range(0, len(seq.frames) - 1, step)]
    tracked = sum(_pair_residual(a, b) is not LOST for a, b in neighbours)
    continuity = tracked / len(neighbours) if neighbours else 1.0
    if not residuals:
        return None, 0, continuity
    return float(np.percentile(residuals, 90)), len(residuals), continuity


LOST = -1.0  # a pair whose corners did not track: not the same take


def _pair_residual(a: Measured, b: Measured) -> float | None:
    """Track corners inside the face from ``a`` to ``b`` (checked back again), fit one
    homography to all of them, and return its median error over the eye distance;
    None when the face hardly moved (or shows too few corners to track), ``LOST``
    when the corners did not track."""
    ga, gb = cv2.cvtColor(a.pixels, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b.pixels, cv2.COLOR_RGB2GRAY)
    mask = np.zeros_like(ga)
    hull = cv2.convexHull(a.mesh.xy[:468].astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    pts = cv2.goodFeaturesToTrack(ga, maxCorners=300, qualityLevel=0.005, minDistance=4, mask=mask)
    if pts is None or len(pts) < MIN_TRACKED:
        return None
    fwd, ok1, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, None, winSize=(15, 15), maxLevel=3)
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(gb, ga, fwd, None, winSize=(15, 15), maxLevel=3)
    good = (ok1.ravel() == 1) & (ok2.ravel() == 1) & (np.linalg.norm(back - pts, axis=2).ravel() < 0.7)
    if good.sum() < MIN_TRACKED:
        return LOST
    p, q = pts[good].reshape(-1, 2), fwd[good].reshape(-1, 2)
    eyes = float(np.linalg.norm(a.mesh.xy[263] - a.mesh.xy[33])) + 1e-6
    if float(np.median(np.linalg.norm(q - p, axis=1))) < MIN_MOTION * eyes:
        return None
    h, _ = cv2.findHomography(p, q, 0)  # least squares over every corner: a plane fits all of them
    if h is None:
        return None
    moved = cv2.perspectiveTransform(p[None], h)[0]
    return float(np.median(np.linalg.norm(moved - q, axis=1))) / eyes


def _score(value: float, threshold: float, spread: float) -> float:
    return float(100.0 / (1.0 + np.exp(-(value - threshold) / spread)))
