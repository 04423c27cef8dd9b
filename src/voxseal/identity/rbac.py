"""Roles, permissions and the one table that joins them.

Every authorisation decision in voxseal is ``has_permission(roles, permission)`` over
:data:`ROLE_PERMISSIONS`; nothing else grants access. The table is explicit (no inheritance, no
wildcards) so a reviewer can read who may do what in one place, and the README renders it with
:func:`permission_table_markdown`.

MFA policy is *derived* from the table, not listed separately, so granting a role access to voice
data, transcripts or the audit log automatically makes MFA mandatory for it.

Service roles (``agent``, ``backend``) belong to service accounts, which never log in with a
password: they authenticate with an API key (a 256-bit random secret, stored hashed) or a
short-lived signed token. MFA is a property of interactive human logins, so the policy is:

* a service account can hold only :data:`SERVICE_ROLES`, a human only :data:`HUMAN_ROLES`;
* no service role may hold an MFA-sensitive permission (a test enforces this), so a machine
  credential can never reach recordings, transcripts or the audit log;
* the password login path refuses service accounts outright, so MFA cannot be bypassed there.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from voxseal.errors import InvalidInput, PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    AGENT = "agent"
    CALLER = "caller"
    BACKEND = "backend"


class Permission(StrEnum):
    # principals and credentials
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    ROLES_WRITE = "roles:write"
    APIKEYS_READ = "apikeys:read"
    APIKEYS_WRITE = "apikeys:write"
    TOKENS_JOIN_MINT = "tokens:join:mint"
    TOKENS_REVOKE = "tokens:revoke"
    # audit log
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    AUDIT_EXPORT = "audit:export"
    # rooms and live media
    ROOMS_READ = "rooms:read"
    ROOMS_ADMIN = "rooms:admin"
    ROOMS_JOIN = "rooms:join"
    ROOMS_MONITOR = "rooms:monitor"
    # stored voice data
    RECORDINGS_READ = "recordings:read"
    RECORDINGS_WRITE = "recordings:write"
    RECORDINGS_DELETE = "recordings:delete"
    TRANSCRIPTS_READ = "transcripts:read"
    TRANSCRIPTS_WRITE = "transcripts:write"
    # privacy
    CONSENTS_READ = "consents:read"
    CONSENTS_WRITE = "consents:write"
    DSAR_EXECUTE = "dsar:execute"
    RETENTION_WRITE = "retention:write"
    # operations
    STATS_READ = "stats:read"
    CONFIG_READ = "config:read"
    CONFIG_WRITE = "config:write"


P = Permission

#: The whole authorisation policy. Why each row looks the way it does:
#: admin manages principals, rooms and configuration but does not read voice data
#: (separation of duties: supervisors do); auditors read and verify the log and the consent
#: ledger but change nothing; agents take part in calls they are keyed into and write
#: (redacted) transcripts and recordings but never read stored ones back; callers join and
#: record their own consent; backends mint join tokens and run rooms for their app.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            P.USERS_READ,
            P.USERS_WRITE,
            P.ROLES_WRITE,
            P.APIKEYS_READ,
            P.APIKEYS_WRITE,
            P.TOKENS_JOIN_MINT,
            P.TOKENS_REVOKE,
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.ROOMS_READ,
            P.ROOMS_ADMIN,
            P.CONSENTS_READ,
            P.RETENTION_WRITE,
            P.STATS_READ,
            P.CONFIG_READ,
            P.CONFIG_WRITE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            P.ROOMS_READ,
            P.ROOMS_ADMIN,  # issue 4: room admins (supervisors) remove participants
            P.ROOMS_JOIN,
            P.ROOMS_MONITOR,
            P.RECORDINGS_READ,
            P.RECORDINGS_DELETE,
            P.TRANSCRIPTS_READ,
            P.CONSENTS_READ,
            P.DSAR_EXECUTE,
            P.STATS_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            P.USERS_READ,
            P.APIKEYS_READ,
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.AUDIT_EXPORT,
            P.ROOMS_READ,
            P.CONSENTS_READ,
            P.STATS_READ,
            P.CONFIG_READ,
        }
    ),
    Role.AGENT: frozenset(
        {
            P.ROOMS_JOIN,
            P.RECORDINGS_WRITE,
            P.TRANSCRIPTS_WRITE,
        }
    ),
    Role.CALLER: frozenset(
        {
            P.ROOMS_JOIN,
            P.CONSENTS_WRITE,
        }
    ),
    Role.BACKEND: frozenset(
        {
            P.TOKENS_JOIN_MINT,
            P.ROOMS_READ,
            P.ROOMS_ADMIN,
            P.CONSENTS_READ,
            P.CONSENTS_WRITE,
        }
    ),
}

#: Permissions that expose voice content (live or stored), transcripts or the audit log.
MFA_SENSITIVE_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        P.ROOMS_MONITOR,
        P.RECORDINGS_READ,
        P.TRANSCRIPTS_READ,
        P.AUDIT_READ,
        P.AUDIT_EXPORT,
    }
)

#: Roles whose human holders must confirm a TOTP second factor: derived from the table.
MFA_REQUIRED: frozenset[Role] = frozenset(
    {role for role, perms in ROLE_PERMISSIONS.items() if perms & MFA_SENSITIVE_PERMISSIONS}
    | {Role.ADMIN}
)

#: Roles for machines (API keys / tokens, never passwords) and for people.
SERVICE_ROLES: frozenset[Role] = frozenset({Role.AGENT, Role.BACKEND})
HUMAN_ROLES: frozenset[Role] = frozenset(Role) - SERVICE_ROLES


def parse_roles(roles: Iterable[str | Role]) -> frozenset[Role]:
    """Role names to :class:`Role` values; unknown names are refused, not ignored."""
    out = set()
    for name in roles:
        try:
            out.add(Role(str(name).strip().lower()))
        except ValueError:
            raise InvalidInput(f"unknown role {str(name)[:32]!r}", reason="unknown_role") from None
    return frozenset(out)


def permissions_of(roles: Iterable[Role | str]) -> frozenset[Permission]:
    """The union of the permissions of ``roles`` (unknown role names grant nothing)."""
    granted: set[Permission] = set()
    for role in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(role)]
        except ValueError:
            continue
    return frozenset(granted)


def has_permission(roles: Iterable[Role | str], permission: Permission | str) -> bool:
    try:
        wanted = Permission(permission)
    except ValueError:
        return False
    return wanted in permissions_of(roles)


def require(roles: Iterable[Role | str], permission: Permission | str) -> None:
    """Raise :class:`PermissionDenied` (403) naming the missing permission unless granted."""
    roles = list(roles)
    if not has_permission(roles, permission):
        raise PermissionDenied(
            f"permission {str(permission)!r} is not granted to roles "
            f"{sorted(str(r) for r in roles) or '[]'}",
            reason="permission_denied",
        )


def mfa_required(roles: Iterable[Role | str]) -> bool:
    """Whether a *human* holding ``roles`` must use a second factor."""
    return any(str(r) in {m.value for m in MFA_REQUIRED} for r in roles)


def permission_table_markdown() -> str:
    """The permission table as a Markdown table (a row per permission), for the README."""
    roles = list(Role)
    head = "| permission | " + " | ".join(r.value for r in roles) + " |"
    sep = "|---|" + "|".join(":---:" for _ in roles) + "|"
    lines = [head, sep]
    for perm in Permission:
        cells = ("✓" if perm in ROLE_PERMISSIONS[r] else "" for r in roles)
        lines.append(f"| `{perm.value}` | " + " | ".join(cells) + " |")
    mfa = ("required" if r in MFA_REQUIRED else "" for r in roles)
    lines.append("| **MFA (TOTP)** | " + " | ".join(mfa) + " |")
    kind = ("service" if r in SERVICE_ROLES else "human" for r in roles)
    lines.append("| **principal kind** | " + " | ".join(kind) + " |")
    return "\n".join(lines) + "\n"
