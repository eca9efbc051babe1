"""Liveness sessions, as in Rekognition Face Liveness: created with a random challenge,
judged once on the frames the client sends, then read back.

Sessions live in memory for ``ttl_s`` (3 minutes, like Rekognition's): a session is a
single short attempt, and one left over after a restart is simply gone (its caller
starts a new one). A caller whose sessions fail ``max_failures`` times within
``failure_window_s`` is refused new ones until the oldest failure ages out, so a
replay or photo cannot be retried against the check indefinitely.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from faceprint.analysis import Analyzer
from faceprint.errors import InvalidParameter, SessionNotFound, TooManyFailures
from faceprint.liveness.challenge import random_actions, time_limit_ms
from faceprint.liveness.check import LivenessResult, check_liveness

TTL_S = 180.0
MAX_FAILURES = 5
FAILURE_WINDOW_S = 180.0


@dataclass
class LivenessSession:
    session_id: str
    owner: str
    actions: list[str]
    created: float
    expires: float
    audit_images: int = 0
    status: str = "CREATED"  # CREATED, IN_PROGRESS, SUCCEEDED, FAILED, EXPIRED
    result: LivenessResult | None = None

    @property
    def time_limit_ms(self) -> float:
        return time_limit_ms(self.actions)


@dataclass
class LivenessSessions:
    analyzer: Analyzer
    ttl_s: float = TTL_S
    max_failures: int = MAX_FAILURES
    failure_window_s: float = FAILURE_WINDOW_S
    clock: Callable[[], float] = time.time
    _sessions: dict[str, LivenessSession] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, owner: str, *, audit_images: int = 0, actions: list[str] | None = None) -> LivenessSession:
        """A new session with a random challenge.

        Raises:
            TooManyFailures: this caller failed ``max_failures`` sessions within the window.
        """
        now = self.clock()
        with self._lock:
            self._forget(now)
            failures = self._failures.get(owner, deque())
            if len(failures) >= self.max_failures:
                wait = failures[0] + self.failure_window_s - now
                raise TooManyFailures(f"{len(failures)} failed liveness sessions in {self.failure_window_s / 60:.0f} minutes; try again in {wait:.0f} s")
            session = LivenessSession(str(uuid.uuid4()), owner, actions or random_actions(), now, now + self.ttl_s, audit_images)
            self._sessions[session.session_id] = session
            return session

    def get(self, session_id: str, owner: str) -> LivenessSession:
        """Raises: SessionNotFound: unknown, forgotten, or another caller's."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.owner != owner:
                raise SessionNotFound(f"no liveness session {session_id}")
            if session.status in ("CREATED", "IN_PROGRESS") and self.clock() > session.expires:
                session.status = "EXPIRED"
            return session

    def submit(self, session_id: str, owner: str, frames: Iterable[tuple[float, np.ndarray]]) -> LivenessSession:
        """Judge the session's frames, once.

        Raises:
            SessionNotFound: see :meth:`get`.
            InvalidParameter: the session was already used, or has expired.
        """
        session = self.get(session_id, owner)
        with self._lock:
            if session.status == "EXPIRED":
                raise InvalidParameter(f"liveness session {session_id} expired; start a new one")
            if session.status != "CREATED":
                raise InvalidParameter(f"liveness session {session_id} was already used; start a new one")
            session.status = "IN_PROGRESS"
        result = check_liveness(self.analyzer, frames, actions=session.actions, audit_images=session.audit_images)
        with self._lock:
            session.result = result
            # bad input is FAILED (no verdict); a judged attempt SUCCEEDED, live or not
            session.status = "FAILED" if result.reason.split(":")[0] in UNJUDGEABLE else "SUCCEEDED"
            if not result.live:
                self._failures.setdefault(owner, deque()).append(self.clock())
        return session

    def _forget(self, now: float) -> None:
        for owner, times in list(self._failures.items()):
            while times and now - times[0] > self.failure_window_s:
                times.popleft()
            if not times:
                del self._failures[owner]
        for sid in [sid for sid, s in self._sessions.items() if now > s.expires + self.ttl_s]:
            del self._sessions[sid]  # results stay readable for one more lifetime, then go


UNJUDGEABLE = {"TOO_FEW_FRAMES", "TOO_MANY_FRAMES", "FRAMES_OUT_OF_ORDER", "FACE_NOT_FOUND", "MULTIPLE_FACES"}
