"""Authentication and authorisation at the edge: SigV4 refusals, replay, clock skew,
revocation, rate limits, and the role matrix (every role x every operation)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from unittest import mock

import pytest
import urllib3
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from faceprint.api import operation_table, roles
from faceprint.store import ROLES
from tests.api.conftest import make_keys, start_server, stop_server, unique

HTTP = urllib3.PoolManager()
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def signed(url: str, key: tuple[str, str], target: str, body: dict | bytes, *, at: dt.datetime | None = None, invocation: str | None = None, service: str = "rekognition") -> AWSRequest:
    """A request signed exactly as botocore signs it, optionally at another time."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    request = AWSRequest(method="POST", url=url + "/", data=data, headers=headers)
    signer = SigV4Auth(Credentials(*key), service, "us-east-1")
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            signer.add_auth(request)
    request.headers["amz-sdk-invocation-id"] = invocation or str(uuid.uuid4())  # unsigned, as botocore sends it
    return request


def send(request: AWSRequest) -> tuple[int, dict]:
    r = HTTP.request("POST", request.url, body=request.body, headers=dict(request.headers.items()))
    return r.status, json.loads(r.data or b"{}")


def test_unsigned_request_is_refused(server):
    r = HTTP.request("POST", server.url + "/", body=b"{}", headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections"})
    assert r.status == 403 and json.loads(r.data)["__type"] == "MissingAuthenticationTokenException"


def test_wrong_secret_unknown_key_and_tampering_are_refused(server):
    key_id, secret = server.keys["admin"]
    status, body = send(signed(server.url, (key_id, secret + "x"), "RekognitionService.ListCollections", {}))
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    status, body = send(signed(server.url, ("FPAKNOSUCHKEY0000000", secret), "RekognitionService.ListCollections", {}))
    assert (status, body["__type"]) == (403, "UnrecognizedClientException")
    request = signed(server.url, (key_id, secret), "RekognitionService.DescribeCollection", {"CollectionId": "a"})
    request.data = json.dumps({"CollectionId": "b"}).encode()  # changed after signing
    status, body = send(request)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    request = signed(server.url, (key_id, secret), "RekognitionService.ListCollections", {})
    request.headers.replace_header("X-Amz-Target", "RekognitionService.DeleteCollection")  # operation swapped
    assert send(request)[1]["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("minutes, expected", [(-16, "InvalidSignatureException"), (16, "InvalidSignatureException"), (-14, None)])
def test_clock_skew_over_15_minutes_is_refused(server, minutes, expected):
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    status, body = send(signed(server.url, server.keys["admin"], "RekognitionService.ListCollections", {}, at=at))
    if expected is None:
        assert status == 200
    else:
        assert (status, body["__type"]) == (403, expected) and "expired" in body["message"]


def test_replayed_requests_are_refused(server):
    admin = server.keys["admin"]
    name = unique("replay")
    server.client("admin").create_collection(CollectionId=name)
    create = signed(server.url, admin, "RekognitionService.CreateUser", {"CollectionId": name, "UserId": "u1"})
    assert send(create)[0] == 200
    status, body = send(create)  # the same bytes again
    assert (status, body["__type"]) == (403, "InvalidSignatureException") and "replay" in body["message"]
    # A read resent byte for byte is a replay too.
    read = signed(server.url, admin, "RekognitionService.DescribeCollection", {"CollectionId": name})
    assert send(read)[0] == 200
    assert send(read)[1]["__type"] == "InvalidSignatureException"


def test_a_replayed_read_reveals_nothing_new(server):
    """A captured signed read sent again with a fresh invocation id (which is not signed)
    is refused: it would otherwise list what was created after the capture for as long
    as its date stays valid (15 minutes)."""
    admin = server.keys["admin"]
    captured = signed(server.url, admin, "RekognitionService.ListCollections", {})
    status, before = send(captured)
    assert status == 200
    created = unique("after-capture")
    server.client("admin").create_collection(CollectionId=created)
    captured.headers.replace_header("amz-sdk-invocation-id", str(uuid.uuid4()))
    status, body = send(captured)
    assert status != 200 and created not in body.get("CollectionIds", []), body
    # within seconds of the first copy, as an SDK's same-second duplicate would be: retryable
    assert body["__type"] in ("ThrottlingException", "InvalidSignatureException"), body


def test_identical_mutations_in_one_second_are_retried_by_the_sdk(server):
    """boto3's own retry re-signs the throttled duplicate, so honest code just works."""
    rek = server.client("admin")
    name = unique("dup")
    rek.create_collection(CollectionId=name)
    for _ in range(3):
        with pytest.raises(ClientError) as exc:
            rek.create_collection(CollectionId=name)
        assert exc.value.response["Error"]["Code"] == "ResourceAlreadyExistsException", (exc.value.response["ResponseMetadata"]["RetryAttempts"], exc.value.response["Error"]["Message"])


def test_revoked_key_is_refused_at_once(server):
    fp = server.client("admin", service="faceprint")
    made = fp.create_access_key(Role="searcher", Purpose="revocation test")
    import boto3

    rek = boto3.client("rekognition", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=made["AccessKeyId"], aws_secret_access_key=made["SecretAccessKey"])
    rek.list_collections()
    assert fp.revoke_access_key(AccessKeyId=made["AccessKeyId"])["AccessKey"]["Status"] == "REVOKED"
    with pytest.raises(ClientError) as exc:
        rek.list_collections()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_rate_limit_answers_throttling(tmp_path):
    keys = make_keys(tmp_path)
    proc, url, _ = start_server(tmp_path, "--rate-limit", "1")
    try:
        # different bodies: identical ones in one second would be refused as duplicates first
        codes = [send(signed(url, keys["searcher"], "RekognitionService.ListCollections", {"MaxResults": 10 + i}))[1].get("__type", "OK") for i in range(6)]
    finally:
        stop_server(proc)
    assert codes[:2] == ["OK", "OK"] and "ThrottlingException" in codes[2:]


# -- the role matrix ---------------------------------------------------------------
def _minimal_params(op: str, collection: str, face_id: str, jpeg: bytes) -> dict:
    image = {"Bytes": jpeg}
    known = {
        "DetectFaces": {"Image": image},
        "CompareFaces": {"SourceImage": image, "TargetImage": image},
        "CreateCollection": {"CollectionId": unique("matrix")},
        "DeleteCollection": {"CollectionId": unique("absent")},
        "ListCollections": {},
        "ListTagsForResource": {"ResourceArn": f"arn:aws:rekognition:local:000000000000:collection/{collection}"},
        "DescribeCollection": {"CollectionId": collection},
        "IndexFaces": {"CollectionId": collection, "Image": image, "ExternalImageId": "matrix"},
        "ListFaces": {"CollectionId": collection},
        "DeleteFaces": {"CollectionId": collection, "FaceIds": ["00000000-0000-0000-0000-000000000000"]},
        "SearchFaces": {"CollectionId": collection, "FaceId": face_id},
        "SearchFacesByImage": {"CollectionId": collection, "Image": image},
        "CreateUser": {"CollectionId": collection, "UserId": unique("user")},
        "DeleteUser": {"CollectionId": collection, "UserId": "absent-user"},
        "ListUsers": {"CollectionId": collection},
        "AssociateFaces": {"CollectionId": collection, "UserId": "absent-user", "FaceIds": [face_id]},
        "DisassociateFaces": {"CollectionId": collection, "UserId": "absent-user", "FaceIds": [face_id]},
        "SearchUsers": {"CollectionId": collection, "FaceId": face_id},
        "SearchUsersByImage": {"CollectionId": collection, "Image": image},
        "WhoAmI": {},
        "AddConsent": {"Subject": "matrix", "Basis": "consent", "Purpose": "matrix"},
        "ListConsent": {},
        "RevokeConsent": {"Subject": "nobody-at-all"},
        "EraseSubject": {"ExternalImageId": "nobody-at-all"},
        "PurgeExpired": {},
        "ListAuditEvents": {"MaxResults": 1},
        "VerifyAuditLog": {},
        "CreateAccessKey": {"Role": "auditor", "Purpose": "matrix"},
        "ListAccessKeys": {},
        "RevokeAccessKey": {"AccessKeyId": "FPAKABSENT"},
        "StartFaceSearch": {"Video": {"S3Object": {"Bucket": "photos", "Name": "absent.mp4"}}, "CollectionId": collection},
        "GetFaceSearch": {"JobId": "absent-job"},
        "StartFaceDetection": {"Video": {"S3Object": {"Bucket": "photos", "Name": "absent.mp4"}}},
        "GetFaceDetection": {"JobId": "absent-job"},
        "CreateStreamProcessor": {
            "Name": unique("proc"),
            "Input": {"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/absent/1"}},
            "Output": {"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
            "Settings": {"FaceSearch": {"CollectionId": collection}},
            "RoleArn": "arn:aws:iam::000000000000:role/faceprint",
        },
        "StartStreamProcessor": {"Name": "absent-processor"},
        "StopStreamProcessor": {"Name": "absent-processor"},
        "DeleteStreamProcessor": {"Name": "absent-processor"},
        "ListStreamProcessors": {},
        "DescribeStreamProcessor": {"Name": "absent-processor"},
        "StreamProcessorEvents": {"Name": "absent-processor"},
        "GetStreamProcessorCounters": {"Name": "absent-processor"},
        "UpdateStreamProcessor": {"Name": "absent-processor"},
        "TagResource": {"ResourceArn": f"arn:aws:rekognition:local:000000000000:collection/{collection}", "Tags": {"matrix": "yes"}},
        "UntagResource": {"ResourceArn": f"arn:aws:rekognition:local:000000000000:collection/{collection}", "TagKeys": ["matrix"]},
        "UploadVideo": {"Name": unique("upload"), "Bytes": b"not a video"},
        "CreateFaceLivenessSession": {},
        "GetLivenessChallenge": {"SessionId": "00000000-0000-0000-0000-000000000000"},
        "PutLivenessFrames": {"SessionId": "00000000-0000-0000-0000-000000000000", "Frames": [{"Bytes": jpeg, "TimestampMillis": 0}]},
        "GetFaceLivenessSessionResults": {"SessionId": "00000000-0000-0000-0000-000000000000"},
    }
    return known[op]


@pytest.mark.data
def test_role_matrix(server):
    """Each role calls each operation: allowed ones never answer AccessDeniedException,
    the others always do. The table of answers is written to artifacts/role-matrix.md
    (``ok`` or the error code: allowed calls on absent resources answer NotFound)."""
    from tests.api.conftest import lfw_images

    jpeg = lfw_images(1)[0].read_bytes()
    admin = server.client("admin")
    collection = unique("matrix")
    admin.create_collection(CollectionId=collection, Tags={"faceprint:consent-required": "false"})
    face_id = admin.index_faces(CollectionId=collection, Image={"Bytes": jpeg}, ExternalImageId="seed")["FaceRecords"][0]["Face"]["FaceId"]
    clients = {role: (server.client(role), server.client(role, service="faceprint")) for role in server.keys}
    from faceprint.api.model import REKOGNITION_PREFIX, service_models

    rekognition_ops = set(service_models()[REKOGNITION_PREFIX].operation_names)
    rows, wrong = [], []
    for op in sorted(operation_table.operations()):
        cells = []
        for role in ROLES:
            rek, fp = clients[role]
            client = rek if op in rekognition_ops else fp
            method = getattr(client, xform_name(op))
            try:
                method(**_minimal_params(op, collection, face_id, jpeg))
                result = "ok"
            except ClientError as exc:
                result = exc.response["Error"]["Code"]
            allowed = roles.allows(role, op)
            denied = result == "AccessDeniedException"
            if allowed == denied:
                wrong.append((role, op, result))
            cells.append(result.replace("Exception", ""))  # what the server answered
        rows.append(f"| {op} | " + " | ".join(cells) + " |")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "role-matrix.md").write_text("| operation | " + " | ".join(ROLES) + " |\n|" + " --- |" * (len(ROLES) + 1) + "\n" + "\n".join(rows) + "\n")
    assert not wrong, wrong
    assert len(rows) == len(operation_table.operations()) >= 41
