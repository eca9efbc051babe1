"""Liveness sessions: bad input never passes and always says why; sessions are single
use, expire, belong to their caller, and failures are throttled."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import faceprint as fp
from faceprint.errors import InvalidParameter, SessionNotFound, TooManyFailures
from faceprint.eval.liveness import video_frames
from faceprint.liveness import check_liveness
from faceprint.liveness.sessions import LivenessSessions


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def live(data: Path) -> list[tuple[float, np.ndarray]]:
    return video_frames(data / "liveness" / "replay_apfol" / "videos" / "real2.webm", every=3, limit=30)


@pytest.fixture(params=["memory", "postgresql"])
def sessions(request: pytest.FixtureRequest, engine: fp.Engine, tmp_path: Path) -> Iterator[tuple[LivenessSessions, Clock]]:
    """Sessions kept in this process (the embedded store), and in a PostgreSQL server
    store, where any server may serve any step: the rules must not differ."""
    clock = Clock()
    if request.param == "memory":
        yield LivenessSessions(engine.analyzer, clock=clock), clock
        return
    with fp.Store(tmp_path, database=request.getfixturevalue("database_url")) as store:
        yield LivenessSessions(engine.analyzer, clock=clock, ledger=store.liveness), clock


def test_a_session_created_on_one_server_is_judged_and_read_on_another(engine: fp.Engine, live, tmp_path: Path, database_url: str, monkeypatch) -> None:
    """Two servers of one database: create and challenge on one, send the frames to the
    other, read the result on the first; the caller's failures count on both."""
    import os

    monkeypatch.setenv("FACEPRINT_KEY", os.urandom(32).hex())
    clock = Clock()
    with fp.Store(tmp_path / "a", database=database_url) as a, fp.Store(tmp_path / "b", database=database_url) as b:
        one = LivenessSessions(engine.analyzer, clock=clock, ledger=a.liveness)
        other = LivenessSessions(engine.analyzer, clock=clock, ledger=b.liveness)
        session = one.create("app", actions=["BLINK", "TURN_LEFT"])
        one.challenge(session.session_id, "app")
        clock.now += 5  # the person performs it
        judged = other.submit(session.session_id, "app", live)
        read = one.get(session.session_id, "app")
        assert read.status == judged.status == "SUCCEEDED" and read.result is not None
        assert read.result.live == judged.result.live and read.result.confidence == pytest.approx(judged.result.confidence)
        with pytest.raises(InvalidParameter, match="already used"):
            one.submit(session.session_id, "app", live)
        with pytest.raises(SessionNotFound):
            other.get(session.session_id, "another-app")
        few = [(0.0, np.zeros((64, 64, 3), np.uint8))]
        for i in range(4):  # with the failed challenge above: five, made on either server
            server = (one, other)[i % 2]
            s = server.create("app")
            server.challenge(s.session_id, "app")
            assert server.submit(s.session_id, "app", few).status == "FAILED"
        with pytest.raises(TooManyFailures):
            other.create("app")
        with pytest.raises(TooManyFailures):
            one.create("app")


def test_bad_input_fails_with_its_reason(engine: fp.Engine, live, data: Path) -> None:
    grey = [(i * 33.0, np.full((240, 320, 3), 128, np.uint8)) for i in range(12)]
    two = fp.load_image(data / "people" / "face_recognition" / "examples" / "two_people.jpg")
    cases = {
        "TOO_FEW_FRAMES": live[:3],
        "FACE_NOT_FOUND": grey,
        "FRAMES_OUT_OF_ORDER": [live[1], live[0], *live[2:]],
        "MULTIPLE_FACES": [(i * 33.0, two) for i in range(10)],
    }
    for reason, frames in cases.items():
        result = check_liveness(engine.analyzer, frames, actions=["BLINK"])
        assert not result.live and result.confidence == 0.0 and result.reason.startswith(reason), (reason, result.reason)


def test_a_session_is_judged_once_and_only_for_its_caller(sessions, live) -> None:
    reg, clock = sessions
    s = reg.create("key-a", actions=["BLINK", "TURN_LEFT"])
    assert s.status == "CREATED" and len(s.session_id) == 36
    with pytest.raises(SessionNotFound):
        reg.get(s.session_id, "key-b")
    with pytest.raises(InvalidParameter, match="challenge"):
        reg.submit(s.session_id, "key-a", live)  # frames before the challenge was read
    reg.challenge(s.session_id, "key-a")
    clock.now += 5  # the person performs it
    done = reg.submit(s.session_id, "key-a", live)
    assert done.status == "SUCCEEDED" and done.result is not None
    assert not done.result.live  # the recording never turns left: the challenge fails
    assert done.result.reason.startswith("CHALLENGE_FAILED")
    with pytest.raises(InvalidParameter, match="already used"):
        reg.submit(s.session_id, "key-a", live)


def test_an_expired_session_cannot_be_used(sessions, live) -> None:
    reg, clock = sessions
    s = reg.create("key-a")
    clock.now += 181
    assert reg.get(s.session_id, "key-a").status == "EXPIRED"
    with pytest.raises(InvalidParameter, match="expired"):
        reg.submit(s.session_id, "key-a", live)


def test_five_failures_in_three_minutes_block_a_caller(sessions) -> None:
    reg, clock = sessions
    few = [(0.0, np.zeros((64, 64, 3), np.uint8))]
    for _ in range(5):
        s = reg.create("key-a")
        reg.challenge(s.session_id, "key-a")
        assert reg.submit(s.session_id, "key-a", few).status == "FAILED"
    with pytest.raises(TooManyFailures):
        reg.create("key-a")
    reg.create("key-b")  # others are not affected
    clock.now += 181
    reg.create("key-a")  # the failures aged out


def test_random_challenges_differ_and_follow_the_rules() -> None:
    from faceprint.liveness import ACTIONS, random_actions

    seen = {tuple(random_actions()) for _ in range(200)}
    assert len(seen) > 20
    for actions in seen:
        assert 2 <= len(actions) <= 3 and len(set(actions)) == len(actions) and set(actions) <= set(ACTIONS)


def test_frames_must_follow_the_challenge_in_real_time(sessions, live) -> None:
    reg, clock = sessions
    late = reg.create("key-a")
    reg.challenge(late.session_id, "key-a")
    clock.now += 60  # a recording edited after the challenge was known
    with pytest.raises(InvalidParameter, match="after the challenge was read"):
        reg.submit(late.session_id, "key-a", live)
    assert reg.get(late.session_id, "key-a").status == "FAILED"
    stretched = reg.create("key-a")
    reg.challenge(stretched.session_id, "key-a")
    clock.now += 1  # 3 s of frames, 1 s after the challenge: re-timed
    done = reg.submit(stretched.session_id, "key-a", live)
    assert done.status == "FAILED" and done.result is not None and done.result.reason.startswith("FRAMES_TIMING")


def test_unused_sessions_count_as_failures_and_are_capped(sessions) -> None:
    reg, clock = sessions
    reg.create("key-a")
    reg.create("key-a")
    with pytest.raises(TooManyFailures, match="waiting"):
        reg.create("key-a")  # drawing challenges until one suits a recording
    clock.now += 181  # both expire unused: two failures
    few = [(0.0, np.zeros((64, 64, 3), np.uint8))]
    for _ in range(3):
        s = reg.create("key-a")
        reg.challenge(s.session_id, "key-a")
        reg.submit(s.session_id, "key-a", few)
    with pytest.raises(TooManyFailures, match="failed"):
        reg.create("key-a")


def test_a_slideshow_of_stills_breaks_continuity(engine: fp.Engine, data: Path) -> None:
    stills = [fp.load_image(p) for p in sorted((data / "lfw" / "images" / "George_W_Bush").glob("*.jpg"))[:10]]
    result = check_liveness(engine.analyzer, [(i * 100.0, img) for i, img in enumerate(stills)])
    assert not result.live and result.signals["continuity"] is not None and result.signals["continuity"] < 50


def test_frames_of_different_sizes_are_refused(engine: fp.Engine, live) -> None:
    frames = [(ms, img if i % 2 else img[:-2]) for i, (ms, img) in enumerate(live)]
    result = check_liveness(engine.analyzer, frames)
    assert not result.judged and result.reason.startswith("FRAME_SIZE_CHANGED")
