"""Video over the API: Rekognition's asynchronous jobs and stream processors, through
boto3, with alerts arriving as server-sent events."""

from __future__ import annotations

import json
import shutil
import time
import uuid

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.api.conftest import DATA, make_keys, start_server, stop_server, unique

pytestmark = pytest.mark.data
EXAMPLES = DATA / "people" / "face_recognition" / "examples"


@pytest.fixture(scope="module")
def watch_list(server) -> str:
    if not (EXAMPLES / "short_hamilton_clip.mp4").is_file():
        pytest.skip(f"the hamilton clip is not in {EXAMPLES}")
    rek = server.client("admin")
    name = unique("watch")
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    rek.index_faces(CollectionId=name, Image={"Bytes": (EXAMPLES / "lin-manuel-miranda.png").read_bytes()}, ExternalImageId="lin-manuel-miranda")
    # not Obama: he is in the clip's audience
    rek.index_faces(CollectionId=name, Image={"Bytes": (EXAMPLES / "biden.jpg").read_bytes()}, ExternalImageId="biden")
    shutil.copy(EXAMPLES / "short_hamilton_clip.mp4", server.bucket / "hamilton.mp4")
    return name


def wait_for(get, job_id: str, timeout: float = 180.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = get(JobId=job_id)
        if result["JobStatus"] != "IN_PROGRESS":
            return result
        time.sleep(1.0)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def test_face_search_job(server, watch_list):
    rek = server.client("searcher")
    video = {"S3Object": {"Bucket": "photos", "Name": "hamilton.mp4"}}
    job = rek.start_face_search(Video=video, CollectionId=watch_list, FaceMatchThreshold=50, JobTag="door-1")["JobId"]
    result = wait_for(rek.get_face_search, job)
    assert result["JobStatus"] == "SUCCEEDED" and result["JobTag"] == "door-1" and result["VideoMetadata"]["FrameWidth"] == 640
    matched = {m["Face"]["ExternalImageId"] for p in result["Persons"] for m in p.get("FaceMatches", [])}
    assert matched == {"lin-manuel-miranda"}
    # pages
    first = rek.get_face_search(JobId=job, MaxResults=5, SortBy="INDEX")
    assert len(first["Persons"]) == 5 and "NextToken" in first
    second = rek.get_face_search(JobId=job, MaxResults=5, SortBy="INDEX", NextToken=first["NextToken"])
    assert second["Persons"][0] != first["Persons"][0]
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.get_face_search(JobId=uuid.uuid4().hex)
    with pytest.raises(rek.exceptions.InvalidS3ObjectException):
        rek.start_face_search(Video={"S3Object": {"Bucket": "photos", "Name": "missing.mp4"}}, CollectionId=watch_list)


def test_face_detection_job(server, watch_list):
    rek = server.client("indexer")
    job = rek.start_face_detection(Video={"S3Object": {"Bucket": "photos", "Name": "hamilton.mp4"}})["JobId"]
    result = wait_for(rek.get_face_detection, job)
    assert result["JobStatus"] == "SUCCEEDED" and len(result["Faces"]) > 20
    assert all(0 <= f["Face"]["BoundingBox"]["Left"] <= 1 for f in result["Faces"])


def test_a_job_survives_a_crash(tmp_path):
    """A server killed mid-job runs the job again when it restarts."""
    if not (EXAMPLES / "short_hamilton_clip.mp4").is_file():
        pytest.skip("no hamilton clip")
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    shutil.copy(EXAMPLES / "short_hamilton_clip.mp4", bucket / "clip.mp4")
    keys = make_keys(tmp_path)
    proc, url, _ = start_server(tmp_path, "--bucket", f"videos={bucket}")
    import boto3

    def client(url):
        return boto3.client("rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id=keys["admin"][0], aws_secret_access_key=keys["admin"][1])

    try:
        job = client(url).start_face_detection(Video={"S3Object": {"Bucket": "videos", "Name": "clip.mp4"}})["JobId"]
        assert client(url).get_face_detection(JobId=job)["JobStatus"] == "IN_PROGRESS"
    finally:
        proc.kill()  # no clean shutdown
        proc.wait()
    proc, url, _ = start_server(tmp_path, "--bucket", f"videos={bucket}")
    try:
        result = wait_for(client(url).get_face_detection, job)
        assert result["JobStatus"] == "SUCCEEDED" and result["Faces"]
    finally:
        stop_server(proc)


def _events(server, name: str, seconds: float) -> list[dict]:
    """Alerts from the server-sent event stream, read for up to ``seconds``."""
    body = json.dumps({"Name": name}).encode()
    request = AWSRequest(method="POST", url=server.url + "/", data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "FaceprintService.StreamProcessorEvents"})
    SigV4Auth(Credentials(*server.keys["searcher"]), "faceprint", "us-east-1").add_auth(request)
    http = urllib3.PoolManager()
    r = http.request("POST", request.url, body=body, headers=dict(request.headers.items()), preload_content=False, timeout=urllib3.Timeout(connect=5, read=seconds))
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    alerts, buffer, deadline = [], b"", time.time() + seconds
    try:
        while time.time() < deadline and not alerts:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1024)
            if not chunk:
                break
            buffer += chunk
            for block in buffer.split(b"\n\n")[:-1]:
                if block.startswith(b"event: alert"):
                    alerts.append(json.loads(block.split(b"data: ", 1)[1]))
            buffer = buffer.split(b"\n\n")[-1]
    except urllib3.exceptions.ReadTimeoutError:
        pass
    finally:
        r.release_conn()
    return alerts


def test_stream_processor_lifecycle_and_alerts(server, watch_list):
    admin = server.client("admin")
    name = unique("door")
    admin.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/door/1"}},
        Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
        Settings={"FaceSearch": {"CollectionId": watch_list, "FaceMatchThreshold": 50}},
        RoleArn="arn:aws:iam::000000000000:role/faceprint",
    )
    assert {"Name": name, "Status": "STOPPED"} in admin.list_stream_processors()["StreamProcessors"]
    admin.start_stream_processor(Name=name)
    try:
        assert admin.describe_stream_processor(Name=name)["Status"] == "RUNNING"
        alerts = _events(server, name, seconds=40)
        assert alerts and alerts[0]["ExternalImageId"] == "lin-manuel-miranda" and alerts[0]["LatencyMs"] < 1000
        counters = server.client("searcher", service="faceprint").get_stream_processor_counters(Name=name)["Counters"]
        assert counters["FramesAnalyzed"] > 0 and counters["Alerts"] >= 1 and "StatusMessage" not in admin.describe_stream_processor(Name=name)
        with pytest.raises(admin.exceptions.ResourceInUseException):
            admin.delete_stream_processor(Name=name)
    finally:
        admin.stop_stream_processor(Name=name)
    described = admin.describe_stream_processor(Name=name)
    assert described["Status"] == "STOPPED" and described["Settings"]["FaceSearch"]["CollectionId"] == watch_list
    admin.delete_stream_processor(Name=name)
    with pytest.raises(admin.exceptions.InvalidParameterException):  # an unconfigured stream
        admin.create_stream_processor(
            Name=unique("x"),
            Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/elsewhere/1"}},
            Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
            Settings={"FaceSearch": {"CollectionId": watch_list}},
            RoleArn="arn:aws:iam::000000000000:role/faceprint",
        )


def test_uploaded_video_job(server, watch_list):
    fp, rek = server.client("searcher", service="faceprint"), server.client("searcher")
    name = unique("upload") + ".mp4"
    clip = (EXAMPLES / "short_hamilton_clip.mp4").read_bytes()
    uploaded = fp.upload_video(Name=name, Bytes=clip)
    stored = uploaded["Video"]["S3Object"]
    assert stored["Bucket"] == "uploads" and stored["Name"] != name  # the server names it: a job never opens a name a caller chose
    job = rek.start_face_search(Video=uploaded["Video"], CollectionId=watch_list)["JobId"]
    result = wait_for(rek.get_face_search, job)
    assert {m["Face"]["ExternalImageId"] for p in result["Persons"] for m in p.get("FaceMatches", [])} == {"lin-manuel-miranda"}
    with pytest.raises(fp.exceptions.InvalidParameterException):
        fp.upload_video(Name=unique("junk"), Bytes=b"this is not a video")
    # the same label twice is two uploads: no overwriting a video a job may be reading
    assert fp.upload_video(Name=name, Bytes=clip)["Video"]["S3Object"]["Name"] != stored["Name"]
    other = server.client("indexer")
    with pytest.raises(other.exceptions.InvalidS3ObjectException):  # another key's upload is not there for this one
        other.start_face_detection(Video=uploaded["Video"])
