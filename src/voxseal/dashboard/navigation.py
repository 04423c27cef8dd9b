"""Where the dashboard's pages live and the permission each one needs.

A page needs exactly the permission of the REST endpoint it presents, read from the API's own
route table (:func:`api_permission`), so the dashboard can never allow more than the API.
"""

from __future__ import annotations

from voxseal.identity.rbac import Permission
from voxseal.signaling.routes import endpoint_permissions

PREFIX = "/admin"


def api_permission(method: str, path: str) -> Permission:
    """The permission the REST API requires for ``method path``: the one source of truth."""
    permission = endpoint_permissions().get((method, path))
    if permission is None:
        raise RuntimeError(f"the API has no permission-checked endpoint {method} {path}")
    return permission


#: what each view needs: the same permission as the API endpoint it presents
ROOMS_READ = api_permission("GET", "/v1/rooms")
STATS_READ = api_permission("GET", "/v1/rooms/{room}/stats")
ROOMS_REMOVE = api_permission("DELETE", "/v1/rooms/{room}/participants/{identity}")
AUDIT_READ = api_permission("GET", "/v1/audit")
AUDIT_VERIFY = api_permission("GET", "/v1/audit/verify")
CONSENTS_READ = api_permission("GET", "/v1/subjects/{subject_id}/consents")
USERS_READ = api_permission("GET", "/v1/users")
USERS_CREATE = api_permission("POST", "/v1/users")
USERS_DISABLE = api_permission("PUT", "/v1/users/{name}/disabled")
ROLES_WRITE = api_permission("PUT", "/v1/users/{name}/roles")

#: the navigation: (path, label, permission)
VIEWS: tuple[tuple[str, str, Permission], ...] = (
    (f"{PREFIX}/rooms", "Live rooms", ROOMS_READ),
    (f"{PREFIX}/audit", "Audit log", AUDIT_READ),
    (f"{PREFIX}/consents", "Consent records", CONSENTS_READ),
    (f"{PREFIX}/users", "Users and roles", USERS_READ),
)
