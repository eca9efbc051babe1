"""Liveness sessions, as in Rekognition Face Liveness: created with a random challenge,
judged once on the frames the client sends, then read back.

Sessions last ``ttl_s`` (3 minutes, like Rekognition's): a session is a single short
attempt. They live in the store's liveness ledger: this process's memory with the
embedded store (one left over after a restart is simply gone; its caller starts a new
one), the database with the server store (any server serves any step).

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

import dataclasses
import pickle
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from faceprint.analysis import Analyzer
from faceprint.errors import InvalidParameter, SessionNotFound, TooManyFailures
from faceprint.liveness.challenge import random_actions, time_limit_ms
from faceprint.liveness.check import LivenessResult, check_liveness
from faceprint.liveness.frames import FramePixels
from faceprint.store.liveness import LivenessPart, MemoryLiveness, OwnerSessions, SessionRecord

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
    """Sessions over a ledger that keeps them between requests: this process's memory
    by default (the embedded store), or the server store's database
    (``store.liveness``), so that any server of a cluster can serve any step of a
    session and a caller's failures count on all of them.

    Every step reads and changes the caller's sessions under the ledger's lock on that
    caller (on every server); judging the frames happens outside it.
    """

    analyzer: Analyzer
    ttl_s: float = TTL_S
    max_failures: int = MAX_FAILURES
    failure_window_s: float = FAILURE_WINDOW_S
    max_open: int = MAX_OPEN
    upload_slack_s: float = UPLOAD_SLACK_S
    clock: Callable[[], float] = time.time
    same_person: Callable[[np.ndarray], np.ndarray] | None = None  # see check_liveness
    ledger: LivenessPart = field(default_factory=MemoryLiveness)

    def create(self, owner: str, *, audit_images: int = 0, actions: list[str] | None = None) -> LivenessSession:
        """A new session with a random challenge.

        Raises:
            TooManyFailures: this caller failed ``max_failures`` sessions within the window.
        """
        now = self.clock()
        with self.ledger.owner(owner) as mine:
            sessions = self._forget(mine, now)
            self._check_budget(mine, now)
            waiting = sum(1 for s in sessions if s.status == "CREATED")
            if waiting >= self.max_open:
                raise TooManyFailures(f"{waiting} liveness sessions are already waiting for frames; use or let them expire first")
            session = LivenessSession(str(uuid.uuid4()), owner, actions or random_actions(), now, now + self.ttl_s, audit_images)
            mine.put(_record(session))
            return session

    def challenge(self, session_id: str, owner: str) -> LivenessSession:
        """The session, its challenge now revealed (the clock for its frames starts)."""
        with self.ledger.owner(owner) as mine:
            session = self._session(mine, session_id, self.clock())
            if session.revealed is None:
                session.revealed = self.clock()
                mine.put(_record(session))
        return session

    def open_for_frames(self, session_id: str, owner: str) -> LivenessSession:
        """The session if it may take frames now (checked before any frame is decoded).

        Raises:
            SessionNotFound, TooManyFailures, InvalidParameter: see :meth:`submit`.
        """
        with self.ledger.owner(owner) as mine:
            return self._open(mine, session_id, self.clock())

    def get(self, session_id: str, owner: str) -> LivenessSession:
        """The session, with its result once judged.

        Raises: SessionNotFound: unknown, forgotten, or another caller's.
        """
        with self.ledger.owner(owner) as mine:
            session = self._session(mine, session_id, self.clock())
        if session.status in ("SUCCEEDED", "FAILED"):
            data = self.ledger.result(session_id, owner)
            session.result = pickle.loads(data) if data is not None else None  # sealed by the store: written by us only
        return session

    def submit(self, session_id: str, owner: str, frames: Iterable[tuple[float, FramePixels]]) -> LivenessSession:
        """Judge the session's frames, once.

        Raises:
            SessionNotFound: see :meth:`get`.
            InvalidParameter: the session was already used, or has expired.
        """
        with self.ledger.owner(owner) as mine:
            session = self._open(mine, session_id, self.clock())
            session.status = "IN_PROGRESS"  # taken: another request for it is refused
            mine.put(_record(session))
        frames = list(frames)
        try:
            elapsed_ms = (self.clock() - (session.revealed or session.created)) * 1000.0
            if len(frames) > 1 and frames[-1][0] - frames[0][0] > elapsed_ms + 1000.0:
                result = LivenessResult(False, 0.0, "FRAMES_TIMING: the frames span more time than has passed since the challenge was read", judged=False)
            else:
                result = check_liveness(self.analyzer, frames, actions=session.actions, audit_images=session.audit_images, same_person=self.same_person)
        except BaseException:
            with self.ledger.owner(owner) as mine:
                session.status = "FAILED"
                mine.put(_record(session))
                mine.add_failure(self.clock())
            raise
        # bad input is FAILED (no verdict); a judged attempt SUCCEEDED, live or not
        session.status = "SUCCEEDED" if result.judged else "FAILED"
        session.result = result
        with self.ledger.owner(owner) as mine:
            mine.put(_record(session))
            mine.put_result(session_id, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            if not result.live:
                mine.add_failure(self.clock())
        return session

    def _open(self, mine: OwnerSessions, session_id: str, now: float) -> LivenessSession:
        session = self._session(mine, session_id, now)
        self._forget(mine, now)
        self._check_budget(mine, now)
        if session.status == "EXPIRED":
            raise InvalidParameter(f"liveness session {session_id} expired; start a new one")
        if session.status != "CREATED":
            raise InvalidParameter(f"liveness session {session_id} was already used; start a new one")
        if session.revealed is None:
            raise InvalidParameter("read the session's challenge (GetLivenessChallenge) before sending frames")
        if now > session.revealed + session.limit_ms / 1000.0 + self.upload_slack_s:
            session.status = "FAILED"
            mine.put(_record(session))
            mine.add_failure(now)
            raise InvalidParameter(f"the frames came {now - session.revealed:.0f} s after the challenge was read; the limit is {session.limit_ms / 1000 + self.upload_slack_s:.0f} s")
        return session

    def _session(self, mine: OwnerSessions, session_id: str, now: float) -> LivenessSession:
        """The owner's session ``session_id``, expired if it is due; SessionNotFound if
        it is not the owner's (another caller's session is as good as unknown)."""
        for record in mine.records():
            if record.session_id == session_id:
                session = _session(record)
                self._expire_if_due(mine, session, now)
                return session
        raise SessionNotFound(f"no liveness session {session_id}")

    def _check_budget(self, mine: OwnerSessions, now: float) -> None:
        """Call after :meth:`_forget` aged the failures out."""
        failures = mine.failures()
        if len(failures) >= self.max_failures:
            wait = failures[0] + self.failure_window_s - now
            raise TooManyFailures(f"{len(failures)} failed liveness sessions in {self.failure_window_s / 60:.0f} minutes; try again in {wait:.0f} s")

    def _expire_if_due(self, mine: OwnerSessions, session: LivenessSession, now: float) -> None:
        """A session drawn and never used expires, and counts as a failure."""
        if session.status == "CREATED" and now > session.expires:
            session.status = "EXPIRED"
            mine.put(_record(session))
            mine.add_failure(session.expires)

    def _forget(self, mine: OwnerSessions, now: float) -> list[LivenessSession]:
        """Expire the owner's due sessions, age out old failures, and drop sessions one
        lifetime past their expiry (results stay readable that long); the rest."""
        sessions = [_session(r) for r in mine.records()]
        for session in sessions:
            self._expire_if_due(mine, session, now)
        mine.prune(failures_before=now - self.failure_window_s, sessions_before=now - self.ttl_s)
        return [s for s in sessions if s.expires >= now - self.ttl_s]


def _record(session: LivenessSession) -> SessionRecord:
    """A session as the ledger keeps it (its result is kept apart)."""
    kept = dataclasses.replace(session, result=None)
    return SessionRecord(session.session_id, session.owner, session.status, session.created, session.expires, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))


def _session(record: SessionRecord) -> LivenessSession:
    session = pickle.loads(record.data)  # sealed by the server store, or this process's memory: written by us only
    assert isinstance(session, LivenessSession)
    return session
