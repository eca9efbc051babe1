"""ClientRequestToken on the user operations, as Rekognition documents it: a retry with
the same token gets the first call's answer and acts once; the same token with other
parameters is IdempotentParameterMismatchException."""

from __future__ import annotations

import pytest
from botocore.exceptions import ParamValidationError

from faceprint.api import model
from faceprint.errors import InvalidParameter
from tests.api.conftest import lfw_images, unique

pytestmark = pytest.mark.data


def _collection(rek) -> str:
    name = unique("tokens")
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    return name


def _entries(server, name: str, action: str) -> int:
    events = server.client("admin", service="faceprint").list_audit_events(CollectionId=name, Action=action, MaxResults=100)["AuditEvents"]
    return len(events)


def test_create_user_with_a_client_request_token_acts_once(server):
    rek = server.client("admin")
    name = _collection(rek)
    assert rek.create_user(CollectionId=name, UserId="u1", ClientRequestToken="create-u1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    # the SDK's (or the application's) retry after a lost answer: the same answer again
    assert rek.create_user(CollectionId=name, UserId="u1", ClientRequestToken="create-u1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _entries(server, name, "CreateUser") == 1
    with pytest.raises(rek.exceptions.IdempotentParameterMismatchException):
        rek.create_user(CollectionId=name, UserId="u2", ClientRequestToken="create-u1")
    with pytest.raises(rek.exceptions.ConflictException):  # a new token is a new call
        rek.create_user(CollectionId=name, UserId="u1", ClientRequestToken="create-u1-again")
    indexer = server.client("indexer")
    with pytest.raises(indexer.exceptions.ConflictException):  # tokens belong to the key that sent them
        indexer.create_user(CollectionId=name, UserId="u1", ClientRequestToken="create-u1")
    assert [u["UserId"] for u in rek.list_users(CollectionId=name)["Users"]] == ["u1"]


def test_associate_faces_with_a_client_request_token_acts_once(server):
    rek = server.client("admin")
    name = _collection(rek)
    face = rek.index_faces(CollectionId=name, Image={"Bytes": lfw_images(1)[0].read_bytes()}, ExternalImageId="p1")["FaceRecords"][0]["Face"]["FaceId"]
    rek.create_user(CollectionId=name, UserId="u1")
    first = rek.associate_faces(CollectionId=name, UserId="u1", FaceIds=[face], ClientRequestToken="assoc-1")
    again = rek.associate_faces(CollectionId=name, UserId="u1", FaceIds=[face], ClientRequestToken="assoc-1")
    for r in (first, again):
        r.pop("ResponseMetadata")
    assert again == first and first["AssociatedFaces"] == [{"FaceId": face}]
    assert _entries(server, name, "AssociateFaces") == 1
    with pytest.raises(rek.exceptions.IdempotentParameterMismatchException):
        rek.associate_faces(CollectionId=name, UserId="u1", FaceIds=[face], UserMatchThreshold=90, ClientRequestToken="assoc-1")


def test_delete_user_and_disassociate_faces_with_a_client_request_token_act_once(server):
    rek = server.client("admin")
    name = _collection(rek)
    face = rek.index_faces(CollectionId=name, Image={"Bytes": lfw_images(1)[0].read_bytes()}, ExternalImageId="p1")["FaceRecords"][0]["Face"]["FaceId"]
    rek.create_user(CollectionId=name, UserId="u1")
    rek.associate_faces(CollectionId=name, UserId="u1", FaceIds=[face])
    first = rek.disassociate_faces(CollectionId=name, UserId="u1", FaceIds=[face], ClientRequestToken="dis-1")
    again = rek.disassociate_faces(CollectionId=name, UserId="u1", FaceIds=[face], ClientRequestToken="dis-1")
    for r in (first, again):
        r.pop("ResponseMetadata")
    assert again == first and first["DisassociatedFaces"] == [{"FaceId": face}]
    assert _entries(server, name, "DisassociateFaces") == 1
    rek.delete_user(CollectionId=name, UserId="u1", ClientRequestToken="del-1")
    rek.delete_user(CollectionId=name, UserId="u1", ClientRequestToken="del-1")  # a retry after a lost answer
    assert _entries(server, name, "DeleteUser") == 1
    with pytest.raises(rek.exceptions.ResourceNotFoundException):  # a new token is a new call
        rek.delete_user(CollectionId=name, UserId="u1", ClientRequestToken="del-2")


def test_index_faces_takes_no_client_request_token(server):
    """The issue's row names IndexFaces too, but Rekognition's IndexFaces has no
    ClientRequestToken: boto3 refuses it before sending, and the server refuses the
    unknown member, so no token can make an IndexFaces act twice or once."""
    op = model.service_models()[model.REKOGNITION_PREFIX].operation_model("IndexFaces")
    assert "ClientRequestToken" not in op.input_shape.members
    with pytest.raises(ParamValidationError):
        server.client("admin").index_faces(CollectionId="x", Image={"Bytes": b"x"}, ClientRequestToken="t")
    with pytest.raises(InvalidParameter, match="ClientRequestToken"):
        model.check_input(op, {"CollectionId": "x", "Image": {"Bytes": "eA=="}, "ClientRequestToken": "t"})


def test_a_token_does_not_outlive_its_collection(server):
    """A collection deleted and made again under the same name is a new collection: a
    token from the first must not answer for it (the retry would succeed and do nothing)."""
    rek = server.client("admin")
    name = _collection(rek)
    rek.create_user(CollectionId=name, UserId="u1", ClientRequestToken="reborn")
    rek.delete_collection(CollectionId=name)
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    rek.create_user(CollectionId=name, UserId="u1", ClientRequestToken="reborn")
    assert [u["UserId"] for u in rek.list_users(CollectionId=name)["Users"]] == ["u1"]
