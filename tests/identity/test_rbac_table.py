"""Walk every role x every permission against an independently written expectation grid.

The grid below is the policy as reviewed; ``ROLE_PERMISSIONS`` must match it cell for cell.
A change to either without the other fails here, which is the point.
"""

from __future__ import annotations

import pytest

from voxseal.errors import PermissionDenied
from voxseal.identity import rbac
from voxseal.identity.rbac import (
    HUMAN_ROLES,
    MFA_REQUIRED,
    MFA_SENSITIVE_PERMISSIONS,
    ROLE_PERMISSIONS,
    SERVICE_ROLES,
    Permission,
    Role,
    has_permission,
    permission_table_markdown,
    require,
)

ROLES = ("admin", "supervisor", "auditor", "agent", "caller", "backend")
# permission:           admin supervisor auditor agent caller backend
EXPECTED_GRID = """
users:read              1     0          1       0     0      0
users:write             1     0          0       0     0      0
roles:write             1     0          0       0     0      0
apikeys:read            1     0          1       0     0      0
apikeys:write           1     0          0       0     0      0
tokens:join:mint        1     0          0       0     0      1
tokens:revoke           1     0          0       0     0      0
audit:read              1     0          1       0     0      0
audit:verify            1     0          1       0     0      0
audit:export            0     0          1       0     0      0
rooms:read              1     1          1       0     0      1
rooms:admin             1     1          0       0     0      1
rooms:join              0     1          0       1     1      0
rooms:monitor           0     1          0       0     0      0
recordings:read         0     1          0       0     0      0
recordings:write        0     0          0       1     0      0
recordings:delete       0     1          0       0     0      0
transcripts:read        0     1          0       0     0      0
transcripts:write       0     0          0       1     0      0
consents:read           1     1          1       0     0      1
consents:write          0     0          0       0     1      1
dsar:execute            0     1          0       0     0      0
retention:write         1     0          0       0     0      0
stats:read              1     1          1       0     0      0
config:read             1     0          1       0     0      0
config:write            1     0          0       0     0      0
"""


def _expectations() -> dict[tuple[str, str], bool]:
    cells = {}
    for line in EXPECTED_GRID.strip().splitlines():
        perm, *flags = line.split()
        assert len(flags) == len(ROLES), line
        for role, flag in zip(ROLES, flags, strict=True):
            cells[(role, perm)] = flag == "1"
    return cells


EXPECTED = _expectations()
CELLS = sorted(EXPECTED)


def test_grid_covers_every_role_and_permission() -> None:
    assert {r for r, _ in EXPECTED} == {r.value for r in Role}
    assert {p for _, p in EXPECTED} == {p.value for p in Permission}
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize(("role", "perm"), CELLS, ids=[f"{r}-{p}" for r, p in CELLS])
def test_cell(role: str, perm: str) -> None:
    allowed = EXPECTED[(role, perm)]
    assert has_permission([role], perm) is allowed
    assert has_permission([Role(role)], Permission(perm)) is allowed
    if allowed:
        require([role], perm)
    else:
        with pytest.raises(PermissionDenied) as exc:
            require([role], perm)
        assert exc.value.http_status == 403
        assert exc.value.reason == "permission_denied"
        assert perm in str(exc.value) and role in str(exc.value)


def test_roles_combine_as_union() -> None:
    assert has_permission(["caller", "auditor"], "audit:read")
    assert has_permission(["caller", "auditor"], "rooms:join")
    assert not has_permission(["caller", "auditor"], "users:write")


def test_no_roles_and_unknown_names_grant_nothing() -> None:
    for perm in Permission:
        assert not has_permission([], perm)
        assert not has_permission(["root"], perm)
    assert not has_permission(list(Role), "everything:*")
    with pytest.raises(PermissionDenied):
        require([], Permission.USERS_READ)


def test_mfa_required_is_derived_from_the_table() -> None:
    assert {Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR} == MFA_REQUIRED
    for role in Role:
        reads_sensitive = bool(ROLE_PERMISSIONS[role] & MFA_SENSITIVE_PERMISSIONS)
        assert (role in MFA_REQUIRED) == (reads_sensitive or role is Role.ADMIN)
    # the sensitive set names exactly voice data, transcripts and the audit log
    assert {
        Permission.RECORDINGS_READ,
        Permission.TRANSCRIPTS_READ,
        Permission.AUDIT_READ,
        Permission.ROOMS_MONITOR,
    } <= MFA_SENSITIVE_PERMISSIONS
    assert rbac.mfa_required(["caller", "supervisor"])
    assert not rbac.mfa_required(["caller"])


def test_service_roles_never_reach_mfa_protected_data() -> None:
    """Service accounts cannot do TOTP, so no service role may hold a sensitive permission."""
    for role in SERVICE_ROLES:
        assert not ROLE_PERMISSIONS[role] & MFA_SENSITIVE_PERMISSIONS, role
        assert role not in MFA_REQUIRED
    assert {Role.AGENT, Role.BACKEND} == SERVICE_ROLES
    assert set(Role) == HUMAN_ROLES | SERVICE_ROLES
    assert not HUMAN_ROLES & SERVICE_ROLES


def test_markdown_table_renders_every_cell() -> None:
    md = permission_table_markdown()
    lines = md.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["permission", *ROLES]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    for (role, perm), allowed in EXPECTED.items():
        assert (rows[f"`{perm}`"][ROLES.index(role)] == "✓") is allowed
    mfa = rows["**MFA (TOTP)**"]
    assert [m == "required" for m in mfa] == [Role(r) in MFA_REQUIRED for r in ROLES]


def test_parse_roles_refuses_unknown_names() -> None:
    from voxseal.errors import InvalidInput

    assert rbac.parse_roles(["Admin", " caller "]) == {Role.ADMIN, Role.CALLER}
    with pytest.raises(InvalidInput) as exc:
        rbac.parse_roles(["admin", "root"])
    assert exc.value.reason == "unknown_role"
