"""Plain values needed before anything heavy is loaded.

The package's verbs (``faceprint.compare``, ``faceprint.verify``) and the command
line's option defaults and choices need these when they are defined, and importing
the modules that use them would load numpy, OpenCV, ONNX Runtime, FFmpeg and the
store just to print ``faceprint --help``. So this module imports nothing, and each
value lives here only: the module named beside it imports it from here.
"""

from __future__ import annotations

DEFAULT_MIN_SIMILARITY = 40.0  # faceprint.engine: 1 false match in 10,000 impostor pairs
DEFAULT_WATCH_SIMILARITY = 50.0  # faceprint.video.watcher: 1 false match in 100,000 comparisons
BOOTSTRAP_REPS = 1000  # faceprint.eval.fairness
ACTIONS = ("BLINK", "OPEN_MOUTH", "TURN_LEFT", "TURN_RIGHT")  # faceprint.liveness.challenge
ROLES = ("admin", "indexer", "searcher", "auditor", "consent")  # faceprint.store.keys
BASES = ("consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests")  # faceprint.store.consent
