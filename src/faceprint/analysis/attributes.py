"""Facial attributes measured from the dense mesh: eyes open, mouth open, gaze, head
pose, and Rekognition's named landmarks.

Every attribute here is a geometric measurement with a stated rule, not a classifier's
guess. Age, gender and emotion are deliberately absent (see docs/attributes.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from faceprint.analysis.mesh import EYE_CONTOUR, Mesh

# Eye openness: lid gap over eye width, averaged over three lid pairs (the eye aspect
# ratio of Soukupova and Cech, 2016). Open eyes measure about 0.25-0.35; a closed
# eye below 0.15; 0.2 is the usual cut, kept: our labels hold too few closed eyes (7)
# to pick another.
EYES_OPEN_RATIO = 0.20
EYE_SPREAD = 0.05  # how far from the cut a ratio must be for 88% confidence (sigmoid of 2)
# Mouth openness: inner-lip gap over mouth width. The cut is the one our hand labels
# pick (0.066; a cut picked on half the labels scores 0.94 balanced accuracy on the
# other half; docs/attributes.md). Closed mouths measure about 0.03.
MOUTH_OPEN_RATIO = 0.07
MOUTH_SPREAD = 0.05
# Gaze from the iris: its offset from the eye's centre, in half eye-widths, turned into
# an angle on an eyeball whose radius is 0.8 of the half width (about 12 mm against
# 15 mm in adults).
EYEBALL_RADIUS = 0.8

# Mesh indices. "Left" and "right" are the image's sides, as in Rekognition's landmark
# names (eyeLeft is the eye on the image's left: the subject's right eye).
EYES = {
    "left": {"corners": (33, 133), "lids": ((159, 145), (158, 153), (160, 144)), "iris": 468},
    "right": {"corners": (362, 263), "lids": ((386, 374), (385, 380), (387, 373)), "iris": 473},
}
MOUTH = {"corners": (61, 291), "inner": (13, 14)}
LANDMARKS = {
    "eyeLeft": None,  # the centre of the eye's corners; filled below
    "eyeRight": None,
    "nose": 1,
    "mouthLeft": 61,
    "mouthRight": 291,
    "leftEyeBrowLeft": 46,
    "leftEyeBrowRight": 55,
    "leftEyeBrowUp": 105,
    "rightEyeBrowLeft": 285,
    "rightEyeBrowRight": 276,
    "rightEyeBrowUp": 334,
    "leftEyeLeft": 33,
    "leftEyeRight": 133,
    "leftEyeUp": 159,
    "leftEyeDown": 145,
    "rightEyeLeft": 362,
    "rightEyeRight": 263,
    "rightEyeUp": 386,
    "rightEyeDown": 374,
    "noseLeft": 98,
    "noseRight": 327,
    "mouthUp": 0,
    "mouthDown": 17,
    "leftPupil": 468,
    "rightPupil": 473,
    "upperJawlineLeft": 234,
    "midJawlineLeft": 172,
    "chinBottom": 152,
    "midJawlineRight": 397,
    "upperJawlineRight": 454,
}


@dataclass(frozen=True)
class Flag:
    """A yes/no attribute with the confidence of the call, 50-100."""

    value: bool
    confidence: float


@dataclass(frozen=True)
class Angles:
    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class FaceAttributes:
    """What the mesh says about one face.

    Attributes:
        eyes_open, mouth_open: the calls and their confidence.
        eye_openness: the measured lid gap over eye width per eye (left, right in the
            image), for callers that compare against a person's own baseline.
        mouth_openness: inner-lip gap over mouth width.
        gaze: eye direction relative to the head, degrees (yaw > 0: towards the
            image's right; pitch > 0: up), with a confidence; roll is 0.
        gaze_confidence: 0-100.
        pose: head pose from the mesh, degrees, same signs as ``Quality``.
        landmarks: Rekognition's landmark types, in image pixels.
        presence: the mesh model's confidence that its crop held a face, 0-1.
    """

    eyes_open: Flag
    mouth_open: Flag
    eye_openness: tuple[float, float]
    mouth_openness: float
    gaze: Angles
    gaze_confidence: float
    pose: Angles
    landmarks: dict[str, tuple[float, float]]
    presence: float


def face_attributes(mesh: Mesh) -> FaceAttributes:
    """Measure the attributes of one face from its mesh."""
    p = mesh.points.astype(np.float64)
    openness = (eye_openness(mesh.eye_contours[0]), eye_openness(mesh.eye_contours[1]))
    mouth = _ratio(p, MOUTH["inner"], MOUTH["corners"])
    eyes = float(np.mean(openness))
    gaze = gaze_angles(p, openness)
    return FaceAttributes(
        eyes_open=_flag(eyes, EYES_OPEN_RATIO, EYE_SPREAD),
        mouth_open=_flag(mouth, MOUTH_OPEN_RATIO, MOUTH_SPREAD),
        eye_openness=openness,
        mouth_openness=mouth,
        gaze=gaze,
        # closed or nearly closed eyes hide the iris: gaze is a guess then
        gaze_confidence=float(100.0 * mesh.presence * min(1.0, eyes / EYES_OPEN_RATIO)),
        pose=mesh_pose(p),
        landmarks=named_landmarks(p),
        presence=mesh.presence,
    )


def eye_openness(contour: np.ndarray) -> float:
    """Lid gap over eye width from the iris model's eye contour. The face mesh's own
    lids barely close on a blink (its closed eyes measured 0.22 against 0.27 open on
    our labels); the iris model's contour follows them."""
    a, b = EYE_CONTOUR["corners"]
    width = float(np.linalg.norm(contour[a, :2] - contour[b, :2])) + 1e-6
    gaps = [float(np.linalg.norm(contour[u, :2] - contour[d, :2])) for u, d in EYE_CONTOUR["lids"]]
    return float(np.mean(gaps) / width)


def gaze_angles(p: np.ndarray, openness: tuple[float, float]) -> Angles:
    """Mean eye-in-head direction of the two irises (the more open eye counts more)."""
    yaws, pitches, weights = [], [], []
    for side, open_ in zip(("left", "right"), openness):
        eye = EYES[side]
        a, b = p[eye["corners"][0], :2], p[eye["corners"][1], :2]
        half = float(np.linalg.norm(b - a)) / 2.0 + 1e-6
        across = (b - a) / (2.0 * half)  # unit vector along the eye, towards the image's right
        down = np.array([-across[1], across[0]])  # image-down, perpendicular to it
        lids = np.mean([(p[u, :2] + p[d, :2]) / 2.0 for u, d in eye["lids"]], axis=0)
        centre = np.array([(a + b) / 2.0 @ across, lids @ down])
        iris = p[eye["iris"], :2]
        h = (iris @ across - centre[0]) / half
        v = (iris @ down - centre[1]) / half
        yaws.append(math.degrees(math.asin(max(-1.0, min(1.0, h / EYEBALL_RADIUS)))))
        pitches.append(-math.degrees(math.asin(max(-1.0, min(1.0, v / EYEBALL_RADIUS)))))
        weights.append(max(open_, 1e-3))
    w = np.array(weights) / sum(weights)
    return Angles(float(np.dot(w, yaws)), float(np.dot(w, pitches)), 0.0)


def mesh_pose(p: np.ndarray) -> Angles:
    """Head yaw, pitch and roll from the mesh's own depth.

    The head's x axis runs between the outer eye corners, its y axis from the top of
    the forehead (10) to the chin (152), made orthogonal to x. A face turning to the
    image's right sends its right side away from the camera (x gains depth), a face
    tilting its chin up brings the chin closer (y loses depth).
    """
    x = p[263] - p[33]
    x /= np.linalg.norm(x) + 1e-9
    y = p[152] - p[10]
    y -= (y @ x) * x
    y /= np.linalg.norm(y) + 1e-9
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, x[2]))))
    pitch = -math.degrees(math.asin(max(-1.0, min(1.0, y[2]))))
    roll = math.degrees(math.atan2(x[1], x[0]))
    return Angles(yaw, pitch, roll)


def named_landmarks(p: np.ndarray) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for name, index in LANDMARKS.items():
        if index is None:
            a, b = EYES["left" if name == "eyeLeft" else "right"]["corners"]
            x, y = (p[a, :2] + p[b, :2]) / 2.0
        else:
            x, y = p[index, :2]
        out[name] = (float(x), float(y))
    return out


def _ratio(p: np.ndarray, gap: tuple[int, int], width: tuple[int, int]) -> float:
    return float(np.linalg.norm(p[gap[0], :2] - p[gap[1], :2]) / (np.linalg.norm(p[width[0], :2] - p[width[1], :2]) + 1e-6))


def _flag(ratio: float, cut: float, spread: float) -> Flag:
    margin = 2.0 * abs(ratio - cut) / spread  # one spread from the cut: sigmoid(2), 88
    return Flag(bool(ratio >= cut), float(100.0 / (1.0 + math.exp(-margin))))
