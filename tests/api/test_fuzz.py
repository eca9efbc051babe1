"""Property-based fuzzing of the live service: whatever arrives, the answer is a typed
JSON error (4xx) or a response that fits the model, never a 5xx.

Hypothesis builds each request by walking an implemented operation's botocore input
shape: mostly shape-valid values (biased to the collections, faces, users, subjects
and keys made beforehand or by earlier requests, so handlers run on real objects;
images are small generated pictures, real LFW faces and broken files), mixed with
wrong types, missing required and unknown members, out-of-range numbers, huge
strings, NaN, deep nesting, invalid and non-UTF-8 JSON. About one request in eight
breaks the envelope instead (the target, the content type, the signature, the key,
the date, a replay), and must be refused; three bodies over the size limit must get
413. Requests are signed by botocore's own SigV4 signer (a fresh invocation id each,
so the replay window never mistakes one for another) and sent over one pooled
connection, not through boto3, which would validate them first. A failing request is
reported with the answer and the server's traceback; each kind of failure (the
exception and the line that raised it) is shrunk and reported on its own.

    FACEPRINT_FUZZ_REQUESTS=10000   the number of fuzz requests (default 2000)
    FACEPRINT_FUZZ_KEEP_GOING=1     record every failure and fail once at the end,
                                    instead of stopping at the first and shrinking it
    FACEPRINT_FUZZ_SUMMARY=PATH     also write the summary there as JSON
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import math
import os
import re
import struct
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.auth
import numpy as np
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from PIL import Image

from faceprint.rekognition import shapes
from faceprint.api import model, operation_table, operations
from faceprint.api.config import DEFAULT_MAX_BODY
from faceprint.errors import InvalidParameter
from tests.api.conftest import lfw_images, unique

REQUESTS = int(os.environ.get("FACEPRINT_FUZZ_REQUESTS", "2000"))
KEEP_GOING = os.environ.get("FACEPRINT_FUZZ_KEEP_GOING") == "1"
REGION = "us-east-1"
JSON_TYPE = "application/x-amz-json-1.1"
SIGNING_NAME = {model.REKOGNITION_PREFIX: "rekognition", model.FACEPRINT_PREFIX: "faceprint"}
OPS: list[tuple[str, str, OperationModel]] = [
    (prefix, name, service.operation_model(name)) for prefix, service in model.service_models().items() for name in service.operation_names if name in operation_table.operations()
]
UNIMPLEMENTED = sorted(set(model.service_models()[model.REKOGNITION_PREFIX].operation_names) - set(operation_table.operations()))[0]

# Envelope faults. Each must be refused (never 200), except the benign ones, which a
# server must accept.
ENVELOPE_FAULTS = (
    "no-target", "empty-target", "target-no-dot", "target-unknown-op", "target-unknown-prefix", "target-wrong-prefix",
    "target-model-only", "target-lowercase", "target-garbage", "target-unsigned",
    "no-content-type", "content-type-json", "content-type-garbage", "content-type-1.0", "content-type-charset",
    "no-auth", "auth-garbage", "auth-truncated", "auth-other-algorithm", "auth-bad-scope", "auth-flipped-signature",
    "wrong-secret", "unknown-key", "revoked-key", "stale-date", "stale-day", "future-date", "garbage-date",
    "tampered-body", "dropped-signed-header", "scope-other-service", "scope-unknown-service", "replayed",
)  # fmt: skip
BENIGN = {"content-type-1.0", "content-type-charset", "scope-other-service"}
ROLES = ("admin",) * 6 + ("indexer", "searcher", "auditor")  # shrinks to admin

WEIRD_CHARS = ["\x00", "\ud800", "\udfff", "\ufeff", "\u202e", "\uffff", "\U0001f600", "é", "\n", "'", '"', "\\", "%s", "../", " ", "\x7f"]
NASTY_STRINGS = ["\ud800", "x\udfffy", "\x00", "a\x00b", "\ufeff", "\U0001f600", "\u202e", "%s%n", "' OR 1=1 --", "../../etc/passwd", "null", "NaN", " ", "\r\n"]
BIG_NUMBERS = [2**31, 2**32, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**30), 10**400, 1e308, -1e308, 5e-324, -0.0, 0.5]
TAG_KEYS = [operations.PURPOSE_TAG, operations.CONSENT_TAG, operations.RETENTION_TAG]
TAG_VALUES = ["true", "false", "TRUE", "yes", "", "30", "0", "-1", "0.00001", "nan", "inf", "-inf", "1e309", "1_000", "fuzz purpose"]
RAW_BODIES = [
    b"", b" ", b"\n", b"null", b"[]", b"[{}]", b'"CollectionId"', b"0", b"-1.5e999", b"true", b"{", b"}", b'{"a":', b'{"a" 1}',
    b"{'CollectionId': 'x'}", b"\xff\xfe\xfd", b'{"CollectionId": "\xff\xfe"}', b"\x00" * 16, b'{"MaxResults": NaN}',
    b'{"MaxResults": Infinity}', b'{"MaxResults": -Infinity}', b'{"MaxResults": 1' + b"0" * 5000 + b"}", b'{"a":1,"a":2}',
    b"\xef\xbb\xbf{}", "{}".encode("utf-16"), '{"CollectionId": "x"}'.encode("utf-32"), b"[" * 100_000 + b"]" * 100_000,
    b'{"CollectionId":' + b"[" * 50_000 + b"]" * 50_000 + b"}", b'{"x":' + b'{"a":' * 20_000 + b"1" + b"}" * 20_001,
]  # fmt: skip


# -- what the fuzz knows about the server's state ------------------------------------
@dataclass
class Known:
    """Names and ids of real objects (made before the run or by it), for biased picks."""

    collections: list[str] = field(default_factory=list)
    face_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)  # only keys the fuzz made: safe to revoke
    s3_names: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)

    def add(self, kind: str, value: Any) -> None:
        items = getattr(self, kind)
        if isinstance(value, str) and value not in items:
            items.append(value)
            del items[:-64]


KNOWN = Known()
BIAS = {"CollectionId": "collections", "FaceId": "face_ids", "UserId": "user_ids", "ExternalImageId": "subjects", "Subject": "subjects", "AccessKeyId": "key_ids"}


# -- strategies: values from shapes --------------------------------------------------
def chance(draw: Any, percent: int) -> bool:
    """True ``percent`` % of the time; shrinks to False."""
    return draw(st.integers(0, 99)) >= 100 - percent


def pick(draw: Any, kind: str) -> str | None:
    """One of the known ``kind``; the draw's bounds never depend on how many there are
    (they change during the run, and hypothesis replays a case expecting the same draws)."""
    items = getattr(KNOWN, kind)
    i = draw(st.integers(0, 1023))
    return items[i % len(items)] if items else None


def _deep(depth: int, obj: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if obj else [value]
    return value


weird_text = st.one_of(st.sampled_from(NASTY_STRINGS), st.lists(st.one_of(st.sampled_from(WEIRD_CHARS), st.text(max_size=4)), min_size=1, max_size=8).map("".join))
huge_text = st.sampled_from([1_000, 70_000, 1_000_000]).map(lambda n: "x" * n)
WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(BIG_NUMBERS),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(max_size=12),
    weird_text,
    huge_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
    st.integers(2, 300).map(lambda d: _deep(d, False)),
    st.integers(2, 300).map(lambda d: _deep(d, True)),
)
_REGEX: dict[str, st.SearchStrategy[str] | None] = {}


def _regex(pattern: str) -> st.SearchStrategy[str] | None:
    if pattern not in _REGEX:
        try:
            _REGEX[pattern] = st.from_regex(re.compile(pattern), fullmatch=True)
        except re.error:  # a Java-only construct (\p{L}): plain text instead
            _REGEX[pattern] = None
    return _REGEX[pattern]


def gen(draw: Any, shape: Shape, hint: str, depth: int) -> Any:
    """A value for ``shape`` (the member ``hint``): mostly valid, sometimes not."""
    if depth > 0 and chance(draw, 6):
        return draw(WRONG)
    kind, meta = shape.type_name, shape.metadata
    lo, hi = meta.get("min"), meta.get("max")
    if kind == "structure":
        return gen_structure(draw, shape, depth)
    if kind == "list":
        item = hint[:-1] if hint.endswith("s") else hint
        if chance(draw, 3):  # at or over the size limit, without drawing every item
            n = draw(st.sampled_from([hi or 5000, (hi or 5000) + 1, 0]))
            return [gen(draw, shape.member, item, depth + 1)] * n
        return [gen(draw, shape.member, item, depth + 1) for _ in range(draw(st.integers(lo or 0, min(hi or 4, 4))))]
    if kind == "map":
        n = draw(st.integers(lo or 0, min(hi or 4, 4)))
        return {gen_string(draw, shape.key, shape.key.name): gen(draw, shape.value, shape.value.name, depth + 1) for _ in range(n)}  # JSON keys are strings
    if kind == "string":
        return gen_string(draw, shape, hint)
    if kind in ("integer", "long"):
        if chance(draw, 5):
            return draw(st.sampled_from([v for v in (None if lo is None else lo - 1, None if hi is None else hi + 1, 2**63, -(2**31)) if v is not None]))
        return draw(st.integers(lo if lo is not None else -(2**31), hi if hi is not None else 2**31))
    if kind in ("float", "double"):
        if chance(draw, 5):
            return draw(st.sampled_from([(lo or 0) - 0.5, (hi or 0) + 0.5, 1e308, 10**400]))
        return draw(st.floats(lo if lo is not None else -1e9, hi if hi is not None else 1e9))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "timestamp":
        if chance(draw, 30):
            return draw(st.one_of(st.sampled_from([0, -1, 253402300800, 1e300, -1e300, 10**400, -(10**400)]), st.floats(-1e13, 1e13), st.integers(-(2**40), 2**40)))
        return time.time() + draw(st.floats(-30 * 86400, 30 * 86400))
    if kind == "blob":
        return gen_blob(draw)
    return draw(WRONG)


def gen_structure(draw: Any, shape: Shape, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    members, required = shape.members, set(shape.required_members)
    if shape.name == "Image":  # exactly one of Bytes and S3Object, mostly
        chosen = {draw(st.sampled_from(["Bytes", "Bytes", "S3Object"]))}
        if chance(draw, 5):
            chosen = draw(st.sampled_from([set(), {"Bytes", "S3Object"}]))
    elif shape.name == "S3Object":  # a Version is refused before the name is looked at
        chosen = {"Bucket", "Name"} if not chance(draw, 10) else set(draw(st.lists(st.sampled_from(sorted(members)), max_size=3)))
    else:
        chosen = {n for n in members if (n in required and not chance(draw, 4)) or (n not in required and chance(draw, 50))}
    for name in members:
        if name in chosen:
            out[name] = gen(draw, members[name], name, depth + 1)
    if chance(draw, 6):
        out[draw(st.one_of(st.sampled_from(["collectionId", "Foo", "", "__type"]), weird_text))] = draw(WRONG)
    return out


def gen_string(draw: Any, shape: Shape, hint: str) -> str:
    meta = shape.metadata
    lo, hi = meta.get("min", 0), meta.get("max")
    if chance(draw, 4):  # out of range, or not in the enum
        return draw(st.sampled_from(["", "y" * ((hi or 5000) + 1), "BOGUS", "default"]))
    if chance(draw, 5 if "pattern" in meta or "enum" in meta else 25):  # free text: often nasty
        return draw(st.one_of(weird_text, weird_text, huge_text))
    if hint in BIAS and chance(draw, 50) and (known := pick(draw, BIAS[hint])) is not None:
        return known
    if hint == "ResourceArn" and chance(draw, 70):
        name = pick(draw, "collections") if chance(draw, 60) else draw(st.one_of(weird_text, st.text(max_size=8)))
        return shapes.collection_arn(name or "")
    if hint == "Bucket" and chance(draw, 70):
        return "photos"
    if hint == "Name" and KNOWN.s3_names and chance(draw, 80):
        return draw(st.sampled_from(KNOWN.s3_names))
    if shape.name == "TagKey" and chance(draw, 70):
        return draw(st.sampled_from(TAG_KEYS))
    if shape.name == "TagValue" and chance(draw, 70):
        return draw(st.sampled_from(TAG_VALUES))
    if hint == "NextToken" and chance(draw, 50):
        token = (pick(draw, "collections") or "c") if draw(st.booleans()) else draw(st.text(max_size=8))
        return base64.urlsafe_b64encode(token.encode("utf-8", "surrogatepass")).decode()
    if hint == "Action" and chance(draw, 50):
        return draw(st.sampled_from(sorted(operation_table.operations())))
    if "enum" in meta:
        return draw(st.sampled_from(meta["enum"]))
    regex = _regex(meta["pattern"]) if "pattern" in meta else None
    if regex is not None:
        return draw(regex.filter(lambda s: lo <= len(s) <= (hi or 1 << 30)))
    return draw(st.text(min_size=lo, max_size=min(hi or 64, 64)))


def gen_blob(draw: Any) -> Any:
    """Base64 text of an image (generated, real or broken) or of random bytes."""
    if chance(draw, 30):
        data = draw(st.binary(max_size=64))
    else:
        data = KNOWN.images[draw(st.sampled_from(sorted(KNOWN.images)))]
    text = base64.b64encode(data).decode()
    if chance(draw, 8):
        how = draw(st.integers(0, 4))
        text = [text.rstrip("=") + "=" * 3, "\n".join(text[i : i + 76] for i in range(0, len(text), 76)), base64.urlsafe_b64encode(data).decode() + "-_", "data:image/jpeg;base64," + text, text + "!!!"][how]
    return text


# -- strategies: whole requests -------------------------------------------------------
@dataclass
class Req:
    prefix: str
    name: str
    role: str
    body: bytes
    envelope: str = "signed"
    garbage: str = ""

    def __repr__(self) -> str:
        body = self.body[:400] + (b"...(%d bytes)" % len(self.body) if len(self.body) > 400 else b"")
        extra = f", garbage={self.garbage!r}" if self.garbage else ""
        return f"Req({self.prefix}.{self.name}, role={self.role}, envelope={self.envelope}{extra}, body={body!r})"


def gen_body(draw: Any, op: OperationModel) -> bytes:
    mode = draw(st.integers(0, 99))
    shape = op.input_shape
    if mode < 82:
        return json.dumps({} if shape is None else gen_structure(draw, shape, 0)).encode()
    if mode < 87:  # a valid body, broken
        text = json.dumps({} if shape is None else gen_structure(draw, shape, 0)).encode()
        # not integers(0, len(text)): the text holds ids picked from what the server
        # holds now, so its length can differ when hypothesis replays the case
        at = draw(st.integers(0, 1 << 16)) % (len(text) + 1)
        junk = draw(st.sampled_from([b"", b"\xff", b"\x00", b",", b"}", b'"', b"\\", b"\xc3"]))
        return text[:at] + junk + (text[at + 1 :] if draw(st.booleans()) else b"")
    if mode < 91:  # JSON, not an object
        return json.dumps(draw(WRONG)).encode()
    if mode < 96:
        return draw(st.sampled_from(RAW_BODIES))
    # non-UTF-8: latin-1 or UTF-16 text of a valid body
    text = json.dumps({} if shape is None else gen_structure(draw, shape, 0), ensure_ascii=False).replace('"', '"\xe9', 1)
    return text.encode(draw(st.sampled_from(["latin-1", "utf-16", "utf-16-le", "cp1252"])), "replace")


@st.composite
def fuzz_requests(draw: Any) -> Req:
    prefix, name, op = draw(st.sampled_from(OPS))
    req = Req(prefix, name, draw(st.sampled_from(ROLES)), gen_body(draw, op))
    if chance(draw, 15):
        req.envelope = draw(st.sampled_from(ENVELOPE_FAULTS))
        if req.envelope in ("target-garbage", "content-type-garbage", "auth-garbage"):
            # printable Latin-1: what an HTTP parser passes on (control bytes never reach the app)
            req.garbage = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80).map(lambda s: "".join(c for c in s if not 0x80 <= ord(c) < 0xA0)))
    return req


# -- the client: signing, sending, checking ---------------------------------------------
class FuzzFailure(AssertionError):
    """A wrong answer. Each kind of failure is its own subclass, so that hypothesis
    shrinks and reports each kind separately rather than only the simplest one."""


_KINDS: dict[str, type[FuzzFailure]] = {}


def failure(kind: str, report: str) -> FuzzFailure:
    if kind not in _KINDS:
        _KINDS[kind] = type("FuzzFailure_" + re.sub(r"\W+", "_", kind).strip("_")[:80], (FuzzFailure,), {})
    return _KINDS[kind](report)


@dataclass
class Stats:
    started: float = field(default_factory=time.perf_counter)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    operations: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status)
    envelopes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # distinct failure -> first example

    def count(self, name: str, status: int, envelope: str = "signed") -> None:
        self.requests += 1
        self.statuses[status] += 1
        self.operations[name, status] += 1
        self.envelopes[envelope] += 1

    def summary(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        return {
            "requests": self.requests,
            "elapsed_s": round(elapsed, 1),
            "requests_per_s": round(self.requests / elapsed, 1) if elapsed else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "codes": dict(self.codes.most_common()),
            "operations": {op: {str(s): n for (o, s), n in sorted(self.operations.items()) if o == op} for op in sorted({o for o, _ in self.operations})},
            "envelope_faults": sum(v for k, v in self.envelopes.items() if k != "signed"),
            "failures": len(self.failures),
            "failure_examples": list(self.failures.values())[:20],
        }


class Client:
    def __init__(self, server: Any, revoked: tuple[str, str]) -> None:
        self.server = server
        self.revoked = revoked
        host, port = server.url.removeprefix("http://").split(":")
        self.pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=urllib3.Timeout(connect=10, read=120))
        self.stats = Stats()

    # signing
    def headers(self, req: Req) -> tuple[dict[str, str], bytes]:
        """Signed headers for ``req`` with its envelope fault applied, and the body sent."""
        fault, body, op = req.envelope, req.body, f"{req.prefix}.{req.name}"
        other = model.FACEPRINT_PREFIX if req.prefix == model.REKOGNITION_PREFIX else model.REKOGNITION_PREFIX
        target = {
            "empty-target": "", "target-no-dot": req.prefix, "target-unknown-op": f"{req.prefix}.NoSuchOperation",
            "target-unknown-prefix": f"DynamoDB_20120810.{req.name}", "target-wrong-prefix": f"{other}.{req.name}",
            "target-model-only": f"{model.REKOGNITION_PREFIX}.{UNIMPLEMENTED}", "target-lowercase": op.lower(), "target-garbage": req.garbage,
        }.get(fault, op)  # fmt: skip
        content_type = {
            "content-type-json": "application/json", "content-type-garbage": req.garbage,
            "content-type-1.0": "application/x-amz-json-1.0", "content-type-charset": JSON_TYPE + "; charset=utf-8",
        }.get(fault, JSON_TYPE)  # fmt: skip
        headers = {"Content-Type": content_type, "X-Amz-Target": target, "amz-sdk-invocation-id": str(uuid.uuid4())}
        for name, faults in (("X-Amz-Target", ("no-target", "target-unsigned")), ("Content-Type", ("no-content-type",))):
            if fault in faults:
                del headers[name]
        key_id, secret = self.revoked if fault == "revoked-key" else self.server.keys[req.role]
        secret = secret[::-1] + "x" if fault == "wrong-secret" else secret
        key_id = "FPAK" + uuid.uuid4().hex[:16].upper() if fault == "unknown-key" else key_id
        service = SIGNING_NAME[req.prefix]
        service = {"scope-other-service": "faceprint" if service == "rekognition" else "rekognition", "scope-unknown-service": "s3"}.get(fault, service)
        request = AWSRequest(method="POST", url=self.server.url + "/", data=body, headers=headers)
        signer = SigV4Auth(Credentials(key_id, secret), service, REGION)
        shift = {"stale-date": -20 * 60, "stale-day": -86400, "future-date": 20 * 60}.get(fault, 0)
        when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=shift)
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
            signer.add_auth(request)
        out = dict(request.headers.items())
        auth = out["Authorization"]
        out["Authorization"] = {
            "auth-garbage": req.garbage, "auth-truncated": auth[: len(auth) // 2],
            "auth-other-algorithm": auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            "auth-bad-scope": auth.replace("/aws4_request", "/aws5_request"),
            "auth-flipped-signature": auth[:-1] + ("0" if auth[-1] != "0" else "1"),
        }.get(fault, auth)  # fmt: skip
        if fault == "target-unsigned":
            out["X-Amz-Target"] = op
        elif fault == "no-auth":
            del out["Authorization"]
        elif fault == "garbage-date":
            out["X-Amz-Date"] = "yesterday"
        elif fault == "dropped-signed-header":
            del out["amz-sdk-invocation-id"]
        return out, body + b" " if fault == "tampered-body" else body

    def send(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        r = self.pool.urlopen("POST", "/", body=body, headers=headers, retries=False, preload_content=True)
        return r.status, r.data, r.headers.get("x-amzn-RequestId", "")

    # checking
    def exchange(self, req: Req) -> FuzzFailure | None:
        """Send ``req``; what is wrong with the answer, or None."""
        headers, body = self.headers(req)
        log_at = self.server.log.stat().st_size
        status, data, request_id = self._send_counted(req, headers, body)
        if req.envelope == "replayed" and status < 500:
            first = self.check(req, status, data, log_at, request_id, refused=False)
            if first is not None:
                return first
            status, data, request_id = self._send_counted(req, headers, body)  # the same signature again
        refused = req.envelope not in ("signed", *BENIGN)
        return self.check(req, status, data, log_at, request_id, refused=refused)

    def _send_counted(self, req: Req, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        try:
            status, data, request_id = self.send(headers, body)
        except urllib3.exceptions.HTTPError as exc:
            status, data, request_id = 599, f"no answer: {exc!r}".encode(), ""
        self.stats.count(req.name, status, req.envelope)
        return status, data, request_id

    def check(self, req: Req, status: int, data: bytes, log_at: int, request_id: str, *, refused: bool) -> FuzzFailure | None:
        op = model.operation(req.prefix, req.name)
        problem, code = None, None
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            code = answer.get("__type")
        self.stats.codes[code if isinstance(code, str) else ("OK" if status == 200 else "?")] += 1
        if status >= 500:
            problem = f"status {status}"
        elif not isinstance(answer, dict):
            problem = "the body is not a JSON object"
        elif status >= 400 and not (isinstance(code, str) and code):
            problem = "an error without a __type"
        elif status == 200 and refused:
            problem = f"envelope fault {req.envelope} was accepted"
        elif status == 200 and op is not None:
            try:
                model.check_output(op, answer)
            except InvalidParameter as exc:
                problem = f"the response does not fit {req.name}'s output shape: {exc}"
            self.learn(req, answer)
        if problem is None:
            return None
        if status >= 500:
            time.sleep(0.3)  # a crash outside the gateway is logged after the answer is sent
        logged = self.log_error(log_at, request_id)
        # a kind of failure: the problem, and for a crash the exception and the line that raised it
        frames = re.findall(r'File "([^"]+)", line (\d+)', logged)
        raised = re.findall(r"^(\w+(?:Error|Exception))\b", logged, re.M)
        where = f"{raised[-1]} {Path(frames[-1][0]).name}:{frames[-1][1]}" if raised and frames else ""
        kind = f"status {status} {where}" if status >= 500 else problem[:60]
        report = f"{problem}: {req!r}\n-> {status} {data[:600]!r}\nserver log: {logged}"
        self.stats.failures.setdefault(f"{req.name}: {kind}", report)
        return failure(kind, report)

    def learn(self, req: Req, answer: dict[str, Any]) -> None:
        """Remember the objects a successful call made, for later requests to hit."""
        try:
            params = json.loads(req.body)
        except ValueError:
            return
        if req.name == "CreateCollection":
            KNOWN.add("collections", params.get("CollectionId"))
        elif req.name == "CreateUser":
            KNOWN.add("user_ids", params.get("UserId"))
        elif req.name == "CreateAccessKey":
            KNOWN.add("key_ids", answer.get("AccessKeyId"))
        elif req.name == "AddConsent":
            KNOWN.add("subjects", params.get("Subject"))
        elif req.name == "IndexFaces":
            for record in answer.get("FaceRecords", []):
                KNOWN.add("face_ids", record["Face"].get("FaceId"))
                KNOWN.add("subjects", record["Face"].get("ExternalImageId"))

    def log_error(self, offset: int, request_id: str) -> str:
        """The server's error entries logged since ``offset`` (the traceback of a 5xx)."""
        try:
            with self.server.log.open("rb") as f:
                f.seek(offset)
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError as exc:
            return f"(unreadable: {exc})"
        errors = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                errors.append(line)
                continue
            if entry.get("level") in ("error", "critical") or "error" in entry:
                errors.append(f"{entry.get('msg')} request_id={entry.get('request_id')} op={entry.get('operation')}\n{entry.get('error', '')}"[-3000:])
        mine = [e for e in errors if request_id and request_id in e]
        return "\n".join(mine or errors[-2:]) or "(no error logged)"

    def get(self, path: str) -> tuple[int, Any]:
        r = self.pool.urlopen("GET", path, retries=False)
        try:
            return r.status, json.loads(r.data)
        except ValueError:
            return r.status, None


# -- the world the fuzz starts from ---------------------------------------------------
def _encode(pixels: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


def _bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    png = _encode(np.zeros((1, 1), np.uint8), "PNG")
    ihdr = bytearray(png[12:29])  # the IHDR chunk's type and data
    ihdr[4:12] = struct.pack(">II", width, height)
    return png[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def sample_images(faces: list[bytes]) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    gray = np.full((16, 16), 128, np.uint8)
    png = _encode(gray, "PNG")
    images = {
        "gray8.png": _encode(np.full((8, 8), 90, np.uint8), "PNG"),
        "gray64.jpg": _encode(np.full((64, 64), 128, np.uint8), "JPEG"),
        "noise48.png": _encode(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), "PNG"),
        "rgba16.png": _encode(np.full((16, 16, 4), 200, np.uint8), "PNG"),
        "u16.png": _encode(np.full((16, 16), 40000, np.uint16), "PNG"),
        "one.gif": _encode(np.zeros((1, 1), np.uint8), "GIF"),
        "gray16.bmp": _encode(gray, "BMP"),
        "gray16.tiff": _encode(gray, "TIFF"),
        "gray16.webp": _encode(gray, "WEBP"),
        "bomb.png": _bomb_png(),
        "header-only.png": png[:33],
        "text.txt": b"not an image at all",
    }
    for i, face in enumerate(faces):
        images[f"face{i}.jpg"] = face
        images[f"face{i}-truncated.jpg"] = face[: len(face) // 3]
    return images


@pytest.fixture(scope="module")
def world(server) -> tuple[str, str]:
    """Two real collections (one with faces and a user), a consent record, files in the
    server's bucket, and a revoked key; returns the revoked key."""
    try:
        faces = [p.read_bytes() for p in lfw_images(2)]
    except pytest.skip.Exception:  # no real data: generated images only
        faces = []
    KNOWN.images = sample_images(faces)
    rek = server.client("admin", retries={"max_attempts": 1})
    fp = server.client("admin", service="faceprint", retries={"max_attempts": 1})
    full, empty = unique("fuzz"), unique("fuzz")
    rek.create_collection(CollectionId=full, Tags={operations.CONSENT_TAG: "false", operations.PURPOSE_TAG: "fuzz tests"})
    rek.create_collection(CollectionId=empty)
    for name in (full, empty):
        KNOWN.add("collections", name)
    for i, face in enumerate(faces):
        subject = unique("fuzz-subject")
        KNOWN.add("subjects", subject)
        for record in rek.index_faces(CollectionId=full, Image={"Bytes": face}, ExternalImageId=subject)["FaceRecords"]:
            KNOWN.add("face_ids", record["Face"]["FaceId"])
    user = unique("fuzz-user")
    rek.create_user(CollectionId=full, UserId=user)
    KNOWN.add("user_ids", user)
    if KNOWN.face_ids:
        rek.associate_faces(CollectionId=full, UserId=user, FaceIds=KNOWN.face_ids[:1])
    fp.add_consent(Subject=KNOWN.subjects[0] if KNOWN.subjects else unique("fuzz-subject"), Basis="consent", Purpose="fuzz tests")
    prefix = unique("fuzz")
    (server.bucket / f"{prefix}-dir").mkdir()
    files = {f"{prefix}-face.jpg": (faces or [KNOWN.images["gray64.jpg"]])[0], f"{prefix}-gray.png": KNOWN.images["gray8.png"], f"{prefix}-text.txt": b"text", f"{prefix}-dir/inner.png": KNOWN.images["noise48.png"]}
    for name, data in files.items():
        (server.bucket / name).write_bytes(data)
    KNOWN.s3_names = [*files, f"{prefix}-dir", "missing.jpg", "../outside.jpg", "/etc/passwd", "..", ".", f"{prefix}-dir/../{prefix}-face.jpg", "a\x00b.jpg", "\ud800.jpg", "x" * 1024, "é.jpg", f"{prefix}-face.jpg/"]
    key = fp.create_access_key(Role="searcher", Purpose="fuzz: revoked at once")
    fp.revoke_access_key(AccessKeyId=key["AccessKeyId"])
    return key["AccessKeyId"], key["SecretAccessKey"]


# -- the tests --------------------------------------------------------------------------
def test_every_operation_is_fuzzed() -> None:
    assert {name for _, name, _ in OPS} == set(operation_table.operations())


def oversize(client: Client, name: str, *, chunked: bool) -> tuple[int, Any]:
    """A ~9 MiB body on a fresh connection (the server may close it before reading all)."""
    headers, _ = client.headers(Req(model.REKOGNITION_PREFIX, name, "admin", b"{}"))
    body = b'{"Image": {"Bytes": "' + b"A" * (DEFAULT_MAX_BODY + (1 << 20)) + b'"}}'
    headers = {k: v for k, v in headers.items() if k != "Content-Length"}
    pool = urllib3.HTTPConnectionPool(client.pool.host, client.pool.port, maxsize=1, retries=False, timeout=60)
    try:
        payload: Any = (body[i : i + (1 << 16)] for i in range(0, len(body), 1 << 16)) if chunked else body
        r = pool.urlopen("POST", "/", body=payload, headers=headers, retries=False, chunked=chunked)
        status, data = r.status, r.data
    except urllib3.exceptions.HTTPError as exc:  # refused before the body was all sent
        status, data = 0, repr(exc).encode()
    finally:
        pool.close()
    client.stats.count(name, status, "oversize")
    try:
        answer = json.loads(data)
    except ValueError:
        answer = data[:300]
    client.stats.codes[answer.get("__type", "?") if isinstance(answer, dict) else "?"] += 1
    return status, answer


def test_fuzz_api(server, world) -> None:
    client = Client(server, revoked=world)
    after: dict[str, Any] = {}
    try:
        for name, chunked in (("DetectFaces", False), ("ListCollections", False), ("IndexFaces", True)):
            status, answer = oversize(client, name, chunked=chunked)
            want = "ImageTooLargeException" if name in ("DetectFaces", "IndexFaces") else "RequestEntityTooLargeException"
            assert status == 413 and isinstance(answer, dict) and answer.get("__type") == want, (name, chunked, status, answer)

        @settings(max_examples=REQUESTS, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck), print_blob=True)
        @given(req=fuzz_requests())
        def fuzz(req: Req) -> None:
            note(repr(req))
            wrong = client.exchange(req)
            if wrong is not None and not KEEP_GOING:
                raise wrong

        fuzz()
    finally:
        after = health_after(server, client)
        summary = {**client.stats.summary(), **after}
        print("\nfuzz summary: " + json.dumps(summary, indent=1))
        if path := os.environ.get("FACEPRINT_FUZZ_SUMMARY"):
            Path(path).write_text(json.dumps(summary, indent=1))
    assert after == {"health": 200, "ready": True, "list_collections": True}
    assert not client.stats.failures, "\n\n".join(client.stats.failures.values())


def health_after(server: Any, client: Client) -> dict[str, Any]:
    try:
        health, _ = client.get("/health")
        _, ready = client.get("/ready")
        listed = "CollectionIds" in server.client("admin", retries={"max_attempts": 1}).list_collections()
    except Exception as exc:  # noqa: BLE001 - reported, and failed, by the caller
        return {"health": f"{exc!r}", "ready": False, "list_collections": False}
    return {"health": health, "ready": bool(ready and ready.get("ready")), "list_collections": listed}
