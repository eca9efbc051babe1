"""Issue 14's video rows: uploads that cannot make a job read other files, job results
that erasure reaches and retention ends, uploads sealed and purged on a timer, per-key
limits on jobs and upload space, and the API traps (empty NextToken, FaceAttributes=ALL,
ClientRequestToken).

Most tests call the operation handlers directly over a real store and engine (no
server: seconds each); the ones about the wire use boto3 against the session's server.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
import uuid
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError

import faceprint as fp
from faceprint.api import video_operations as ops
from faceprint.api.operations import Call
from faceprint.errors import FaceprintError, InvalidParameter, LimitExceeded, NotFound
from faceprint.rekognition import shapes
from faceprint.types import Box, NewFace
from faceprint.video import jobs as jobs_module
from faceprint.video.jobs import VideoJobs
from faceprint.video.results import VideoFaceDetection, VideoMetadata
from faceprint.video.sources import VideoSource
from tests.api.conftest import DATA, unique

EXAMPLES = DATA / "people" / "face_recognition" / "examples"


# -- videos made on the spot ----------------------------------------------------------
def video_bytes(fmt: str, codec: str, w: int, h: int, n: int, fps: int = 10, picture: np.ndarray | None = None) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            rgb = picture if picture is not None else np.full((h, w, 3), (i * 9) % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def playlist_polyglot(target: Path) -> bytes:
    """An HLS playlist naming ``target`` whose bytes, after the text, are a small
    MPEG-TS stream (64x48 MPEG-2): FFmpeg's probe finds TS sync in it, so it passes for
    MPEG-TS under a neutral name, and for a playlist under ``.m3u8``."""
    text = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:5,\n{target}\n#EXT-X-ENDLIST\n#".encode()
    return text + video_bytes("mpegts", "mpeg2video", 64, 48, 10)


# -- handlers over a real store, engine and job worker ---------------------------------
class Harness:
    def __init__(self, home: Path, engine: fp.Engine) -> None:
        self.service = fp.Service(home, engine=engine, purge_every_s=None)
        self.uploads = self.service.store.home / "uploads"
        self.uploads.mkdir(mode=0o700, exist_ok=True)
        self.buckets = {ops.UPLOADS: self.uploads, "photos": home / "photos"}
        self.buckets["photos"].mkdir()
        self.jobs = VideoJobs(self.service, render=shapes.video_job)

    def call(self, operation: str, params: dict[str, Any], key: str = "FPAKTESTA", role: str = "admin") -> Any:
        caller = SimpleNamespace(key=SimpleNamespace(key_id=key, role=role, purpose="tests"), key_id=key, role=role)
        call = Call(self.service, params, caller, None, self.buckets, self.jobs)  # type: ignore[arg-type]
        return getattr(ops, operation)(call)

    def wait(self, get: str, job_id: str, key: str = "FPAKTESTA", timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = self.call(get, {"JobId": job_id}, key)
            if result["JobStatus"] != "IN_PROGRESS":
                return result
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still running after {timeout} s")

    def close(self) -> None:
        self.jobs.close()
        self.service.close()


@pytest.fixture
def harness(tmp_path: Path, engine: fp.Engine) -> Iterator[Harness]:
    h = Harness(tmp_path / "home", engine)
    try:
        yield h
    finally:
        h.close()


# -- Security 1: an upload cannot make a job read another file --------------------------
@pytest.mark.models
def test_a_playlist_disguised_as_mpegts_cannot_make_a_job_read_another_file(harness: Harness, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.mkv"
    secret.parent.mkdir()
    secret.write_bytes(video_bytes("matroska", "mpeg4", 320, 240, 50))
    try:
        uploaded = harness.call("upload_video", {"Name": "evil.m3u8", "Bytes": playlist_polyglot(secret)})
    except InvalidParameter:
        return  # refused at upload: nothing for a job to open
    job = harness.call("start_face_detection", {"Video": uploaded["Video"]})["JobId"]
    result = harness.wait("get_face_detection", job)
    # whatever the job read, it must be the uploaded stream, never the file it names
    meta = result.get("VideoMetadata", {})
    assert (meta.get("Format"), meta.get("Codec"), meta.get("FrameWidth")) in ((None, None, None), ("mpegts", "mpeg2video", 64)), meta


def test_only_plain_containers_are_opened(tmp_path: Path) -> None:
    """Job time, whatever the upload check did: a playlist, a concat script or an SDP
    file is refused before any demuxer runs, whatever its name."""
    target = tmp_path / "target.mkv"
    target.write_bytes(video_bytes("matroska", "mpeg4", 64, 48, 5))
    scripts = {
        "list.m3u8": playlist_polyglot(target),
        "list.ffconcat": f"ffconcat version 1.0\nfile {target.name}\n".encode(),
        "cam.sdp": b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
    }
    for name, data in scripts.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InvalidParameter, match="container"):
            list(VideoSource(path, pace=False).frames())
    with pytest.raises(InvalidParameter, match="container"):  # a stored format outside the list is refused too
        list(VideoSource(target, pace=False, format="hls").frames())
    assert len(list(VideoSource(target, pace=False).frames())) == 5  # plain Matroska plays


@pytest.mark.models
def test_uploads_get_server_names_are_sealed_and_belong_to_their_key(harness: Harness) -> None:
    data = video_bytes("mp4", "mpeg4", 64, 48, 10)
    uploaded = harness.call("upload_video", {"Name": "../../door camera.mp4", "Bytes": data})
    name = uploaded["Video"]["S3Object"]["Name"]
    assert uploaded["Video"]["S3Object"]["Bucket"] == ops.UPLOADS and name != "../../door camera.mp4" and "." not in name
    files = [p for p in harness.uploads.iterdir() if p.is_file()]
    assert len(files) == 1 and data[:64] not in files[0].read_bytes() and files[0].stat().st_mode & 0o077 == 0
    with pytest.raises(FaceprintError):  # another key cannot use it
        harness.call("start_face_detection", {"Video": uploaded["Video"]}, key="FPAKTESTB")
    job = harness.call("start_face_detection", {"Video": uploaded["Video"]})["JobId"]
    result = harness.wait("get_face_detection", job)
    assert result["JobStatus"] == "SUCCEEDED" and result["VideoMetadata"]["FrameWidth"] == 64


# -- Security 7: erasure reaches job results; results sealed and kept 7 days -------------
def _search_result(face_id: str, subject: str) -> dict[str, Any]:
    box = {"Width": 0.1, "Height": 0.1, "Left": 0.2, "Top": 0.3}
    matched = {"Timestamp": 400, "Person": {"Index": 1, "BoundingBox": box}, "FaceMatches": [{"Similarity": 61.0, "Face": {"FaceId": face_id, "ExternalImageId": subject}}]}
    stranger = {"Timestamp": 800, "Person": {"Index": 2, "BoundingBox": box}}
    return {"VideoMetadata": {"Format": "mov"}, "Persons": [matched, stranger]}


def _store_with_a_match(home: Path, subject: str = "alice") -> tuple[fp.Store, str, str]:
    store = fp.Store(home)
    store.collections.create("watch", purpose="tests", model="m", consent_required=False)
    vec = np.ones(128, np.float32) / np.sqrt(128)
    face_id = store.faces.add("watch", [NewFace(vec, Box(0.1, 0.1, 0.2, 0.2), 99.0, "img", subject)], model="m")[0].face_id
    job_id = uuid.uuid4().hex
    store.jobs.create_job(job_id, "FaceSearch", {"CollectionId": "watch", "Video": {}})
    store.jobs.finish_job(job_id, "SUCCEEDED", _search_result(face_id, subject))
    return store, job_id, face_id


@pytest.mark.parametrize("how", ["erase", "revoke", "delete_collection", "delete_faces"])
def test_erasure_reaches_video_job_results(tmp_path: Path, how: str) -> None:
    store, job_id, face_id = _store_with_a_match(tmp_path / "home")
    with store:
        if how == "delete_faces":
            assert store.faces.delete("watch", [face_id])[0] == [face_id]
        elif how == "revoke":
            store.governance.add_consent("alice", basis="consent", purpose="tests")
            store.governance.revoke_consent("alice")
        elif how == "erase":
            store.governance.erase_subject("alice")
        else:
            store.collections.delete("watch")
        _, result = store.jobs.job(job_id)
        assert result is not None and face_id not in json.dumps(result) and "alice" not in json.dumps(result)
        assert [p["Person"]["Index"] for p in result["Persons"]] == [2]  # strangers stay: the job still happened


def test_an_unreadable_result_does_not_block_erasure(tmp_path: Path) -> None:
    store, job_id, _ = _store_with_a_match(tmp_path / "home")
    with store:
        with sqlite3.connect(store.home / "faceprint.db") as db:  # a damaged row
            db.execute("UPDATE video_jobs SET result=? WHERE job_id=?", (b"\x01" + b"\x00" * 40, job_id))
        store.governance.erase_subject("alice")
        record, result = store.jobs.job(job_id)
        assert result is None and record.status == "FAILED"


def test_a_job_finishing_after_an_erasure_does_not_bring_the_match_back(tmp_path: Path) -> None:
    store, _, face_id = _store_with_a_match(tmp_path / "home")
    with store:
        running = uuid.uuid4().hex
        store.jobs.create_job(running, "FaceSearch", {"CollectionId": "watch", "Video": {}})
        store.governance.erase_subject("alice")  # while the job runs
        store.jobs.finish_job(running, "SUCCEEDED", _search_result(face_id, "alice"))
        _, result = store.jobs.job(running)
        assert result is not None and "alice" not in json.dumps(result)


def test_job_results_are_sealed_and_kept_seven_days(tmp_path: Path) -> None:
    store, job_id, _ = _store_with_a_match(tmp_path / "home")
    with store:
        raw = sqlite3.connect(store.home / "faceprint.db").execute("SELECT result FROM video_jobs WHERE job_id=?", (job_id,)).fetchone()[0]
        assert b"alice" not in raw
        with pytest.raises(zlib.error):
            zlib.decompress(raw)
        store.purge_expired()
        store.jobs.job(job_id)  # fresh: kept
        with sqlite3.connect(store.home / "faceprint.db") as db:
            db.execute("UPDATE video_jobs SET updated=updated-? WHERE job_id=?", (7 * 86400 + 60, job_id))
        store.purge_expired()
        with pytest.raises(fp.errors.NotFound):
            store.jobs.job(job_id)


@pytest.mark.models
def test_uploads_are_purged_by_the_retention_timer(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.call("upload_video", {"Name": "door.mp4", "Bytes": video_bytes("mp4", "mpeg4", 64, 48, 5)})
    assert any(p.is_file() for p in harness.uploads.iterdir())
    later = time.time() + 25 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    harness.service.store.start_retention(0.01)  # the timer the server runs hourly
    deadline = time.monotonic() + 30
    while any(p.is_file() for p in harness.uploads.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(p.is_file() for p in harness.uploads.iterdir())


# -- Security 11: per-key limits on queued jobs and on upload space ----------------------
@pytest.fixture
def held_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[str]]]:
    """The job worker blocks in each detection until released; the uploads it ran, in
    order."""
    release, ran = threading.Event(), []

    def detect(service: Any, source: VideoSource, **_: Any) -> VideoFaceDetection:
        ran.append(source.source)
        release.wait(30)
        return VideoFaceDetection(status="SUCCEEDED", error=None, metadata=VideoMetadata(codec="", duration_ms=0, format="", fps=0.0, height=0, width=0), faces=[])

    monkeypatch.setattr(jobs_module, "detect_video", detect)
    yield release, ran
    release.set()


@pytest.mark.models
def test_one_key_cannot_fill_the_job_queue_or_starve_others(tmp_path: Path, engine: fp.Engine, monkeypatch: pytest.MonkeyPatch, held_worker: tuple[threading.Event, list[str]]) -> None:
    monkeypatch.setenv("FACEPRINT_VIDEO_JOBS_PER_KEY", "3")
    release, ran = held_worker
    h = Harness(tmp_path / "home", engine)
    try:
        data = video_bytes("mp4", "mpeg4", 64, 48, 3)
        video_a = h.call("upload_video", {"Name": "a.mp4", "Bytes": data}, key="FPAKA")["Video"]
        video_b = h.call("upload_video", {"Name": "b.mp4", "Bytes": data}, key="FPAKB")["Video"]
        a_jobs = [h.call("start_face_detection", {"Video": video_a, "JobTag": f"a{i}"}, key="FPAKA")["JobId"] for i in range(3)]
        with pytest.raises(LimitExceeded):
            h.call("start_face_detection", {"Video": video_a, "JobTag": "a3"}, key="FPAKA")
        b_job = h.call("start_face_detection", {"Video": video_b}, key="FPAKB")["JobId"]
        release.set()
        for job, key in [*((j, "FPAKA") for j in a_jobs), (b_job, "FPAKB")]:
            h.wait("get_face_detection", job, key)
        # A's first job was already running; B's then went before A's other two
        names = {video_a["S3Object"]["Name"]: "a", video_b["S3Object"]["Name"]: "b"}
        assert [names[next(n for n in names if n in s)] for s in ran] == ["a", "b", "a", "a"]
    finally:
        h.close()


@pytest.mark.models
def test_uploads_have_a_per_key_quota(tmp_path: Path, engine: fp.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    data = video_bytes("mp4", "mpeg4", 64, 48, 10)
    monkeypatch.setenv("FACEPRINT_UPLOAD_QUOTA_MB", str(1.5 * len(data) / 1024 / 1024))
    h = Harness(tmp_path / "home", engine)
    try:
        h.call("upload_video", {"Name": "one.mp4", "Bytes": data}, key="FPAKA")
        with pytest.raises(LimitExceeded):
            h.call("upload_video", {"Name": "two.mp4", "Bytes": data}, key="FPAKA")
        h.call("upload_video", {"Name": "other.mp4", "Bytes": data}, key="FPAKB")  # another key's space is its own
    finally:
        h.close()


# -- API traps ----------------------------------------------------------------------------
@pytest.mark.models
def test_client_request_token_starts_one_job(harness: Harness) -> None:
    video = harness.call("upload_video", {"Name": "t.mp4", "Bytes": video_bytes("mp4", "mpeg4", 64, 48, 3)})["Video"]
    first = harness.call("start_face_detection", {"Video": video, "ClientRequestToken": "retry-1"})["JobId"]
    assert harness.call("start_face_detection", {"Video": video, "ClientRequestToken": "retry-1"})["JobId"] == first
    with pytest.raises(FaceprintError) as exc:
        harness.call("start_face_detection", {"Video": video, "ClientRequestToken": "retry-1", "JobTag": "other"})
    assert exc.value.aws_code == "IdempotentParameterMismatchException"
    assert harness.call("start_face_detection", {"Video": video, "ClientRequestToken": "retry-2"})["JobId"] != first


@pytest.mark.models
def test_a_job_keeps_its_rendered_result_and_older_results_are_served_as_kept(harness: Harness) -> None:
    """The worker keeps what the API's render builds from the typed result; a result a
    former version kept (already Rekognition's members) is paged over unchanged."""
    video = harness.call("upload_video", {"Name": "r.mp4", "Bytes": video_bytes("mp4", "mpeg4", 64, 48, 3)})["Video"]
    job = harness.call("start_face_detection", {"Video": video})["JobId"]
    done = harness.wait("get_face_detection", job)
    _, kept = harness.service.store.jobs.job(job)
    assert done["JobStatus"] == "SUCCEEDED" and kept is not None and set(kept) == {"VideoMetadata", "Faces"}
    assert done["VideoMetadata"] == kept["VideoMetadata"] and done["VideoMetadata"]["FrameWidth"] == 64
    older = {"VideoMetadata": {"Codec": "h264", "DurationMillis": 1000, "Format": "mp4", "FrameRate": 10.0, "FrameHeight": 48, "FrameWidth": 64},
             "Faces": [{"Timestamp": t, "Face": {"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}, "Confidence": 99.0}} for t in (0, 200, 400)]}  # fmt: skip
    harness.service.store.jobs.finish_job(job, "SUCCEEDED", older)
    first = harness.call("get_face_detection", {"JobId": job, "MaxResults": 2})
    rest = harness.call("get_face_detection", {"JobId": job, "MaxResults": 2, "NextToken": first["NextToken"]})
    assert first["VideoMetadata"] == older["VideoMetadata"] and first["Faces"] + rest["Faces"] == older["Faces"]


@pytest.mark.models
@pytest.mark.data
def test_face_detection_with_all_attributes_matches_detect_faces(harness: Harness) -> None:
    photo = fp.load_image(EXAMPLES / "obama.jpg")
    h, w = (s // 2 * 2 for s in photo.shape[:2])
    video = harness.call("upload_video", {"Name": "obama.mp4", "Bytes": video_bytes("mp4", "mpeg4", w, h, 3, fps=5, picture=np.ascontiguousarray(photo[:h, :w]))})["Video"]
    job = harness.call("start_face_detection", {"Video": video, "FaceAttributes": "ALL"})["JobId"]
    faces = harness.wait("get_face_detection", job)["Faces"]
    analyzer = harness.service.engine.analyzer
    found = analyzer.detect(photo)
    still = shapes.detect_faces(found, (photo.shape[1], photo.shape[0]), analyzer.attributes(photo, found), ["ALL"])["FaceDetails"][0]
    assert faces and set(faces[0]["Face"]) == set(still)
    assert {"Pose", "Quality", "EyesOpen", "MouthOpen", "EyeDirection"} <= set(faces[0]["Face"]) and len(faces[0]["Face"]["Landmarks"]) > 5


@pytest.mark.data
def test_an_empty_next_token_means_the_first_page(server) -> None:
    """Amazon's stored-video example sends NextToken='' on its first call."""
    rek, fpc = server.client("admin"), server.client("admin", service="faceprint")
    name = unique("tok")
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    assert name in rek.list_collections(NextToken="")["CollectionIds"] or rek.list_collections(NextToken="").get("NextToken")
    assert rek.list_faces(CollectionId=name, NextToken="")["Faces"] == []
    assert rek.list_users(CollectionId=name, NextToken="")["Users"] == []
    assert "StreamProcessors" in rek.list_stream_processors(NextToken="")
    video = fpc.upload_video(Name="tok.mp4", Bytes=video_bytes("mp4", "mpeg4", 64, 48, 3))["Video"]
    job = rek.start_face_detection(Video=video)["JobId"]
    search = rek.start_face_search(Video=video, CollectionId=name)["JobId"]
    for get, job_id in ((rek.get_face_detection, job), (rek.get_face_search, search)):
        deadline = time.time() + 120
        while (result := get(JobId=job_id, NextToken=""))["JobStatus"] == "IN_PROGRESS" and time.time() < deadline:
            time.sleep(0.5)
        assert result["JobStatus"] == "SUCCEEDED"


@pytest.mark.data
def test_upload_over_the_wire_is_checked_and_idempotent_jobs_answer_mismatch(server, tmp_path: Path) -> None:
    """The review's probe through boto3: an HLS playlist disguised as MPEG-TS never
    makes a job read the file it names; a reused ClientRequestToken with other
    parameters answers IdempotentParameterMismatchException."""
    rek, fpc = server.client("searcher"), server.client("searcher", service="faceprint")
    secret = tmp_path / "secret.mkv"
    secret.write_bytes(video_bytes("matroska", "mpeg4", 320, 240, 50))
    try:
        video = fpc.upload_video(Name=unique("evil") + ".m3u8", Bytes=playlist_polyglot(secret))["Video"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidParameterException"
    else:
        job = rek.start_face_detection(Video=video)["JobId"]
        deadline = time.time() + 120
        while (result := rek.get_face_detection(JobId=job))["JobStatus"] == "IN_PROGRESS" and time.time() < deadline:
            time.sleep(0.5)
        meta = result.get("VideoMetadata", {})
        assert meta.get("FrameWidth") != 320 and meta.get("Format") != "hls", meta
    video = fpc.upload_video(Name="plain.mp4", Bytes=video_bytes("mp4", "mpeg4", 64, 48, 3))["Video"]
    token = uuid.uuid4().hex
    first = rek.start_face_detection(Video=video, ClientRequestToken=token)["JobId"]
    assert rek.start_face_detection(Video=video, ClientRequestToken=token)["JobId"] == first
    with pytest.raises(rek.exceptions.IdempotentParameterMismatchException):
        rek.start_face_detection(Video=video, ClientRequestToken=token, JobTag="another")


@pytest.mark.data
def test_erase_subject_reaches_get_face_search_over_the_wire(server) -> None:
    """The review's probe: after EraseSubject, GetFaceSearch still named the person."""
    admin, fpc = server.client("admin"), server.client("admin", service="faceprint")
    collection, subject = unique("erase"), unique("subject")
    admin.create_collection(CollectionId=collection, Tags={"faceprint:consent-required": "false"})
    face_id = admin.index_faces(CollectionId=collection, Image={"Bytes": (EXAMPLES / "obama.jpg").read_bytes()}, ExternalImageId=subject)["FaceRecords"][0]["Face"]["FaceId"]
    photo = fp.load_image(EXAMPLES / "obama.jpg")
    h, w = (s // 2 * 2 for s in photo.shape[:2])
    clip = video_bytes("mp4", "mpeg4", w, h, 8, fps=5, picture=np.ascontiguousarray(photo[:h, :w]))
    video = fpc.upload_video(Name=unique("obama") + ".mp4", Bytes=clip)["Video"]
    job = admin.start_face_search(Video=video, CollectionId=collection)["JobId"]
    deadline = time.time() + 120
    while (result := admin.get_face_search(JobId=job))["JobStatus"] == "IN_PROGRESS" and time.time() < deadline:
        time.sleep(0.5)
    assert subject in json.dumps(result["Persons"])  # found before the erasure
    fpc.erase_subject(ExternalImageId=subject)
    after = json.dumps(admin.get_face_search(JobId=job))
    assert subject not in after and face_id not in after


@pytest.mark.models
def test_a_job_is_read_only_by_the_key_that_started_it(harness: Harness) -> None:
    """Job ids travel in audit entries and logs; another searcher must not read who a
    job found. An admin may."""
    data = video_bytes("mp4", "mpeg4", 64, 48, 10)
    video = harness.call("upload_video", {"Name": "door.mp4", "Bytes": data}, key="FPAKTESTA", role="searcher")["Video"]
    job = harness.call("start_face_detection", {"Video": video}, key="FPAKTESTA", role="searcher")["JobId"]
    with pytest.raises(NotFound):
        harness.call("get_face_detection", {"JobId": job}, key="FPAKTESTB", role="searcher")
    assert harness.call("get_face_detection", {"JobId": job}, key="FPAKTESTB", role="admin")["JobId"] == job
    deadline = time.time() + 120
    while harness.call("get_face_detection", {"JobId": job}, key="FPAKTESTA", role="searcher")["JobStatus"] == "IN_PROGRESS" and time.time() < deadline:
        time.sleep(0.1)
