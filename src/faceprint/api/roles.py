"""Which role may call which operation.

Four roles, from the least to the most trusted. A searcher identifies people and
cannot change or list what is stored; an indexer enrols people (consent first) and
cannot search; an auditor reads the audit log only; an admin does everything,
including creating collections (each declares its purpose) and issuing keys.
"""

from __future__ import annotations

_SEE = {"ListCollections", "DescribeCollection", "ListTagsForResource", "DetectFaces", "WhoAmI"}
_VIDEO = {"UploadVideo", "StartFaceDetection", "GetFaceDetection"}
_WATCH = {"StartFaceSearch", "GetFaceSearch", "ListStreamProcessors", "DescribeStreamProcessor", "StreamProcessorEvents"}
# a verification app: liveness before it compares a selfie with an ID photo
_LIVENESS = {"CreateFaceLivenessSession", "GetLivenessChallenge", "PutLivenessFrames", "GetFaceLivenessSessionResults"}
SEARCHER = _SEE | _VIDEO | _WATCH | _LIVENESS | {"CompareFaces", "SearchFaces", "SearchFacesByImage", "SearchUsers", "SearchUsersByImage"}
INDEXER = _SEE | _VIDEO | {
    "IndexFaces",
    "ListFaces",
    "DeleteFaces",
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "AssociateFaces",
    "DisassociateFaces",
    "AddConsent",
    "ListConsent",
}
AUDITOR = {"WhoAmI", "ListAuditEvents", "VerifyAuditLog"}
ADMIN_ONLY = {
    "CreateCollection",
    "DeleteCollection",
    "RevokeConsent",
    "EraseSubject",
    "PurgeExpired",
    "CreateAccessKey",
    "ListAccessKeys",
    "RevokeAccessKey",
    "CreateStreamProcessor",
    "StartStreamProcessor",
    "StopStreamProcessor",
    "DeleteStreamProcessor",
}
ADMIN = SEARCHER | INDEXER | AUDITOR | ADMIN_ONLY

ALLOWED: dict[str, frozenset[str]] = {
    "admin": frozenset(ADMIN),
    "indexer": frozenset(INDEXER),
    "searcher": frozenset(SEARCHER),
    "auditor": frozenset(AUDITOR),
}


def allows(role: str, operation: str) -> bool:
    return operation in ALLOWED.get(role, frozenset())
