"""One handler per operation: checked parameters in, a response body out.

Each handler is a few lines over :class:`faceprint.Service`; the response shapes come
from ``faceprint.rekognition.shapes``. Handlers run on the inference pool, never on the event loop.
Each is declared with ``@operation`` (operation_table.py): its name, the roles that may
call it and its flags. Operations the store does not already audit (not
``self_audited``) are recorded by the dispatcher, so every call is in the audit log
with the caller's key and declared purpose.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from faceprint.rekognition import shapes
from faceprint.api import roles
from faceprint.api.operation_table import operation
from faceprint.api.roles import ADMINS, AUDITORS, CONSENT_OFFICERS, EVERYONE, INDEXERS, SEARCHERS
from faceprint.api.errors import AccessDenied
from faceprint.api.guard import Caller, Guard
from faceprint.api.images import MAX_IMAGE_PIXELS, image_bytes
from faceprint.engine import DEFAULT_MIN_SIMILARITY
from faceprint.errors import InvalidParameter
from faceprint.service import Service
from faceprint.store import Store
from faceprint.store.tokens import decode_token, encode_token
from faceprint.video.processors import WEBHOOK_TAG

# Omitted thresholds take faceprint's calibrated default (40: one false match in 10,000
# pairs), not Rekognition's 80, which on this scale (1 in 10^8) would hide most mates.
DEFAULT = DEFAULT_MIN_SIMILARITY
PURPOSE_TAG = "faceprint:purpose"
CONSENT_TAG = "faceprint:consent-required"
RETENTION_TAG = "faceprint:retention-days"
GOVERNANCE_TAGS = (PURPOSE_TAG, CONSENT_TAG, RETENTION_TAG)
MAX_TAGS = 200  # per resource, as Rekognition
# Rekognition's collection and stream-processor ARNs: any partition, region and account
# name the one namespace of this server (its own ARNs use region "local").
RESOURCE_ARN = re.compile(r"arn:[a-z0-9-]+:rekognition:[a-z0-9-]*:\d{12}:(collection|streamprocessor)/([a-zA-Z0-9_.\-]{1,255})")


@dataclass
class Call:
    """One authorised call: the service, the checked parameters and the caller."""

    service: Service
    params: dict[str, Any]
    caller: Caller
    guard: Guard
    buckets: Mapping[str, Path]
    jobs: Any = None  # faceprint.video.jobs.VideoJobs
    processors: Any = None  # faceprint.video.processors.StreamProcessors
    liveness: Any = None  # faceprint.liveness.sessions.LivenessSessions
    collection: str | None = None  # what the audit entry names, when not CollectionId
    max_image_pixels: int = MAX_IMAGE_PIXELS  # ServerConfig.max_image_pixels

    @property
    def store(self) -> Store:
        """The store's parts, for the operations that need no engine."""
        return self.service.store

    def image(self, member: str = "Image") -> bytes:
        """The member's bytes, refused from the header when over the server's pixel limit."""
        return image_bytes(self.params[member], self.buckets, max_pixels=self.max_image_pixels)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


# -- images, 1:1 ----------------------------------------------------------------
@operation("DetectFaces", roles=SEARCHERS | INDEXERS, takes_image=True)
def detect_faces(call: Call) -> dict[str, Any]:
    svc = call.service
    members = _measured_attributes(call, "Attributes")
    pixels = svc.engine.load(call.image())
    h, w = pixels.shape[:2]
    faces = svc.engine.analyzer.detect(pixels)
    attrs = svc.engine.analyzer.attributes(pixels, faces) if shapes.wants_mesh(members) else None
    return shapes.detect_faces(faces, (w, h), attrs, members)


@operation("CompareFaces", roles=SEARCHERS, self_audited=True, takes_image=True)
def compare_faces(call: Call) -> dict[str, Any]:
    svc = call.service
    source, target = svc.engine.load(call.image("SourceImage")), svc.engine.load(call.image("TargetImage"))
    result = svc.compare_faces(source, target, min_similarity=call.get("SimilarityThreshold", DEFAULT), quality_filter_level=call.get("QualityFilter", "NONE"))
    return shapes.compare_faces(result, _wh(source), _wh(target))


def _measured_attributes(call: Call, member: str) -> list[str]:
    """An Attributes list (DetectFaces) or DetectionAttributes (IndexFaces), refused
    when it asks for what faceprint does not estimate: a client that asked for AgeRange
    would otherwise fail later, reading a member that is not there."""
    asked: list[str] = call.get(member) or ["DEFAULT"]
    missing = [a for a in asked if a not in shapes.MEASURED_ATTRIBUTES]
    if missing:
        raise InvalidParameter(
            f"{member}: faceprint does not estimate {', '.join(missing)} (docs/attributes.md says why). "
            "It measures DEFAULT (BoundingBox, Confidence, Landmarks, Pose, Quality), EYES_OPEN, MOUTH_OPEN and EYE_DIRECTION; ALL gives all of these"
        )
    return asked


# -- collections ------------------------------------------------------------------
@operation("CreateCollection", roles=ADMINS, self_audited=True)
def create_collection(call: Call) -> dict[str, Any]:
    """Governance rides on tags, so unmodified clients can set it: ``faceprint:purpose``
    (default: the caller's declared purpose), ``faceprint:consent-required`` (default
    true) and ``faceprint:retention-days``. Other tags are kept as given."""
    tags = check_tags(call.get("Tags", {}))
    _no_unknown_faceprint_tags(tags, GOVERNANCE_TAGS, "a collection")
    consent = tags.get(CONSENT_TAG, "true").lower()
    if consent not in ("true", "false"):
        raise InvalidParameter(f"tag {CONSENT_TAG} must be true or false")
    retention = tags.get(RETENTION_TAG)
    try:
        days = None if retention is None else float(retention)
    except ValueError:
        raise InvalidParameter(f"tag {RETENTION_TAG} must be a number of days") from None
    purpose = tags.get(PURPOSE_TAG, call.caller.key.purpose)
    own = {k: v for k, v in tags.items() if k not in GOVERNANCE_TAGS}
    governance = 2 + (days is not None)
    if len(own) + governance > MAX_TAGS:
        raise InvalidParameter(f"a collection holds at most {MAX_TAGS} tags, {PURPOSE_TAG} and {CONSENT_TAG} (and {RETENTION_TAG} when set) among them")
    info = call.service.create_collection(call.params["CollectionId"], purpose=purpose, consent_required=consent == "true", max_age_days=days, tags=own)
    return shapes.create_collection(info)


@operation("DeleteCollection", roles=ADMINS, self_audited=True)
def delete_collection(call: Call) -> dict[str, Any]:
    call.store.collections.delete(call.params["CollectionId"])
    return {"StatusCode": 200}


@operation("DescribeCollection", roles=SEARCHERS | INDEXERS | CONSENT_OFFICERS)
def describe_collection(call: Call) -> dict[str, Any]:
    return shapes.describe_collection(call.store.collections.describe(call.params["CollectionId"]))


@operation("ListTagsForResource", roles=SEARCHERS | INDEXERS | CONSENT_OFFICERS)
def list_tags_for_resource(call: Call) -> dict[str, Any]:
    """A collection's tags with its governance among them, as CreateCollection takes
    it (so that an indexer can see which purpose consent must name); a stream
    processor's tags."""
    kind, name = _resource(call)
    if kind == "streamprocessor":
        if not roles.allows(call.caller.role, "DescribeStreamProcessor"):
            raise AccessDenied(f"role {call.caller.role} may not read stream processors")
        return {"Tags": _shown_tags(call.processors.tags(name), call.caller.role)}
    info = call.store.collections.describe(name)
    tags = {PURPOSE_TAG: info.purpose, CONSENT_TAG: "true" if info.consent_required else "false"}
    if info.max_age_days is not None:
        tags[RETENTION_TAG] = f"{info.max_age_days:g}"
    return {"Tags": {**call.store.collections.tags(name), **tags}}


@operation("TagResource", roles=ADMINS)
def tag_resource(call: Call) -> dict[str, Any]:
    """Add or replace tags. A collection's governance tags are fixed when it is created:
    changing its purpose or consent rule would reinterpret the consent and faces it holds."""
    kind, name = _resource(call)
    tags = check_tags(call.params["Tags"])
    if kind == "streamprocessor":
        call.processors.tag(name, tags)
        return {}
    _governance_is_fixed(tags)
    _no_unknown_faceprint_tags(tags, GOVERNANCE_TAGS, "a collection")
    info = call.store.collections.describe(name)
    call.store.collections.tag(name, tags, most=MAX_TAGS - 2 - (info.max_age_days is not None))
    return {}


@operation("UntagResource", roles=ADMINS)
def untag_resource(call: Call) -> dict[str, Any]:
    kind, name = _resource(call)
    keys = call.params["TagKeys"]
    if kind == "streamprocessor":
        call.processors.untag(name, keys)
        return {}
    _governance_is_fixed(keys)
    call.store.collections.untag(name, keys)
    return {}


def _shown_tags(tags: dict[str, str], role: str) -> dict[str, str]:
    """A processor's tags as ``role`` may see them: a webhook URL's path and query may hold
    a receiver's token, so only admins (who set it) read more than its scheme and host."""
    url = tags.get(WEBHOOK_TAG)
    if url is None or role == "admin":
        return tags
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: nothing worth showing
        port = ""
    return {**tags, WEBHOOK_TAG: f"{parts.scheme}://{parts.hostname or ''}{port}"}


def _resource(call: Call) -> tuple[str, str]:
    """(``collection`` or ``streamprocessor``, name) from the call's ResourceArn."""
    match = RESOURCE_ARN.fullmatch(call.params["ResourceArn"])
    if match is None:
        raise InvalidParameter(
            "ResourceArn must name a collection or a stream processor: arn:aws:rekognition:REGION:ACCOUNT:collection/NAME or "
            "arn:aws:rekognition:REGION:ACCOUNT:streamprocessor/NAME (any region and account; this server's own ARNs use local:000000000000)"
        )
    kind, name = match.groups()
    if kind == "collection":
        call.collection = name
    return kind, name


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """Rekognition's tag rules, which its model states as patterns Python's ``re`` cannot
    read (``\\p{L}``): keys not starting with ``aws:``; letters, digits, spaces and
    ``_.:/=+-@`` only. (Lengths and count are checked against the model already.)"""
    for key, value in tags.items():
        if key.startswith("aws:"):
            raise InvalidParameter(f"tag key {key[:128]!r}: keys starting with aws: are reserved")
        for text in (key, value):
            if not all(unicodedata.category(ch)[0] in "LZN" or ch in "_.:/=+-@" for ch in text):
                raise InvalidParameter(f"tag {key[:128]!r}: keys and values hold letters, digits, spaces and _.:/=+-@ only")
    return tags


def _governance_is_fixed(keys: Any) -> None:
    fixed = sorted(k for k in keys if k in GOVERNANCE_TAGS)
    if fixed:
        raise InvalidParameter(f"tag {fixed[0]} is set when a collection is created and cannot change; create a new collection for other governance")


def _no_unknown_faceprint_tags(tags: dict[str, str], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(k for k in tags if k.startswith("faceprint:") and k not in known)
    if unknown:
        raise InvalidParameter(f"tag {unknown[0]} is not one faceprint knows; {what} takes {', '.join(known)}")


@operation("ListCollections", roles=SEARCHERS | INDEXERS | CONSENT_OFFICERS)
def list_collections(call: Call) -> dict[str, Any]:
    names = sorted(call.store.collections.names())
    after = decode_token(call.get("NextToken"), "collections")
    if after is not None:
        names = [n for n in names if n > str(after)]
    limit = call.get("MaxResults", 1000)
    page, more = names[:limit], len(names) > limit
    models = [call.store.collections.model(n) for n in page]  # no face counting, unlike describe
    out: dict[str, Any] = {"CollectionIds": page, "FaceModelVersions": models}
    if more and page:
        out["NextToken"] = encode_token("collections", page[-1])
    return out


# -- faces ------------------------------------------------------------------------
@operation("IndexFaces", roles=INDEXERS, self_audited=True, takes_image=True)
def index_faces(call: Call) -> dict[str, Any]:
    members = _measured_attributes(call, "DetectionAttributes")
    # with mesh attributes the image is decoded here, once: they are measured on the same pixels
    pixels = call.service.engine.load(call.image()) if shapes.wants_mesh(members) else None
    result = call.service.index_faces(
        call.params["CollectionId"],
        call.image() if pixels is None else pixels,
        external_image_id=call.get("ExternalImageId"),
        max_faces=call.get("MaxFaces"),
        quality_filter_level=call.get("QualityFilter", "AUTO"),
    )
    if pixels is None:
        return shapes.index_faces(result)
    analyzer, decoded = call.service.engine.analyzer, pixels
    return shapes.index_faces(result, lambda face: analyzer.attributes(decoded, [face])[0], members)


@operation("ListFaces", roles=INDEXERS)
def list_faces(call: Call) -> dict[str, Any]:
    name = call.params["CollectionId"]
    faces, token = call.store.faces.page(
        name, user_id=call.get("UserId"), face_ids=call.get("FaceIds"), max_results=call.get("MaxResults", 1000), next_token=call.get("NextToken")
    )
    return shapes.list_faces(faces, token, call.store.collections.model(name))


@operation("DeleteFaces", roles=INDEXERS, self_audited=True)
def delete_faces(call: Call) -> dict[str, Any]:
    deleted, failed = call.store.faces.delete(call.params["CollectionId"], call.params["FaceIds"])
    return shapes.delete_faces(deleted, failed)


@operation("SearchFaces", roles=SEARCHERS, self_audited=True)
def search_faces(call: Call) -> dict[str, Any]:
    result = call.service.search_faces(
        call.params["CollectionId"], call.params["FaceId"], max_faces=call.get("MaxFaces", 10), min_similarity=call.get("FaceMatchThreshold", DEFAULT)
    )
    return shapes.search_faces(result)


@operation("SearchFacesByImage", roles=SEARCHERS, self_audited=True, takes_image=True)
def search_faces_by_image(call: Call) -> dict[str, Any]:
    result = call.service.search_faces_by_image(
        call.params["CollectionId"],
        call.image(),
        max_faces=call.get("MaxFaces", 10),
        min_similarity=call.get("FaceMatchThreshold", DEFAULT),
        quality_filter_level=call.get("QualityFilter", "NONE"),
    )
    return shapes.search_faces(result)


# -- users ------------------------------------------------------------------------
@operation("CreateUser", roles=INDEXERS, self_audited=True)
def create_user(call: Call) -> dict[str, Any]:
    # ClientRequestToken: a retry acts once; tokens are the calling key's own
    call.store.users.create(call.params["CollectionId"], call.params["UserId"], client_token=call.get("ClientRequestToken"), owner=call.caller.key_id)
    return {}


@operation("DeleteUser", roles=INDEXERS, self_audited=True)
def delete_user(call: Call) -> dict[str, Any]:
    call.store.users.delete(call.params["CollectionId"], call.params["UserId"], client_token=call.get("ClientRequestToken"), owner=call.caller.key_id)
    return {}


@operation("ListUsers", roles=INDEXERS)
def list_users(call: Call) -> dict[str, Any]:
    users, token = call.store.users.page(call.params["CollectionId"], max_results=call.get("MaxResults", 500), next_token=call.get("NextToken"))
    return shapes.list_users(users, token)


@operation("AssociateFaces", roles=INDEXERS, self_audited=True)
def associate_faces(call: Call) -> dict[str, Any]:
    name, user = call.params["CollectionId"], call.params["UserId"]
    done, failed = call.service.associate_faces(
        name, user, call.params["FaceIds"], min_similarity=call.get("UserMatchThreshold", DEFAULT), client_token=call.get("ClientRequestToken"), owner=call.caller.key_id
    )
    return shapes.associate_faces(done, failed, call.store.users.status(name, user))


@operation("DisassociateFaces", roles=INDEXERS, self_audited=True)
def disassociate_faces(call: Call) -> dict[str, Any]:
    name, user = call.params["CollectionId"], call.params["UserId"]
    done, failed = call.store.users.disassociate(name, user, call.params["FaceIds"], client_token=call.get("ClientRequestToken"), owner=call.caller.key_id)
    return shapes.disassociate_faces(done, failed, call.store.users.status(name, user))


@operation("SearchUsers", roles=SEARCHERS, self_audited=True)
def search_users(call: Call) -> dict[str, Any]:
    result = call.service.search_users(
        call.params["CollectionId"],
        user_id=call.get("UserId"),
        face_id=call.get("FaceId"),
        min_similarity=call.get("UserMatchThreshold", DEFAULT),
        max_users=call.get("MaxUsers", 10),
    )
    return shapes.search_users(result)


@operation("SearchUsersByImage", roles=SEARCHERS, self_audited=True, takes_image=True)
def search_users_by_image(call: Call) -> dict[str, Any]:
    result = call.service.search_users_by_image(
        call.params["CollectionId"],
        call.image(),
        min_similarity=call.get("UserMatchThreshold", DEFAULT),
        max_users=call.get("MaxUsers", 10),
        quality_filter_level=call.get("QualityFilter", "NONE"),
    )
    return shapes.search_users(result)


# -- faceprint's own: who am I, consent, erasure, audit, keys ----------------------
@operation("WhoAmI", roles=EVERYONE)
def who_am_i(call: Call) -> dict[str, Any]:
    key = call.caller.key
    return {"AccessKeyId": key.key_id, "Role": key.role, "Purpose": key.purpose, "Operations": sorted(roles.allowed(key.role))}


@operation("AddConsent", roles=CONSENT_OFFICERS, self_audited=True)
def add_consent(call: Call) -> dict[str, Any]:
    record = call.store.governance.add_consent(
        call.params["Subject"], basis=call.params["Basis"], purpose=call.params["Purpose"], expires=call.get("ExpiresAt"), collection=call.get("CollectionId")
    )
    return {"ConsentRecord": _consent(record)}


@operation("ListConsent", roles=INDEXERS | CONSENT_OFFICERS)
def list_consent(call: Call) -> dict[str, Any]:
    return {"ConsentRecords": [_consent(r) for r in call.store.governance.consent_records(call.get("Subject"))]}


@operation("RevokeConsent", roles=CONSENT_OFFICERS, self_audited=True)
def revoke_consent(call: Call) -> dict[str, Any]:
    return {"ErasedFaceCount": call.store.governance.revoke_consent(call.params["Subject"])}


@operation("EraseSubject", roles=ADMINS, self_audited=True)
def erase_subject(call: Call) -> dict[str, Any]:
    return {"ErasedFaceCount": call.store.governance.erase_subject(call.params["ExternalImageId"])}


@operation("PurgeExpired", roles=ADMINS, self_audited=True)
def purge_expired(call: Call) -> dict[str, Any]:
    return {"ErasedFaceCount": call.store.purge_expired()}


@operation("ListAuditEvents", roles=AUDITORS)
def list_audit_events(call: Call) -> dict[str, Any]:
    entries = call.store.audit.entries(
        collection=call.get("CollectionId"), action=call.get("Action"), actor=call.get("Actor"), since=call.get("Since"), limit=call.get("MaxResults", 100)
    )
    return {
        "AuditEvents": [
            _drop_none(
                {"Sequence": e.seq, "Timestamp": e.ts, "Actor": e.actor, "Action": e.action, "CollectionId": e.collection, "Purpose": e.purpose, "Count": e.count, "Detail": e.detail}
            )
            for e in entries
        ]
    }


@operation("VerifyAuditLog", roles=AUDITORS)
def verify_audit_log(call: Call) -> dict[str, Any]:
    report = call.store.audit.verify()
    return {"Valid": report.ok, "EntryCount": report.entries, "Problems": list(report.problems)}


@operation("CreateAccessKey", roles=ADMINS, self_audited=True)
def create_access_key(call: Call) -> dict[str, Any]:
    key, secret = call.store.keys.issue(call.params["Role"], call.params["Purpose"])
    return {"AccessKeyId": key.key_id, "SecretAccessKey": secret, "Role": key.role, "Purpose": key.purpose}


@operation("ListAccessKeys", roles=ADMINS)
def list_access_keys(call: Call) -> dict[str, Any]:
    return {"AccessKeys": [_key(k) for k in call.store.keys.list_all()]}


@operation("RevokeAccessKey", roles=ADMINS, self_audited=True)
def revoke_access_key(call: Call) -> dict[str, Any]:
    key = call.store.keys.revoke(call.params["AccessKeyId"])
    call.guard.forget_key(key.key_id)
    return {"AccessKey": _key(key)}


# -- helpers ----------------------------------------------------------------------
def _wh(pixels: Any) -> tuple[int, int]:
    h, w = pixels.shape[:2]
    return (w, h)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _consent(r: Any) -> dict[str, Any]:
    return _drop_none(
        {"ConsentId": r.id, "Subject": r.subject, "Basis": r.basis, "Purpose": r.purpose, "CollectionId": r.collection, "ExpiresAt": r.expires, "CreationTimestamp": r.created, "RevokedAt": r.revoked}
    )


def _key(k: Any) -> dict[str, Any]:
    return _drop_none(
        {"AccessKeyId": k.key_id, "Role": k.role, "Purpose": k.purpose, "Status": "ACTIVE" if k.active else "REVOKED", "CreationTimestamp": k.created, "RevokedAt": k.revoked}
    )
