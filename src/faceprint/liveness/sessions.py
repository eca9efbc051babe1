"""Liveness sessions, as in Rekognition Face Liveness: created with a random challenge,
judged once on the frames the client sends, then read back.

Sessions live in memory for ``ttl_s`` (3 minutes, like Rekognition's): a session is a
single short attempt, and one left over after a restart is simply gone (its caller
starts a new one).

Against retrying and preparing:
* a caller whose sessions fail ``max_failures`` times within ``failure_window_s`` is
  refused new sessions and frames until the oldest failure ages out; a session left
  to expire unused counts as a failure, so challenges cannot be drawn for free until
  one matches a recording;
* a caller has at most ``max_open`` sessions waiting for frames;
* the frames must arrive within the challenge's time limit (plus ``upload_slack_s``)
  of the challenge being read, and may not span more time than has passed since, so
  a recording cannot be edited or re-timed to fit a challenge once it is known.
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
from faceprint.liveness.frames import FramePixels

TTL_S = 180.0
MAX_FAILURES = 5
FAILURE_WINDOW_S = 180.0
MAX_OPEN = 2
UPLOAD_SLACK_S = 20.0  # encoding and sending the frames after the last action


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
    revealed: float | None = None  # when the challenge was first read

    @property
    def limit_ms(self) -> float:
        return time_limit_ms(self.actions)


@dataclass
class LivenessSessions:
    analyzer: Analyzer
    ttl_s: float = TTL_S
    max_failures: int = MAX_FAILURES
    failure_window_s: float = FAILURE_WINDOW_S
    max_open: int = MAX_OPEN
    upload_slack_s: float = UPLOAD_SLACK_S
    clock: Callable[[], float] = time.time
    same_person: Callable[[np.ndarray], np.ndarray] | None = None  # see check_liveness
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
            self._check_budget(owner, now)
            waiting = sum(1 for s in self._sessions.values() if s.owner == owner and s.status == "CREATED")
            if waiting >= self.max_open:
                raise TooManyFailures(f"{waiting} liveness sessions are already waiting for frames; use or let them expire first")
            session = LivenessSession(str(uuid.uuid4()), owner, actions or random_actions(), now, now + self.ttl_s, audit_images)
            self._sessions[session.session_id] = session
            return session

    def challenge(self, session_id: str, owner: str) -> LivenessSession:
        """The session, its challenge now revealed (the clock for its frames starts)."""
        session = self.get(session_id, owner)
        with self._lock:
            if session.revealed is None:
                session.revealed = self.clock()
        return session

    def open_for_frames(self, session_id: str, owner: str) -> LivenessSession:
        """The session if it may take frames now (checked before any frame is decoded).

        Raises:
            SessionNotFound, TooManyFailures, InvalidParameter: see :meth:`submit`.
        """
        session = self.get(session_id, owner)
        now = self.clock()
        with self._lock:
            self._forget(now)
            self._check_budget(owner, now)
            if session.status == "EXPIRED":
                raise InvalidParameter(f"liveness session {session_id} expired; start a new one")
            if session.status != "CREATED":
                raise InvalidParameter(f"liveness session {session_id} was already used; start a new one")
            if session.revealed is None:
                raise InvalidParameter("read the session's challenge (GetLivenessChallenge) before sending frames")
            if now > session.revealed + session.limit_ms / 1000.0 + self.upload_slack_s:
                session.status = "FAILED"
                self._count_failure(owner, now)
                raise InvalidParameter(f"the frames came {now - session.revealed:.0f} s after the challenge was read; the limit is {session.limit_ms / 1000 + self.upload_slack_s:.0f} s")
        return session

    def get(self, session_id: str, owner: str) -> LivenessSession:
        """Raises: SessionNotFound: unknown, forgotten, or another caller's."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.owner != owner:
                raise SessionNotFound(f"no liveness session {session_id}")
            self._expire_if_due(session, self.clock())
            return session

    def submit(self, session_id: str, owner: str, frames: Iterable[tuple[float, FramePixels]]) -> LivenessSession:
        """Judge the session's frames, once.

        Raises:
            SessionNotFound: see :meth:`get`.
            InvalidParameter: the session was already used, or has expired.
        """
        session = self.open_for_frames(session_id, owner)
        with self._lock:
            if session.status != "CREATED":  # another request took it meanwhile
                raise InvalidParameter(f"liveness session {session_id} was already used; start a new one")
            session.status = "IN_PROGRESS"
        frames = list(frames)
        try:
            elapsed_ms = (self.clock() - (session.revealed or session.created)) * 1000.0
            if len(frames) > 1 and frames[-1][0] - frames[0][0] > elapsed_ms + 1000.0:
                result = LivenessResult(False, 0.0, "FRAMES_TIMING: the frames span more time than has passed since the challenge was read", judged=False)
            else:
                result = check_liveness(self.analyzer, frames, actions=session.actions, audit_images=session.audit_images, same_person=self.same_person)
        except BaseException:
            with self._lock:
                session.status = "FAILED"
                self._count_failure(owner, self.clock())
            raise
        with self._lock:
            session.result = result
            # bad input is FAILED (no verdict); a judged attempt SUCCEEDED, live or not
            session.status = "SUCCEEDED" if result.judged else "FAILED"
            if not result.live:
                self._count_failure(owner, self.clock())
        return session

    def _check_budget(self, owner: str, now: float) -> None:
        """Call with the lock held, after :meth:`_forget` aged the failures out."""
        failures = self._failures.get(owner, deque())
        if len(failures) >= self.max_failures:
            wait = failures[0] + self.failure_window_s - now
            raise TooManyFailures(f"{len(failures)} failed liveness sessions in {self.failure_window_s / 60:.0f} minutes; try again in {wait:.0f} s")

    def _count_failure(self, owner: str, at: float) -> None:
        self._failures.setdefault(owner, deque()).append(at)

    def _expire_if_due(self, session: LivenessSession, now: float) -> None:
        """A session drawn and never used expires, and counts as a failure (lock held)."""
        if session.status == "CREATED" and now > session.expires:
            session.status = "EXPIRED"
            self._count_failure(session.owner, session.expires)

    def _forget(self, now: float) -> None:
        for session in self._sessions.values():
            self._expire_if_due(session, now)
        for owner, times in list(self._failures.items()):
            while times and now - times[0] > self.failure_window_s:
                times.popleft()
            if not times:
                del self._failures[owner]
        for sid in [sid for sid, s in self._sessions.items() if now > s.expires + self.ttl_s]:
            del self._sessions[sid]  # results stay readable for one more lifetime, then go

