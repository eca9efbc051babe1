"""Which role may call which operation.

Five roles. A searcher identifies people and cannot change or list what is stored; an
indexer enrols people and cannot search; a consent officer records and revokes the
subjects' consent and does nothing else, so the key that enrols faces never vouches for
the consent that allows it (separation of duties); an auditor reads the audit log only;
an admin does everything, including creating collections (each declares its purpose)
and issuing keys. docs/api.md's role table lists the same sets
(tests/api/test_roles_table.py compares them).
"""

from __future__ import annotations

_SEE = {"ListCollections", "DescribeCollection", "ListTagsForResource", "DetectFaces", "WhoAmI"}
_VIDEO = {"UploadVideo", "StartFaceDetection", "GetFaceDetection"}
_WATCH = {"StartFaceSearch", "GetFaceSearch", "ListStreamProcessors", "DescribeStreamProcessor", "GetStreamProcessorCounters", "StreamProcessorEvents"}
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
    "ListConsent",  # whether a subject may be enrolled yet
}
# what the consent covers (a collection's purpose) and the records themselves
CONSENT = {"WhoAmI", "ListCollections", "DescribeCollection", "ListTagsForResource", "AddConsent", "ListConsent", "RevokeConsent"}
AUDITOR = {"WhoAmI", "ListAuditEvents", "VerifyAuditLog"}
ADMIN_ONLY = {
    "CreateCollection",
    "DeleteCollection",
    "EraseSubject",
    "PurgeExpired",
    "CreateAccessKey",
    "ListAccessKeys",
    "RevokeAccessKey",
    "CreateStreamProcessor",
    "StartStreamProcessor",
    "StopStreamProcessor",
    "UpdateStreamProcessor",
    "DeleteStreamProcessor",
    "TagResource",
    "UntagResource",
}
ADMIN = SEARCHER | INDEXER | CONSENT | AUDITOR | ADMIN_ONLY

ALLOWED: dict[str, frozenset[str]] = {
    "admin": frozenset(ADMIN),
    "indexer": frozenset(INDEXER),
    "searcher": frozenset(SEARCHER),
    "auditor": frozenset(AUDITOR),
    "consent": frozenset(CONSENT),
}


def allows(role: str, operation: str) -> bool:
    return operation in ALLOWED.get(role, frozenset())
