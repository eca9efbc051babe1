"""Every error an operation answers is one its service model declares for it.

An unmodified SDK client builds its modelled exceptions from the model:
``except rek.exceptions.ConflictException`` catches only what the model says CreateUser
raises, so an error code the model does not list for an operation slips past the
caller's handling. This test walks every operation the server implements, against the
running server, in the states that make each error happen:

- **absent**: every id names a resource that does not exist;
- **present**: ids name existing resources (a collection with faces, a user, a stopped
  stream processor, a liveness session...), each call made twice, so a second create
  meets the first;
- **bad**: an image, a video, a frame or a page token that is not one;
- **special**: states that take set-up: a user holding the most faces a user may hold.

Each code answered must be declared for the operation in botocore's Rekognition model
(faceprint's own model for FaceprintService operations), or be one of the errors AWS
answers for any operation (authentication, throttling, access). No call may answer
InternalServerError. Operations that delete run after the others, so they do not
remove what the others need.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore import xform_name
from botocore.utils import ArgumentGenerator

from faceprint.api import operation_table
from faceprint.api.model import FACEPRINT_PREFIX, REKOGNITION_PREFIX, service_models
from faceprint.types import Box, NewFace
from faceprint.store.users import MAX_FACES_PER_USER
from tests.api.conftest import DATA, lfw_images, unique

pytestmark = pytest.mark.data

# What AWS answers for any operation, whatever its model lists: the request's
# authentication and protocol, the caller's access, the service's capacity.
COMMON = {
    "AccessDeniedException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "InternalServerError",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "SerializationException",
    "UnknownOperationException",
    "UnsupportedMediaTypeException",
    "RequestEntityTooLargeException",
    "RequestTimeoutException",
}
DESTRUCTIVE_PREFIXES = ("Delete", "Erase", "Revoke", "Disassociate", "Purge", "Untag", "Stop")
ZERO_ID = "00000000-0000-0000-0000-000000000000"
# optional members without which an operation only answers InvalidParameterException
OPTIONAL = {"SearchUsers": ("FaceId",)}


def _declared(op: str) -> tuple[str, set[str]]:
    for prefix, model in service_models().items():
        if op in model.operation_names:
            return prefix, {e.name for e in model.operation_model(op).error_shapes}
    raise AssertionError(f"{op} has a handler but is in no service model")


class World:
    """What exists on the server for the 'present' state, made once."""

    def __init__(self, server: Any) -> None:
        # unvalidated, so that bad values reach the server; unretried, to see each answer
        raw = {"parameter_validation": False, "retries": {"mode": "standard", "total_max_attempts": 1}, "read_timeout": 60}
        self.rek = server.client("admin", **raw)
        self.fp = server.client("admin", service="faceprint", **raw)
        for client in (self.rek, self.fp):  # a call repeated in the same second is still a new call, not a replay
            client.meta.events.register("before-sign", _nonce)
        photos = lfw_images(2)
        self.jpeg, self.other_jpeg = photos[0].read_bytes(), photos[1].read_bytes()
        self.purpose = "declared errors"
        self.collection = unique("declared")
        tags = {"faceprint:consent-required": "false", "faceprint:purpose": self.purpose}
        self.rek.create_collection(CollectionId=self.collection, Tags=tags)
        self.face = self.rek.index_faces(CollectionId=self.collection, Image={"Bytes": self.jpeg}, ExternalImageId="alice")["FaceRecords"][0]["Face"]["FaceId"]
        self.other_face = self.rek.index_faces(CollectionId=self.collection, Image={"Bytes": self.other_jpeg}, ExternalImageId="other")["FaceRecords"][0]["Face"]["FaceId"]
        self.user = "declared-user"
        self.rek.create_user(CollectionId=self.collection, UserId=self.user)
        self.rek.associate_faces(CollectionId=self.collection, UserId=self.user, FaceIds=[self.face])
        self.fp.add_consent(Subject="alice", Basis="consent", Purpose=self.purpose, CollectionId=self.collection)
        self.stream_arn = "arn:aws:kinesisvideo:local:000000000000:stream/door/1"
        self.has_stream = (DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4").is_file()
        self.processor = unique("declared-proc")
        if self.has_stream:
            self.rek.create_stream_processor(**self.processor_params(self.processor))
        self.session = self.rek.create_face_liveness_session()["SessionId"]
        self.key = self.fp.create_access_key(Role="auditor", Purpose=self.purpose)["AccessKeyId"]
        self.full_collection, self.full_user, self.spare_face = self._full_user(server)

    def processor_params(self, name: str) -> dict[str, Any]:
        return {
            "Name": name,
            "Input": {"KinesisVideoStream": {"Arn": self.stream_arn}},
            "Output": {"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
            "Settings": {"FaceSearch": {"CollectionId": self.collection}},
            "RoleArn": "arn:aws:iam::000000000000:role/faceprint",
        }

    def _full_user(self, server: Any) -> tuple[str, str, str]:
        """A user holding as many faces as a user may: the faces are written through the
        store (another process, as the CLI would) with one person's vector plus noise,
        then associated over the wire."""
        name = unique("declared-full")
        self.rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false", "faceprint:purpose": self.purpose})
        with server.open_store() as store:
            base = store.faces.vector(self.collection, self.face)
            rng = np.random.default_rng(0)
            vecs = base + 0.01 * rng.normal(size=(MAX_FACES_PER_USER + 1, len(base))).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            model = store.collections.model(self.collection)
            stored = store.faces.add(name, [NewFace(v, Box(0.1, 0.1, 0.5, 0.5), 99.0, "img", "full") for v in vecs], model=model)
        ids = [s.face_id for s in stored]
        self.rek.create_user(CollectionId=name, UserId="full")
        done = self.rek.associate_faces(CollectionId=name, UserId="full", FaceIds=ids[:MAX_FACES_PER_USER])
        assert len(done["AssociatedFaces"]) == MAX_FACES_PER_USER, done["UnsuccessfulFaceAssociations"][:3]
        return name, "full", ids[-1]


def _nonce(request: Any, **_: Any) -> None:
    request.headers["x-faceprint-test-nonce"] = uuid.uuid4().hex


def _values(w: World, state: str) -> dict[str, Callable[[], Any]]:
    """Member name -> its value in a state ('absent' or 'present')."""
    present = state == "present"
    image = {"Bytes": w.jpeg}
    return {
        "CollectionId": lambda: w.collection if present else unique("absent"),
        "UserId": lambda: w.user if present else "absent-user",
        "FaceId": lambda: w.face if present else ZERO_ID,
        "FaceIds": lambda: [w.other_face] if present else [ZERO_ID],
        "Image": lambda: image,
        "SourceImage": lambda: image,
        "TargetImage": lambda: image,
        "ExternalImageId": lambda: "alice" if present else "nobody-at-all",
        "Subject": lambda: "alice" if present else "nobody-at-all",
        "Basis": lambda: "consent",
        "Purpose": lambda: w.purpose,
        "Role": lambda: "auditor",
        "AccessKeyId": lambda: w.key if present else "FPAKABSENT",
        "ResourceArn": lambda: f"arn:aws:rekognition:local:000000000000:collection/{w.collection if present else 'absent'}",
        "Name": lambda: w.processor if present else unique("absent-processor"),
        "JobId": lambda: "absent-job",
        "SessionId": lambda: w.session if present else ZERO_ID,
        "Video": lambda: {"S3Object": {"Bucket": "photos", "Name": "absent.mp4"}},
        "Frames": lambda: [{"Bytes": w.jpeg, "TimestampMillis": 0}],
        "Bytes": lambda: b"not a video",
        "Input": lambda: {"KinesisVideoStream": {"Arn": w.stream_arn if present else "arn:aws:kinesisvideo:local:000000000000:stream/absent/1"}},
        "Output": lambda: {"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
        "Settings": lambda: {"FaceSearch": {"CollectionId": w.collection}},
        "RoleArn": lambda: "arn:aws:iam::000000000000:role/faceprint",
        "Tags": lambda: {"faceprint:consent-required": "false", "faceprint:purpose": w.purpose},
        "TagKeys": lambda: ["team"],
    }


def _params(w: World, op: str, state: str) -> dict[str, Any]:
    prefix, _ = _declared(op)
    shape = service_models()[prefix].operation_model(op).input_shape
    if shape is None:
        return {}
    values = _values(w, state)
    out: dict[str, Any] = {}
    for member in [*shape.required_members, *OPTIONAL.get(op, ())]:
        if member in values:
            out[member] = values[member]()
        else:  # an operation this test has no value for yet: the model's own skeleton
            out[member] = ArgumentGenerator(use_member_names=True).generate_skeleton(shape.members[member])
    if op == "UploadVideo":
        out["Name"] = unique("upload") + ".mp4" if state == "absent" else "declared-upload.mp4"
    return out


def _bad_variants(w: World, op: str) -> list[dict[str, Any]]:
    """Requests whose one member is not what it claims to be."""
    prefix, _ = _declared(op)
    shape = service_models()[prefix].operation_model(op).input_shape
    if shape is None:
        return []
    base = _params(w, op, "present")
    swaps = {
        "Image": {"Bytes": b"this is not an image"},
        "SourceImage": {"Bytes": b"this is not an image"},
        "Video": {"S3Object": {"Bucket": "no-such-bucket", "Name": "x.mp4"}},
        "Frames": [{"Bytes": b"this is not an image", "TimestampMillis": 0}],
        "NextToken": "not-a-token-this-server-issued",
    }
    return [{**base, member: value} for member, value in swaps.items() if member in shape.members]


def _call(w: World, op: str, params: dict[str, Any]) -> str:
    prefix, _ = _declared(op)
    client = w.rek if prefix == REKOGNITION_PREFIX else w.fp
    try:
        result = getattr(client, xform_name(op))(**params)
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    for value in result.values():  # an event stream: do not hold the connection
        if hasattr(value, "close"):
            value.close()
    return "ok"


def test_every_error_answered_is_declared_for_its_operation(server):
    w = World(server)
    ops = sorted(operation_table.operations(), key=lambda op: (op.startswith(DESTRUCTIVE_PREFIXES), op == "DeleteCollection", op))
    seen: dict[str, set[str]] = {op: set() for op in ops}
    for op in ops:
        if op == "StartStreamProcessor":
            seen[op].add(_call(w, op, _params(w, op, "absent")))
            continue  # a present one would start reading the stream
        for params in (_params(w, op, "absent"), _params(w, op, "present"), _params(w, op, "present"), *_bad_variants(w, op)):
            seen[op].add(_call(w, op, params))
    seen["AssociateFaces"].add(_call(w, "AssociateFaces", {"CollectionId": w.full_collection, "UserId": w.full_user, "FaceIds": [w.spare_face]}))

    undeclared = {}
    for op, codes in seen.items():
        prefix, declared = _declared(op)
        extra = codes - declared - COMMON - {"ok"}
        if extra:
            undeclared[op] = sorted(extra)
    faults = sorted(op for op, codes in seen.items() if "InternalServerError" in codes)
    assert not undeclared, f"errors answered but not declared by the {REKOGNITION_PREFIX}/{FACEPRINT_PREFIX} models: {undeclared}"
    assert not faults, f"operations that answered InternalServerError: {faults}"
    # the walk reached the errors it is meant to reach
    assert "ServiceQuotaExceededException" in seen["AssociateFaces"] and "ConflictException" in seen["CreateUser"], seen
    assert "InvalidImageFormatException" in seen["DetectFaces"] and "ResourceNotFoundException" in seen["DescribeCollection"]


def test_a_second_create_user_is_a_conflict_exception_for_boto3(server):
    """boto3's modelled exception for CreateUser's existing user is ConflictException."""
    rek = server.client("admin")
    name = unique("conflict")
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    rek.create_user(CollectionId=name, UserId="u1")
    with pytest.raises(rek.exceptions.ConflictException):
        rek.create_user(CollectionId=name, UserId="u1")
