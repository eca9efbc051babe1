"""Collections of face templates: durable records, encrypted embeddings, a vector
index, consent, retention, erasure and an audit log (see ``store.Store``, composed of
parts: ``store.collections``, ``.faces``, ``.users``, ``.governance``, ``.audit``,
``.keys``, ``.jobs``; ``interface.StoreBackend`` is what another backend implements).
The records the parts hand out live in ``faceprint.types``."""

from faceprint.store.audit import AuditEntry, AuditReport
from faceprint.store.consent import BASES, ConsentRecord
from faceprint.store.interface import StoreBackend
from faceprint.store.keys import ROLES, AccessKey
from faceprint.store.store import HOME_ENV, Store, default_home
from faceprint.store.vectors import VectorIndex

__all__ = [
    "Store",
    "StoreBackend",
    "default_home",
    "HOME_ENV",
    "VectorIndex",
    "ConsentRecord",
    "BASES",
    "AccessKey",
    "ROLES",
    "AuditEntry",
    "AuditReport",
]
