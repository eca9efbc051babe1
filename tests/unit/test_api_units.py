"""The HTTP layer's pieces without a server: shape checks, SigV4, the guard's rules."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from faceprint.api import model, roles, sigv4
from faceprint.api.errors import IncompleteSignature, InvalidSignature, MissingAuthenticationToken
from faceprint.api.guard import Guard, RateLimit
from faceprint.errors import FaceprintError, InvalidParameter
from faceprint.store import Store


def op(name: str, prefix: str = model.REKOGNITION_PREFIX):
    found = model.operation(prefix, name)
    assert found is not None
    return found


def test_check_input_decodes_blobs_and_refuses_what_the_model_refuses():
    params = model.check_input(op("IndexFaces"), {"CollectionId": "c", "Image": {"Bytes": "aGk="}, "QualityFilter": "HIGH", "MaxFaces": 2})
    assert params["Image"]["Bytes"] == b"hi"
    bad = [
        {"CollectionId": "c"},  # Image missing
        {"CollectionId": "c", "Image": {"Bytes": "aGk="}, "Extra": 1},
        {"CollectionId": "c d", "Image": {"Bytes": "aGk="}},  # pattern
        {"CollectionId": "c" * 256, "Image": {"Bytes": "aGk="}},  # max length
        {"CollectionId": "c", "Image": {"Bytes": "aGk="}, "QualityFilter": "SUPER"},  # enum
        {"CollectionId": "c", "Image": {"Bytes": "aGk="}, "MaxFaces": 0},  # range
        {"CollectionId": "c", "Image": {"Bytes": "aGk="}, "MaxFaces": True},  # bool is not an integer
        {"CollectionId": "c", "Image": {"Bytes": "a"}},  # base64
        {"CollectionId": ["c"], "Image": {"Bytes": "aGk="}},
    ]
    for body in bad:
        with pytest.raises(InvalidParameter):
            model.check_input(op("IndexFaces"), body)


def test_faceprint_model_loads_as_a_botocore_service():
    fp = model.service_models()[model.FACEPRINT_PREFIX]
    assert fp.signing_name == "faceprint" and fp.metadata["targetPrefix"] == "FaceprintService"
    assert "WhoAmI" in fp.operation_names and "CreateAccessKey" in fp.operation_names
    with pytest.raises(InvalidParameter):
        model.check_input(op("CreateAccessKey", model.FACEPRINT_PREFIX), {"Role": "root", "Purpose": "x"})


def test_every_operation_has_a_handler_and_a_role():
    from faceprint.api import operations

    for name in operations.HANDLERS:
        prefix = model.REKOGNITION_PREFIX if model.operation(model.REKOGNITION_PREFIX, name) else model.FACEPRINT_PREFIX
        assert model.operation(prefix, name) is not None, name
        assert roles.allows("admin", name), name
    assert set(roles.ADMIN) == set(operations.HANDLERS)


def _signed(body: bytes = b"{}", *, secret: str = "s3cret", at: float | None = None) -> AWSRequest:
    request = AWSRequest(method="POST", url="http://127.0.0.1:8300/", data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections"})
    SigV4Auth(Credentials("FPAKTEST", secret), "rekognition", "eu-west-1").add_auth(request)
    request.headers["Host"] = "127.0.0.1:8300"
    return request


def _lower(request: AWSRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def test_sigv4_round_trip_and_tampering():
    request = _signed()
    headers = _lower(request)
    claim = sigv4.parse(headers)
    assert (claim.key_id, claim.region, claim.service) == ("FPAKTEST", "eu-west-1", "rekognition")
    values = lambda name: [headers[name]] if name in headers else []  # noqa: E731
    sigv4.verify(claim, "s3cret", method="POST", path="/", query="", header_values=values, body=b"{}")
    with pytest.raises(InvalidSignature):
        sigv4.verify(claim, "s3cret", method="POST", path="/", query="", header_values=values, body=b'{"a":1}')
    with pytest.raises(InvalidSignature):
        sigv4.verify(claim, "other", method="POST", path="/", query="", header_values=values, body=b"{}")


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda h: h.pop("authorization"), MissingAuthenticationToken),
        (lambda h: h.update(authorization="AWS4-HMAC-SHA256 Credential=x"), IncompleteSignature),
        (lambda h: h.update(authorization=h["authorization"].replace("x-amz-target", "x-amz-targez")), IncompleteSignature),
        (lambda h: h.update({"x-amz-date": "yesterday"}), IncompleteSignature),
        (lambda h: h.update({"x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))}), InvalidSignature),
    ],
)
def test_sigv4_parse_refusals(mutate, error):
    headers = _lower(_signed())
    mutate(headers)
    with pytest.raises(error):
        sigv4.parse(headers)


def test_guard_replay_rules_and_rate_limit(tmp_path):
    with Store(tmp_path) as store:
        key, secret = store.create_key("searcher", "unit tests")
        guard = Guard(store, rate=RateLimit(per_second=1000, burst=1000))

        def call(request: AWSRequest, invocation: str, read_only: bool):
            headers = {**_lower(request), "amz-sdk-invocation-id": invocation}
            return guard.authenticate(headers, lambda n: [headers[n]] if n in headers else [], method="POST", path="/", query="", body=request.body, read_only=read_only)

        def signed_by_key() -> AWSRequest:
            request = AWSRequest(method="POST", url="http://h/", data=b"{}", headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.CreateUser"})
            SigV4Auth(Credentials(key.key_id, secret), "rekognition", "us-east-1").add_auth(request)
            request.headers["Host"] = "h"
            return request

        read = signed_by_key()
        assert call(read, "a", True).role == "searcher"
        assert call(read, "b", True)  # an SDK's identical read: runs
        with pytest.raises(FaceprintError) as exc:
            call(read, "a", True)  # byte for byte: a replay
        assert exc.value.aws_code == "InvalidSignatureException"

        write = signed_by_key()
        call(write, "c", False)
        with pytest.raises(FaceprintError) as exc:
            call(write, "d", False)  # same second, new invocation: retry later
        assert exc.value.aws_code == "ThrottlingException" and exc.value.details["retry_after_ms"] >= 1000
        with pytest.raises(FaceprintError) as exc:
            call(write, "c", False)
        assert exc.value.aws_code == "InvalidSignatureException"

        slow = Guard(store, rate=RateLimit(per_second=0.5, burst=1))
        headers = {**_lower(signed_by_key()), "amz-sdk-invocation-id": str(uuid.uuid4())}
        slow.authenticate(headers, lambda n: [headers[n]] if n in headers else [], method="POST", path="/", query="", body=b"{}", read_only=True)
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        with pytest.raises(FaceprintError) as exc:
            slow.authenticate(headers, lambda n: [headers[n]] if n in headers else [], method="POST", path="/", query="", body=b"{}", read_only=True)
        assert exc.value.aws_code == "ThrottlingException"
