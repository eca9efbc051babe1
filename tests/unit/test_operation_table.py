"""The operation table: every operation declared once, with the same roles and flags.

``SNAPSHOT`` was taken from the four hand-kept lists the table replaced (roles.py's role
sets, operations.SELF_AUDITED, gateway.IMAGE_OPERATIONS and the ``@handler`` registry)
before they were removed; the table must give the same mapping, so the move to one table
changed no operation's roles, flags or handler.
"""

from __future__ import annotations

from typing import Any

import pytest

from faceprint.api import model, operation_table, roles
from faceprint.store import ROLES

# operation -> (roles that may call it, in faceprint.store.ROLES order; self-audited?;
# takes an image?; handler as module.function)
SNAPSHOT: dict[str, tuple[tuple[str, ...], bool, bool, str]] = {
    'AddConsent': (('admin', 'consent'), True, False, 'operations.add_consent'),
    'AssociateFaces': (('admin', 'indexer'), True, False, 'operations.associate_faces'),
    'CompareFaces': (('admin', 'searcher'), True, True, 'operations.compare_faces'),
    'CreateAccessKey': (('admin',), True, False, 'operations.create_access_key'),
    'CreateCollection': (('admin',), True, False, 'operations.create_collection'),
    'CreateFaceLivenessSession': (('admin', 'searcher'), False, False, 'liveness_operations.create_face_liveness_session'),
    'CreateStreamProcessor': (('admin',), True, False, 'video_operations.create_stream_processor'),
    'CreateUser': (('admin', 'indexer'), True, False, 'operations.create_user'),
    'DeleteCollection': (('admin',), True, False, 'operations.delete_collection'),
    'DeleteFaces': (('admin', 'indexer'), True, False, 'operations.delete_faces'),
    'DeleteStreamProcessor': (('admin',), True, False, 'video_operations.delete_stream_processor'),
    'DeleteUser': (('admin', 'indexer'), True, False, 'operations.delete_user'),
    'DescribeCollection': (('admin', 'indexer', 'searcher', 'consent'), False, False, 'operations.describe_collection'),
    'DescribeStreamProcessor': (('admin', 'searcher'), False, False, 'video_operations.describe_stream_processor'),
    'DetectFaces': (('admin', 'indexer', 'searcher'), False, True, 'operations.detect_faces'),
    'DisassociateFaces': (('admin', 'indexer'), True, False, 'operations.disassociate_faces'),
    'EraseSubject': (('admin',), True, False, 'operations.erase_subject'),
    'GetFaceDetection': (('admin', 'indexer', 'searcher'), False, False, 'video_operations.get_face_detection'),
    'GetFaceLivenessSessionResults': (('admin', 'searcher'), False, False, 'liveness_operations.get_face_liveness_session_results'),
    'GetFaceSearch': (('admin', 'searcher'), False, False, 'video_operations.get_face_search'),
    'GetLivenessChallenge': (('admin', 'searcher'), False, False, 'liveness_operations.get_liveness_challenge'),
    'GetStreamProcessorCounters': (('admin', 'searcher'), False, False, 'video_operations.get_stream_processor_counters'),
    'IndexFaces': (('admin', 'indexer'), True, True, 'operations.index_faces'),
    'ListAccessKeys': (('admin',), False, False, 'operations.list_access_keys'),
    'ListAuditEvents': (('admin', 'auditor'), False, False, 'operations.list_audit_events'),
    'ListCollections': (('admin', 'indexer', 'searcher', 'consent'), False, False, 'operations.list_collections'),
    'ListConsent': (('admin', 'indexer', 'consent'), False, False, 'operations.list_consent'),
    'ListFaces': (('admin', 'indexer'), False, False, 'operations.list_faces'),
    'ListStreamProcessors': (('admin', 'searcher'), False, False, 'video_operations.list_stream_processors'),
    'ListTagsForResource': (('admin', 'indexer', 'searcher', 'consent'), False, False, 'operations.list_tags_for_resource'),
    'ListUsers': (('admin', 'indexer'), False, False, 'operations.list_users'),
    'PurgeExpired': (('admin',), True, False, 'operations.purge_expired'),
    'PutLivenessFrames': (('admin', 'searcher'), False, False, 'liveness_operations.put_liveness_frames'),
    'RevokeAccessKey': (('admin',), True, False, 'operations.revoke_access_key'),
    'RevokeConsent': (('admin', 'consent'), True, False, 'operations.revoke_consent'),
    'SearchFaces': (('admin', 'searcher'), True, False, 'operations.search_faces'),
    'SearchFacesByImage': (('admin', 'searcher'), True, True, 'operations.search_faces_by_image'),
    'SearchUsers': (('admin', 'searcher'), True, False, 'operations.search_users'),
    'SearchUsersByImage': (('admin', 'searcher'), True, True, 'operations.search_users_by_image'),
    'StartFaceDetection': (('admin', 'indexer', 'searcher'), True, False, 'video_operations.start_face_detection'),
    'StartFaceSearch': (('admin', 'searcher'), True, False, 'video_operations.start_face_search'),
    'StartStreamProcessor': (('admin',), False, False, 'video_operations.start_stream_processor'),
    'StopStreamProcessor': (('admin',), False, False, 'video_operations.stop_stream_processor'),
    'StreamProcessorEvents': (('admin', 'searcher'), False, False, 'video_operations.stream_processor_events'),
    'TagResource': (('admin',), False, False, 'operations.tag_resource'),
    'UntagResource': (('admin',), False, False, 'operations.untag_resource'),
    'UpdateStreamProcessor': (('admin',), False, False, 'video_operations.update_stream_processor'),
    'UploadVideo': (('admin', 'indexer', 'searcher'), False, False, 'video_operations.upload_video'),
    'VerifyAuditLog': (('admin', 'auditor'), False, False, 'operations.verify_audit_log'),
    'WhoAmI': (('admin', 'indexer', 'searcher', 'auditor', 'consent'), False, False, 'operations.who_am_i'),
}


def _table() -> dict[str, tuple[tuple[str, ...], bool, bool, str]]:
    """The mapping as the operation table declares it now."""
    rows: dict[str, Any] = {}
    for name, op in operation_table.operations().items():
        assert op.name == name
        allowed = tuple(role for role in ROLES if role in op.roles)
        rows[name] = (allowed, op.self_audited, op.takes_image, op.handler.__module__.rsplit(".", 1)[1] + "." + op.handler.__name__)
    return rows


def _served() -> list[str]:
    return list(operation_table.operations())


def test_every_operation_keeps_its_roles_and_flags():
    assert _table() == SNAPSHOT


def test_every_operation_in_the_models_has_exactly_one_entry():
    models = model.service_models()
    faceprint_ops = set(models[model.FACEPRINT_PREFIX].operation_names)
    rekognition_ops = set(models[model.REKOGNITION_PREFIX].operation_names)
    served = _served()
    assert len(served) == len(set(served))
    # every faceprint operation is served; a served one is in exactly one of the models
    assert faceprint_ops <= set(served), sorted(faceprint_ops - set(served))
    for name in served:
        assert (name in faceprint_ops) + (name in rekognition_ops) == 1, name


def test_the_role_checks_read_the_table():
    for name, (allowed, *_) in SNAPSHOT.items():
        for role in ROLES:
            assert roles.allows(role, name) == (role in allowed), (role, name)
    for role in ROLES:
        assert roles.allowed(role) == {name for name, (allowed, *_) in SNAPSHOT.items() if role in allowed}
    assert not roles.allows("admin", "NoSuchOperation") and roles.allowed("root") == frozenset()


def test_an_operation_cannot_be_declared_twice():
    with pytest.raises(ValueError, match="declared twice"):
        operation_table.operation("WhoAmI", roles=roles.EVERYONE)(lambda call: {})
    assert operation_table.find("WhoAmI").handler.__name__ == "who_am_i"
