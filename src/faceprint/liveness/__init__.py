"""Liveness: is the face in front of the camera a live person, not a photo or a
replayed video? An active challenge (random actions, judged against the person's own
resting face) and passive signals (planar motion, screen glare, one identity)."""

from faceprint.liveness.challenge import ACTIONS, ChallengeResult, random_actions, time_limit_ms
from faceprint.liveness.check import LIVE_AT, LivenessResult, check_liveness
from faceprint.liveness.frames import Unjudgeable
from faceprint.liveness.passive import PassiveSignals

__all__ = [
    "ACTIONS", "ChallengeResult", "random_actions", "time_limit_ms",
    "LIVE_AT", "LivenessResult", "check_liveness", "Unjudgeable", "PassiveSignals",
]  # fmt: skip
