"""The HTTP layer's pieces without a server: shape checks, SigV4, the guard's rules."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from unittest import mock

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
    from faceprint.api import operation_table

    for name in operation_table.operations():
        prefix = model.REKOGNITION_PREFIX if model.operation(model.REKOGNITION_PREFIX, name) else model.FACEPRINT_PREFIX
        assert model.operation(prefix, name) is not None, name
        assert roles.allows("admin", name), name
    assert roles.allowed("admin") == set(operation_table.operations())


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


@pytest.fixture(params=["sqlite", "postgresql"])
def guard_store(request: pytest.FixtureRequest, tmp_path):
    """Stores whose request log the guard uses: in memory (embedded), or in PostgreSQL
    tables that every server of the database shares. The rules must not differ."""
    url = request.getfixturevalue("database_url") if request.param == "postgresql" else None
    return lambda: Store(tmp_path, database=url)


class _Signer:
    """A store with one searcher key, a guard over it on a clock the test moves, and
    requests signed by that key exactly as botocore signs them."""

    def __init__(self, store: Store, rate: RateLimit) -> None:
        self.store = store
        self.key, self.secret = store.keys.issue("searcher", "unit tests")
        self.now = time.time()
        self.guard = Guard(store, rate=rate, clock=lambda: self.now)

    def request(self, body: bytes = b"{}", key: tuple[str, str] | None = None) -> AWSRequest:
        key_id, secret = key or (self.key.key_id, self.secret)
        request = AWSRequest(method="POST", url="http://h/", data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.CreateUser"})
        at = dt.datetime.fromtimestamp(self.now, dt.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):  # signed on the guard's clock
            SigV4Auth(Credentials(key_id, secret), "rekognition", "us-east-1").add_auth(request)
        request.headers["Host"] = "h"
        return request

    def call(self, request: AWSRequest, invocation: str):
        headers = {**_lower(request), "amz-sdk-invocation-id": invocation}
        return self.guard.authenticate(headers, lambda n: [headers[n]] if n in headers else [], method="POST", path="/", query="", body=request.body)

    def refused(self, request: AWSRequest, invocation: str) -> FaceprintError:
        with pytest.raises(FaceprintError) as exc:
            self.call(request, invocation)
        return exc.value


def test_guard_runs_each_signature_once(guard_store):
    """Reads and writes alike: a second copy of a signature with a new invocation id,
    soon after the first, is an SDK's same-second duplicate (retryable Throttling, which
    the SDK re-signs); any other repeat is a replay. A captured read replayed later with
    a fresh invocation id must not run (it would reveal what changed since)."""
    with guard_store() as store:
        s = _Signer(store, RateLimit(per_second=1000, burst=1000))
        request = s.request()
        assert s.call(request, "a").role == "searcher"
        duplicate = s.refused(request, "b")  # an SDK's identical call in the same second
        assert duplicate.aws_code == "ThrottlingException" and duplicate.details["retry_after_ms"] >= 1000
        assert s.refused(request, "a").aws_code == "InvalidSignatureException"  # byte for byte: a replay
        s.now += 60
        assert s.refused(request, "c").aws_code == "InvalidSignatureException"  # replayed later, fresh invocation id


def test_guard_refuses_long_invocation_ids(guard_store):
    """The unsigned invocation id is the caller's to choose: one of 64 KB per request
    grew the server by 313 MB over 3,000 reads. A UUID is 36 characters."""
    with guard_store() as store:
        s = _Signer(store, RateLimit(per_second=1000, burst=1000))
        assert s.call(s.request(), str(uuid.uuid4()))
        error = s.refused(s.request(b'{"a": 1}'), "x" * 65536)
        assert isinstance(error, InvalidParameter) and "amz-sdk-invocation-id" in error.message


def test_guard_caps_what_it_remembers_per_key(guard_store):
    """One key filling the replay window is throttled; another key is not held back."""
    with guard_store() as store:
        s = _Signer(store, RateLimit(per_second=1000, burst=1000, max_remembered=3))
        for i in range(3):
            s.call(s.request(b'{"n": %d}' % i), str(uuid.uuid4()))
        assert s.refused(s.request(b'{"n": 3}'), str(uuid.uuid4())).aws_code == "ThrottlingException"
        other, secret = store.keys.issue("searcher", "another caller")
        assert s.call(s.request(b'{"n": 3}', key=(other.key_id, secret)), str(uuid.uuid4())).key_id == other.key_id
        s.now += sigv4.MAX_SKEW_S + 2  # the first key's requests have expired: room again
        for i in range(3):
            s.call(s.request(b'{"m": %d}' % i), str(uuid.uuid4()))


def test_guard_throttles_before_it_remembers(guard_store):
    """A request refused by the rate limit is not remembered: the SDK's retry of it
    (same signature within the second, same invocation id) runs once the bucket
    refills instead of failing as a replay."""
    with guard_store() as store:
        s = _Signer(store, RateLimit(per_second=1, burst=1))
        s.call(s.request(), "first")
        retried = s.request(b'{"n": 2}')
        throttled = s.refused(retried, "second")
        assert throttled.aws_code == "ThrottlingException"
        s.now += 1.0  # the bucket refills; the retry carries the same signature and invocation id
        assert s.call(retried, "second").role == "searcher"
        assert s.refused(retried, "second").aws_code == "InvalidSignatureException"  # and only once


def test_a_body_trickled_in_past_its_date_is_refused(guard_store):
    """The date is checked when the headers arrive, the replay window once the body has:
    a captured copy whose headers came just inside the 15 minutes, and whose body was
    trickled in until the first copy left the window, must not run."""
    with guard_store() as store:
        s = _Signer(store, RateLimit(per_second=1000, burst=1000))
        request = s.request()
        assert s.call(request, "a").role == "searcher"
        s.now += sigv4.MAX_SKEW_S - 1
        headers = {**_lower(request), "amz-sdk-invocation-id": "b"}
        claim = s.guard.claim(headers)
        s.now += 60  # the body's last byte, within the server's body deadline
        with pytest.raises(FaceprintError) as exc:
            s.guard.admit(claim, lambda n: [headers[n]] if n in headers else [], method="POST", path="/", query="", body=request.body)
        assert exc.value.aws_code == "InvalidSignatureException"


def test_one_token_scheme_for_every_listing():
    from faceprint.errors import InvalidPaginationToken
    from faceprint.store.tokens import decode_int, decode_token, encode_token

    assert decode_token(encode_token("faces", 7), "faces") == 7
    assert decode_token(encode_token("collections", "a:b"), "collections") == "a:b"
    assert decode_token("", "users") is None and decode_int(None, "users") == 0
    for bad in ("not base64!", "eA==", encode_token("faces", 7)[:-2], "x" * 600):
        with pytest.raises(InvalidPaginationToken):
            decode_token(bad, "faces")
    with pytest.raises(InvalidPaginationToken):  # a token from another listing
        decode_token(encode_token("users", 7), "faces")
    with pytest.raises(InvalidPaginationToken):
        decode_int(encode_token("faces", "name"), "faces")
