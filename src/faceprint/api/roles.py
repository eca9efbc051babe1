"""Which role may call which operation.

Five roles. A searcher identifies people and cannot change or list what is stored; an
indexer enrols people and cannot search; a consent officer records and revokes the
subjects' consent and does nothing else, so the key that enrols faces never vouches for
the consent that allows it (separation of duties); an auditor reads the audit log only;
an admin does everything, including creating collections (each declares its purpose)
and issuing keys.

Each operation names the roles that may call it where it is declared (see
operation_table.py), from the sets below; every set holds admin. docs/api.md's role
table lists the same (tests/api/test_roles_table.py compares them).
"""

from __future__ import annotations

from faceprint.api import operation_table

ADMINS = frozenset({"admin"})  # an operation only an admin may call
SEARCHERS = ADMINS | {"searcher"}
INDEXERS = ADMINS | {"indexer"}
CONSENT_OFFICERS = ADMINS | {"consent"}
AUDITORS = ADMINS | {"auditor"}
EVERYONE = SEARCHERS | INDEXERS | CONSENT_OFFICERS | AUDITORS


def allowed(role: str) -> frozenset[str]:
    """The operations ``role`` may call.

    Args:
        role: a key's role; an unknown role may call nothing.

    Returns:
        Their names.

    Example:
        >>> sorted(allowed("auditor"))
        ['ListAuditEvents', 'VerifyAuditLog', 'WhoAmI']
    """
    return frozenset(name for name, op in operation_table.operations().items() if role in op.roles)


def allows(role: str, operation: str) -> bool:
    """Whether ``role`` may call ``operation`` (False for an operation the server does not serve).

    Example:
        >>> allows("indexer", "AddConsent"), allows("consent", "AddConsent")
        (False, True)
    """
    op = operation_table.find(operation)
    return op is not None and role in op.roles
