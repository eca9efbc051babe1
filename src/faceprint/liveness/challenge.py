"""The active challenge: a random sequence of actions the person must perform, judged
against their own resting face.

Thresholds are relative to the person: people's resting eye openness differs a lot,
and so does how far their mouth opens when they talk.

* ``BLINK``: the eyes drop below 70% of their open level (the sequence's 90th
  percentile) and open again to 85% of it.
* ``OPEN_MOUTH``: the inner-lip gap rises 0.15 mouth-widths above the closed level
  (the sequence's 10th percentile), and to at least 0.25.
* ``TURN_LEFT`` / ``TURN_RIGHT``: the head turns at least 20 degrees to the person's
  own left / right from where it started (the median of the first five frames). The
  camera is not mirrored: turning to one's left turns the face towards the image's
  right.

A recording cannot know the actions or their order, but a lively one may contain some
of them by chance. So the order is enforced: the k-th action must be done within k
action-slots of the start; a turn or an open mouth done before its turn, or not asked
for at all, before the last action fails the challenge (blinks are involuntary and
never count against).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import numpy as np

from faceprint.constants import ACTIONS
from faceprint.liveness.frames import Sequence

CLOSED = 0.70
REOPENED = 0.85
MOUTH_RISE = 0.15
MOUTH_MIN = 0.25
TURN_DEGREES = 20.0
SECONDS_PER_ACTION = 3.0
SECONDS_EXTRA = 2.0


def random_actions(rng: random.Random | None = None) -> list[str]:
    """Two or three different actions in a random order, unpredictable to a client."""
    rng = rng or secrets.SystemRandom()
    actions = rng.sample(ACTIONS, rng.choice((2, 3)))
    if {"TURN_LEFT", "TURN_RIGHT"} <= set(actions) and len(actions) == 2:
        actions[1] = rng.choice(["BLINK", "OPEN_MOUTH"])  # two turns alone say little
    return actions


def time_limit_ms(actions: list[str]) -> float:
    return (SECONDS_PER_ACTION * len(actions) + SECONDS_EXTRA) * 1000.0


@dataclass(frozen=True)
class ChallengeResult:
    """Args:
    done: the actions found, in order, each with the stream time (ms from the first
        frame) it was completed.
    passed: every action done, in the order asked, within the time limit.
    """

    asked: list[str]
    done: list[tuple[str, float]]
    passed: bool
    reason: str = ""


def judge(seq: Sequence, asked: list[str]) -> ChallengeResult:
    frames = seq.frames
    t0 = frames[0].ms
    ms = np.array([m.ms - t0 for m in frames])
    eyes = np.array([float(np.mean(m.attrs.eye_openness)) for m in frames])
    mouth = np.array([m.attrs.mouth_openness for m in frames])
    yaw = np.array([m.attrs.pose.yaw for m in frames])
    open_level = float(np.percentile(eyes, 90))
    closed_mouth = float(np.percentile(mouth, 10))
    start_yaw = float(np.median(yaw[:5]))
    done: list[tuple[str, float]] = []
    at = 0  # actions must follow one another: each is looked for after the last
    for k, action in enumerate(asked):
        found = _find(action, at, eyes, mouth, yaw, open_level, closed_mouth, start_yaw)
        if found is None:
            return ChallengeResult(asked, done, False, f"{action} not seen" + (f" after {done[-1][0]}" if done else ""))
        done.append((action, float(ms[found])))
        slot = (SECONDS_PER_ACTION * (k + 1) + SECONDS_EXTRA) * 1000.0
        if ms[found] > slot:
            return ChallengeResult(asked, done, False, f"{action} came {ms[found] / 1000:.1f} s in; it was due by {slot / 1000:.0f} s")
        if k and action != "BLINK":  # done before its turn: the order was not followed
            early = _find(action, 0, eyes[:at], mouth[:at], yaw[:at], open_level, closed_mouth, start_yaw)
            if early is not None:
                return ChallengeResult(asked, done, False, f"{action} at {ms[early] / 1000:.1f} s came before its turn")
        at = found + 1
    for other in ("OPEN_MOUTH", "TURN_LEFT", "TURN_RIGHT"):
        if other in asked:
            continue
        stray = _find(other, 0, eyes[:at], mouth[:at], yaw[:at], open_level, closed_mouth, start_yaw)
        if stray is not None:
            return ChallengeResult(asked, done, False, f"{other} at {ms[stray] / 1000:.1f} s was not asked for")
    return ChallengeResult(asked, done, True)


def _find(action: str, start: int, eyes: np.ndarray, mouth: np.ndarray, yaw: np.ndarray, open_level: float, closed_mouth: float, start_yaw: float) -> int | None:
    n = len(eyes)
    if action == "BLINK":
        closed_at = next((i for i in range(start, n) if eyes[i] < CLOSED * open_level), None)
        if closed_at is None:
            return None
        return next((i for i in range(closed_at + 1, n) if eyes[i] >= REOPENED * open_level), None)
    if action == "OPEN_MOUTH":
        need = max(MOUTH_MIN, closed_mouth + MOUTH_RISE)
        return next((i for i in range(start, n) if mouth[i] >= need), None)
    sign = 1.0 if action == "TURN_LEFT" else -1.0  # to one's left = towards the image's right = yaw up
    return next((i for i in range(start, n) if sign * (yaw[i] - start_yaw) >= TURN_DEGREES), None)
