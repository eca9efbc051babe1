"""The roles: duties kept apart, and docs/api.md's role table the same as the operation table.

The table and the code are compared as text and sets; one test asks the server.
"""

from __future__ import annotations

import re

import pytest

from faceprint.api import operation_table, roles
from faceprint.store import ROLES
from tests.conftest import REPO


def _table() -> dict[str, set[str]]:
    """role -> the operation names its row in docs/api.md's Roles table mentions."""
    text = (REPO / "docs" / "api.md").read_text()
    section = text[text.index("### Roles") :]
    section = section[: section.index("\n\n", section.index("| role |"))]
    names = set(operation_table.operations())
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in ROLES:
            rows[cells[0]] = {w for w in re.findall(r"[A-Z][A-Za-z]+", cells[1]) if w in names}
    return rows


def test_the_docs_role_table_lists_exactly_what_each_role_may_call():
    table = _table()
    assert set(table) == set(ROLES) == set(roles.EVERYONE)
    for role in ROLES:
        if role == "admin":
            continue
        allowed = roles.allowed(role)
        assert table[role] == allowed, (role, "missing", sorted(allowed - table[role]), "extra", sorted(table[role] - allowed))
    # the admin row says "everything", then names what only an admin may call
    admin_only = {name for name, op in operation_table.operations().items() if op.roles == roles.ADMINS}
    assert table["admin"] == admin_only, sorted(admin_only ^ table["admin"])
    assert roles.allowed("admin") == frozenset(operation_table.operations())


def test_consent_is_recorded_by_another_duty_than_indexing():
    """An indexer that could record consent itself would make the consent requirement a
    formality: the key that enrols faces would also vouch for the subjects' consent."""
    assert not roles.allows("indexer", "AddConsent")
    assert roles.allows("consent", "AddConsent") and roles.allows("consent", "RevokeConsent")
    assert roles.allows("admin", "AddConsent")
    assert not roles.allows("consent", "IndexFaces") and not roles.allows("consent", "SearchFacesByImage")


def test_the_consent_officer_records_consent_and_the_indexer_cannot(server):
    from botocore.exceptions import ClientError

    officer = server.client("consent", service="faceprint")
    assert officer.who_am_i()["Role"] == "consent"
    officer.add_consent(Subject="role-test", Basis="consent", Purpose="roles")
    with pytest.raises(ClientError) as exc:
        server.client("indexer", service="faceprint").add_consent(Subject="role-test", Basis="consent", Purpose="roles")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        server.client("consent").index_faces(CollectionId="any", Image={"Bytes": b"x"})
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
