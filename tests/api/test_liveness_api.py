"""Liveness over HTTP with boto3: a session, its random challenge, frames judged once,
results in Rekognition's shape; bad input answered with its reason; other callers
cannot read a session; repeated failures are throttled."""

from __future__ import annotations

import time

import cv2
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import DATA

pytestmark = pytest.mark.data


def frames(n: int, every: int = 3) -> list[dict]:
    from faceprint.eval.liveness import video_frames

    video = DATA / "liveness" / "replay_apfol" / "videos" / "real2.webm"
    if not video.is_file():
        pytest.skip(f"liveness data not found in {DATA}")
    out = []
    for ms, rgb in video_frames(video, every=every, limit=n):
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append({"Bytes": jpeg.tobytes(), "TimestampMillis": int(ms)})
    return out


def test_a_liveness_session_end_to_end(server):
    key = server.client("admin", service="faceprint").create_access_key(Role="searcher", Purpose="liveness end-to-end test")
    server.keys["liveness-e2e"] = (key["AccessKeyId"], key["SecretAccessKey"])
    try:
        rek, fp = server.client("liveness-e2e"), server.client("liveness-e2e", service="faceprint")
    finally:
        del server.keys["liveness-e2e"]
    sid = rek.create_face_liveness_session(Settings={"AuditImagesLimit": 2})["SessionId"]
    challenge = fp.get_liveness_challenge(SessionId=sid)
    assert 2 <= len(challenge["Actions"]) <= 3 and challenge["TimeLimitMillis"] >= 8000
    time.sleep(2.5)  # frames may not span more time than has passed since the challenge was read
    assert rek.get_face_liveness_session_results(SessionId=sid)["Status"] == "CREATED"
    put = fp.put_liveness_frames(SessionId=sid, Frames=frames(24))
    assert put["Status"] == "SUCCEEDED" and "FailureReason" not in put  # judged
    result = rek.get_face_liveness_session_results(SessionId=sid)
    # judged; a verdict that is not live reads 0 (which check failed is not told). The
    # challenge is random, so whether this recording happens to follow it is left to
    # tests/liveness (fixed actions) and the benchmark (its APCER).
    assert result["Status"] == "SUCCEEDED" and (result["Confidence"] == 0.0 or result["Confidence"] >= 50)
    ref = result["ReferenceImage"]
    assert ref["Bytes"][:2] == b"\xff\xd8" and 0 < ref["BoundingBox"]["Width"] < 1
    assert len(result["AuditImages"]) == 2
    with pytest.raises(ClientError) as used:
        fp.put_liveness_frames(SessionId=sid, Frames=frames(12))
    assert used.value.response["Error"]["Code"] == "InvalidParameterException" and "already used" in used.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as other:
        server.client("admin").get_face_liveness_session_results(SessionId=sid)
    assert other.value.response["Error"]["Code"] == "SessionNotFoundException"


def test_bad_frames_fail_with_a_reason_and_failures_are_throttled(server):
    admin = server.client("admin", service="faceprint")
    key = admin.create_access_key(Role="searcher", Purpose="liveness throttling test")
    server.keys["liveness-tester"] = (key["AccessKeyId"], key["SecretAccessKey"])
    try:
        rek = server.client("liveness-tester", retries={"max_attempts": 1})
        fp = server.client("liveness-tester", service="faceprint", retries={"max_attempts": 1})
    finally:
        del server.keys["liveness-tester"]  # a fresh key: its failures are its own
    few = frames(3)
    for _ in range(5):
        sid = rek.create_face_liveness_session()["SessionId"]
        fp.get_liveness_challenge(SessionId=sid)
        put = fp.put_liveness_frames(SessionId=sid, Frames=few)
        assert put["Status"] == "FAILED" and put["FailureReason"].startswith("TOO_FEW_FRAMES")
        assert "Confidence" not in rek.get_face_liveness_session_results(SessionId=sid)
    with pytest.raises(ClientError) as throttled:
        rek.create_face_liveness_session()
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    # other callers are not held back
    other = admin.create_access_key(Role="searcher", Purpose="liveness throttling test, second key")
    server.keys["liveness-other"] = (other["AccessKeyId"], other["SecretAccessKey"])
    try:
        assert server.client("liveness-other").create_face_liveness_session()["SessionId"]
    finally:
        del server.keys["liveness-other"]
