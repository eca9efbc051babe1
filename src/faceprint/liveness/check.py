"""One liveness verdict from a sequence of frames: the challenge (when one was asked)
and the passive signals, each reported, combined into a 0-100 confidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from faceprint.analysis import Analyzer
from faceprint.liveness.challenge import ChallengeResult, judge
from faceprint.liveness.frames import FramePixels, Measured, Unjudgeable, measure
from faceprint.liveness.passive import PassiveSignals, passive_score, passive_signals

LIVE_AT = 50.0  # confidence at or above which a sequence is called live


@dataclass(frozen=True)
class LivenessResult:
    """Args:
    live: the verdict (``confidence >= 50``); never True when ``reason`` is set.
    confidence: 0-100.
    reason: why the frames could not be judged or failed (empty on a pass).
    signals: each signal's own 0-100 score (None: it had no say).
    challenge: the challenge's outcome, when one was asked.
    passive: the passive signals' raw measurements.
    reference: the frame the verdict relies on most (sharpest frontal face).
    audit: a few frames spread over the attempt, for Rekognition's AuditImages.
    """

    live: bool
    confidence: float
    reason: str = ""
    signals: dict[str, float | None] = field(default_factory=dict)
    challenge: ChallengeResult | None = None
    passive: PassiveSignals | None = None
    reference: Measured | None = None
    audit: list[Measured] = field(default_factory=list)
    judged: bool = True  # False: the frames could not be judged (bad input), no verdict

    @property
    def verdict(self) -> str:
        return "live" if self.live else "spoof"


def check_liveness(
    analyzer: Analyzer,
    frames: Iterable[tuple[float, FramePixels]],
    *,
    actions: list[str] | None = None,
    audit_images: int = 3,
    same_person: Callable[[np.ndarray], np.ndarray] | None = None,
) -> LivenessResult:
    """Judge ``(ms, RGB)`` frames. With ``actions``, the person had to perform them
    (the challenge); without, only the passive signals speak. ``same_person`` gives
    each face's calibrated one-person bar (``engine.bar(SAME_PERSON_SIMILARITY).thresholds``)."""
    try:
        seq = measure(analyzer, frames)
    except Unjudgeable as exc:
        return LivenessResult(False, 0.0, f"{exc.reason}: {exc}", judged=False)
    signals = passive_signals(seq, same_person)
    scores = signals.scores()
    confidence = passive_score(signals)
    result_challenge = None
    reason = ""
    if actions:
        result_challenge = judge(seq, actions)
        scores["challenge"] = 100.0 if result_challenge.passed else 0.0
        confidence = min(confidence, scores["challenge"])  # type: ignore[type-var]
        if not result_challenge.passed:
            reason = f"CHALLENGE_FAILED: {result_challenge.reason}"
    failing = [name for name, s in scores.items() if s is not None and s < LIVE_AT]
    if not reason and failing:
        reason = "SPOOF_SIGNALS: " + ", ".join(failing)
    best = max(seq.frames, key=lambda m: m.face.quality[0][1] - abs(m.attrs.pose.yaw))  # type: ignore[index]
    picks = np.linspace(0, len(seq.frames) - 1, min(audit_images, len(seq.frames))).round().astype(int)
    live = confidence >= LIVE_AT and not reason
    return LivenessResult(
        live=live,
        confidence=round(float(confidence), 2),
        reason=reason,
        signals=scores,
        challenge=result_challenge,
        passive=signals,
        reference=best,
        audit=[seq.frames[i] for i in picks],
    )
