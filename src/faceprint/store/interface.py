"""What a store backend must offer: one Protocol per part, and :class:`StoreBackend`
naming the parts.

The SQLite store (:class:`~faceprint.store.Store`) implements these; a second backend
(PostgreSQL with pgvector, the next step of the design's "one box first, many when
needed") implements the same parts over its own connection pool. Every caller above
the store (the service, the API, the CLI, video, eval) goes through these names only.

What every backend must keep, beyond the signatures:

- Each write is one transaction: a method that raises changed nothing (an audit entry
  of a refusal, written after the rollback, is the one exception: ``IndexFacesRefused``).
- Every change and every search is written to the audit chain in the same transaction
  (``audit.py``: HMAC-chained, with a signed head), with the actor of :meth:`AuditPart.acting`.
- Embeddings, upload bytes, job results and key secrets are sealed with the store key
  (``crypto.Cipher``), each bound to its id; nothing is stored in the clear.
- Erasure reaches every copy: faces erased (by subject, consent revocation, collection
  deletion or retention) leave the vector index and every stored video search result
  in the same transaction.
- A search never returns a face past its collection's retention or its subject's
  consent, even before the next purge.
- Errors are :mod:`faceprint.errors` (NotFound, Conflict, InvalidParameter, ...), never
  the driver's.

Example:
    >>> def enrol(store: StoreBackend, collection: str, faces: list[NewFace], model: str) -> None:
    ...     store.faces.add(collection, faces, model=model)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from faceprint.matching.bar import FaceBar
from faceprint.store.audit import AuditEntry, AuditReport
from faceprint.store.consent import ConsentRecord
from faceprint.store.keys import AccessKey
from faceprint.store.events import EventsPart
from faceprint.store.liveness import LivenessPart
from faceprint.store.requests import Requests
from faceprint.types import CollectionInfo, FaceHit, NewFace, StoredFace, UserHit, UserInfo
from faceprint.store.video import JobRecord, ProcessorRecord, VideoLimits, VideoUpload


class CollectionsPart(Protocol):
    """Collections: a name, one declared purpose, one embedding model, retention, tags."""

    def create(
        self, collection: str, *, purpose: str, model: str, consent_required: bool = True, max_age_days: float | None = None, tags: dict[str, str] | None = None
    ) -> CollectionInfo:
        """Create it, audited. Raises AlreadyExists for a taken name."""
        ...

    def names(self) -> list[str]: ...
    def tags(self, collection: str) -> dict[str, str]: ...

    def tag(self, collection: str, tags: dict[str, str], *, most: int) -> None:
        """All or nothing: if the collection would hold more than ``most`` tags, raise
        InvalidParameter and keep none of them.
        """
        ...

    def untag(self, collection: str, keys: list[str]) -> None: ...
    def describe(self, collection: str) -> CollectionInfo: ...

    def model(self, collection: str) -> str:
        """The embedding contract its vectors were made with; cheap (every search asks)."""
        ...

    def delete(self, collection: str) -> int:
        """Erase it with its faces, users, index and the video results naming its faces,
        and end the consent records limited to it; return how many faces.
        """
        ...


class FacesPart(Protocol):
    """Faces: sealed embeddings of a collection, and the 1:N search over them."""

    def add(self, collection: str, faces: list[NewFace], *, model: str) -> list[StoredFace]:
        """Durable and searchable on return; all or none. Refuse (InvalidParameter) a
        ``model`` other than the collection's, and (ConsentRequired) a subject without
        consent where the collection requires it.
        """
        ...

    def page(self, collection: str, *, user_id: str | None = None, face_ids: list[str] | None = None, max_results: int = 1000, next_token: str | None = None) -> tuple[list[StoredFace], str | None]:
        """Oldest first; the token is opaque to callers and None on the last page."""
        ...

    def delete(self, collection: str, face_ids: list[str]) -> tuple[list[str], list[tuple[str, str | None, str]]]:
        """Erase faces not tied to a user; the others come back as unsuccessful, with the
        Rekognition reason (``FACE_NOT_FOUND``, ``ASSOCIATED_TO_AN_EXISTING_USER``).
        """
        ...

    def vector(self, collection: str, face_id: str) -> np.ndarray: ...

    def search(self, collection: str, vector: np.ndarray, *, max_faces: int, min_cosine: float, purpose: str | None = None, exclude: str | None = None, action: str = "SearchFacesByImage") -> list[FaceHit]:
        """Best first, each hit with its exact cosine, none below ``min_cosine``. Refuse a
        ``purpose`` other than the collection's; skip faces past retention or consent;
        audit the search as ``action``.
        """
        ...

    def size(self, collection: str) -> int:
        """How many faces a search compares against (a result's gallery size)."""
        ...


class UsersPart(Protocol):
    """Users: a person's faces grouped under one id, with idempotent client tokens."""

    def create(self, collection: str, user_id: str, *, client_token: str | None = None, owner: str = "") -> None:
        """A ``client_token`` seen before from ``owner`` with the same request succeeds
        again without acting; with another request it raises IdempotentParameterMismatch.
        Tokens are held per collection row, so they do not outlive a deleted collection.
        """
        ...

    def delete(self, collection: str, user_id: str, *, client_token: str | None = None, owner: str = "") -> None: ...
    def page(self, collection: str, *, max_results: int = 500, next_token: str | None = None) -> tuple[list[UserInfo], str | None]: ...
    def associate(
        self, collection: str, user_id: str, face_ids: list[str], *, bar: FaceBar | None = None, client_token: str | None = None, owner: str = ""
    ) -> tuple[list[str], list[tuple[str, str | None, float | None, str]]]:
        """With ``bar``, refuse (``LOW_MATCH_CONFIDENCE``) faces that do not match the user's
        template, or, for a user without faces, the rest of the batch. A retry with the
        same ``client_token`` returns the first call's answer.
        """
        ...

    def disassociate(self, collection: str, user_id: str, face_ids: list[str], *, client_token: str | None = None, owner: str = "") -> tuple[list[str], list[tuple[str, str | None, str]]]: ...
    def status(self, collection: str, user_id: str) -> str: ...

    def vector(self, collection: str, user_id: str) -> np.ndarray:
        """The user's template: the unit mean of its faces' embeddings (NotFound without faces)."""
        ...

    def search(self, collection: str, vector: np.ndarray, *, max_users: int, min_cosine: float, purpose: str | None = None, exclude: str | None = None, action: str = "SearchUsersByImage") -> list[UserHit]:
        """Best first, each scored against the user's whole template; same purpose check
        and audit as ``FacesPart.search``.
        """
        ...


class GovernancePart(Protocol):
    """Consent records, erasure by subject, and the retention purge of faces."""

    def add_consent(self, subject: str, *, basis: str, purpose: str, expires: float | None = None, collection: str | None = None) -> ConsentRecord: ...
    def consent_records(self, subject: str | None = None) -> list[ConsentRecord]: ...

    def revoke_consent(self, subject: str) -> int:
        """Revoke all the subject's records and erase its faces at once; return how many."""
        ...

    def erase_subject(self, external_image_id: str) -> int:
        """Erase the subject's faces everywhere (index and video results included) and the
        users of that id; return how many faces.
        """
        ...

    def purge_expired(self) -> int:
        """Erase faces past retention or lapsed consent; return how many. Must not write
        when nothing is due (a read-only store still opens).
        """
        ...


class AuditPart(Protocol):
    """The audit chain: who acts, what is recorded, and its verification."""

    def verify(self, heads: Sequence[str] = ()) -> AuditReport:
        """Check the chain's HMACs and that it still holds ``heads`` and the witness."""
        ...

    def entries(self, **filters: Any) -> list[AuditEntry]: ...

    def record(self, action: str, *, collection: str | None = None, purpose: str | None = None, count: int = 0, detail: dict[str, object] | None = None) -> None:
        """Log an operation that changes nothing stored, in its own transaction."""
        ...

    def acting(self, actor: str, **detail: object) -> AbstractContextManager[None]:
        """Inside the block, entries this thread or task writes name ``actor`` and carry
        ``detail``; callers of one store on many threads must not see each other's.
        """
        ...


class KeysPart(Protocol):
    """Access keys of the HTTP service; their secrets sealed, never deleted, only revoked."""

    def issue(self, role: str, purpose: str) -> tuple[AccessKey, str]:
        """A new key and its secret; the secret is stored sealed, and returned only here
        and by ``secret``.
        """
        ...

    def secret(self, key_id: str) -> tuple[AccessKey, str]:
        """The key and its opened secret, revoked keys included (the caller refuses them)."""
        ...

    def list_all(self) -> list[AccessKey]: ...

    def revoke(self, key_id: str) -> AccessKey:
        """Mark the key revoked (again: no change); never delete it, so audit actors resolve."""
        ...


class JobsPart(Protocol):
    """Video jobs and their sealed results, uploaded videos, and stream processors."""

    limits: VideoLimits

    def create_job(self, job_id: str, kind: str, params: dict[str, Any], *, owner: str = "", token: tuple[str, str] | None = None) -> JobRecord:
        """Record an IN_PROGRESS job, or return the job an earlier call with the same
        ``token`` (ClientRequestToken, request digest) from ``owner`` started.
        """
        ...

    def job_for_token(self, owner: str, kind: str, token: tuple[str, str]) -> JobRecord | None: ...

    def finish_job(self, job_id: str, status: str, result: dict[str, Any] | None, message: str | None = None) -> None:
        """Store the end, the result sealed, without matches of faces erased meanwhile."""
        ...

    def job(self, job_id: str) -> tuple[JobRecord, dict[str, Any] | None]: ...

    def update_job(self, job_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
        """Change an unfinished job's params in one transaction (None from ``change``: no
        change); whether they were written."""
        ...

    def interrupted_jobs(self) -> list[JobRecord]:
        """Jobs still IN_PROGRESS, to run again after a restart."""
        ...

    def save_upload(self, data: bytes, *, owner: str, format: str) -> VideoUpload:
        """Seal and keep the bytes under a new name; LimitExceeded past the key's quota."""
        ...

    def upload(self, name: str, *, owner: str) -> VideoUpload:
        """An unexpired upload of ``owner``'s only: another key's is NotFound."""
        ...

    def read_upload(self, name: str) -> tuple[VideoUpload, bytes]: ...

    def purge_video_data(self) -> int:
        """Erase jobs past retention, expired uploads and stray files; return how many."""
        ...

    def create_processor(self, name: str, params: dict[str, Any]) -> ProcessorRecord: ...
    def processor(self, name: str) -> ProcessorRecord: ...
    def processors(self) -> list[ProcessorRecord]: ...
    def set_processor_status(self, name: str, status: str, message: str | None = None) -> None: ...

    def update_processor(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> ProcessorRecord:
        """Read, ``change`` and write the params in one transaction, so concurrent updates
        lose nothing; if ``change`` raises, nothing is written.
        """
        ...

    def delete_processor(self, name: str) -> None: ...

    def announce_streams(self, server_id: str, streams: list[str]) -> None:
        """Record the streams a server has (renewed while it runs)."""
        ...

    def announced_streams(self, within_s: float) -> set[str]:
        """The streams some server announced within ``within_s`` seconds."""
        ...


class StoreBackend(Protocol):
    """A whole store: its parts, and the root's own verbs (closing, the purge and its timer).

    ``home`` is the folder a backend keeps files in (uploads); a server-backed store
    still has one.
    """

    home: Path
    collections: CollectionsPart
    faces: FacesPart
    users: UsersPart
    governance: GovernancePart
    audit: AuditPart
    keys: KeysPart
    jobs: JobsPart
    requests: Requests
    liveness: LivenessPart
    events: EventsPart
    shared: bool  # other servers may use this store at the same time (the server store)
    node_id: str  # this machine's stable name among them (see Store.node_id)

    def close(self) -> None: ...

    def purge_expired(self) -> int:
        """Purge video data, then faces (``GovernancePart.purge_expired``); return how many faces."""
        ...

    def start_retention(self, every_s: float = 3600.0) -> None:
        """Purge every ``every_s`` seconds in the background until the store is closed."""
        ...


PARTS: dict[str, type] = {
    "collections": CollectionsPart,
    "faces": FacesPart,
    "users": UsersPart,
    "governance": GovernancePart,
    "audit": AuditPart,
    "keys": KeysPart,
    "jobs": JobsPart,
    "requests": Requests,
    "liveness": LivenessPart,
    "events": EventsPart,
}
"""Each part's attribute name on a :class:`StoreBackend` and its Protocol (for conformance tests)."""
