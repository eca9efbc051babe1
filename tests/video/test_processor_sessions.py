"""Stream-processor sessions without a server: what a restart resumes, what callers
are told about a source, and updates of a stored processor."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from faceprint.errors import InvalidParameter, ResourceInUse
from faceprint.store import Store
from faceprint.video.processors import StreamProcessors

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/door/1"


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path)
    store.collections.create("watch", purpose="unit tests", model="m")
    return store


def _params(**extra: object) -> dict[str, object]:
    return {"Stream": "door", "StreamArn": ARN, "CollectionId": "watch", "FaceMatchThreshold": 50.0, "Tags": {}, **extra}


def test_a_restart_does_not_resume_a_session_with_a_stop_time(tmp_path):
    """Its remaining time was counted by the process that died: started afresh, it would
    run longer than the caller asked."""
    with _store(tmp_path) as store:
        store.jobs.create_processor("timed", _params(Session={"StartedAt": 1.0, "StartsAt": None, "StopAfterSeconds": 30}))
        store.jobs.set_processor_status("timed", "RUNNING")
        StreamProcessors(SimpleNamespace(store=store, engine=None), {"door": str(tmp_path / "door.mp4")})  # type: ignore[arg-type]
        record = store.jobs.processor("timed")
        assert record.status == "STOPPED" and "StopSelector" in (record.message or "")


def test_callers_see_the_streams_name_not_its_source(tmp_path):
    """An RTSP URL may hold the camera's password; a searcher may describe processors."""
    source = "rtsp://admin:hunter2@10.0.0.7/live"
    with _store(tmp_path) as store:
        store.jobs.create_processor("door-1", _params())
        store.jobs.set_processor_status("door-1", "FAILED", f"InvalidParameter: cannot open {source}: Connection refused")
        processors = StreamProcessors(SimpleNamespace(store=store, engine=None), {"door": source})  # type: ignore[arg-type]
        message = processors.describe("door-1")["message"]
        assert "hunter2" not in message and "stream door" in message


def test_updates_and_tags_of_a_stored_processor(tmp_path):
    with _store(tmp_path) as store:
        processors = StreamProcessors(SimpleNamespace(store=store, engine=None), {"door": str(tmp_path / "door.mp4")})  # type: ignore[arg-type]
        box = [{"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 0.5, "Height": 0.5}}]
        processors.create("p", ARN, "watch", None, {"site": "hq"}, regions=box, echo={"RoleArn": "arn:aws:iam::123456789012:role/r"})
        assert store.jobs.processor("p").params["RegionsOfInterest"] == box and store.jobs.processor("p").params["RoleArn"].endswith("role/r")
        processors.update("p", delete_regions=True)
        assert "RegionsOfInterest" not in store.jobs.processor("p").params
        with pytest.raises(InvalidParameter):
            processors.update("p", regions=[{"Polygon": [{"X": 0, "Y": 0}]}])
        processors.tag("p", {"floor": "1"})
        processors.untag("p", ["site"])
        assert processors.tags("p") == {"floor": "1"}
        with pytest.raises(InvalidParameter):
            processors.tag("p", {f"k{i}": "v" for i in range(200)})  # 201 with floor
        with pytest.raises(InvalidParameter):
            processors.tag("p", {"faceprint:purpose": "x"})  # not a processor's tag
        assert processors.tags("p") == {"floor": "1"}
        with pytest.raises(ResourceInUse):  # not running: no alert stream to follow
            processors.subscribe("p")


def test_one_key_holds_at_most_a_few_alert_streams(tmp_path):
    """Each alert stream holds a connection of the server's shared limit: one key
    opening hundreds would lock every other caller out."""
    from faceprint.errors import LimitExceeded
    from faceprint.video.processors import MAX_STREAMS_PER_KEY

    with _store(tmp_path) as store:
        processors = StreamProcessors(SimpleNamespace(store=store, engine=None), {"door": str(tmp_path / "door.mp4")})  # type: ignore[arg-type]
        store.jobs.create_processor("p", _params())
        store.jobs.set_processor_status("p", "RUNNING")  # running, as far as subscribers can tell
        held = [processors.subscribe("p", "key-a") for _ in range(MAX_STREAMS_PER_KEY)]
        with pytest.raises(LimitExceeded):
            processors.subscribe("p", "key-a")
        processors.subscribe("p", "key-b")  # other keys are not held back
        queue_, broadcast = held[0]
        processors.unsubscribe(broadcast, queue_, "key-a")
        processors.subscribe("p", "key-a")  # a closed stream frees its place
