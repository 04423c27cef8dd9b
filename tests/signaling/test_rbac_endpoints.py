"""Every role × every endpoint, over HTTPS, against the one permission table.

The endpoint list is read from the application itself, so a new route that forgets its
permission fails here rather than shipping open.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.signaling.conftest import RunningGateway

from voxseal.identity.rbac import ROLE_PERMISSIONS, Permission, Role
from voxseal.signaling.routes import endpoint_permissions

#: endpoints anyone may call (they authenticate the caller themselves, or expose nothing)
PUBLIC = {
    ("GET", "/healthz"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/mfa"),
    # the browser call page and its built assets (no credential: the token stays in the page)
    ("GET", "/call"),
    ("GET", "/static/call/{name}"),
}
#: endpoints any authenticated principal may call, about itself only
SELF = {("GET", "/v1/auth/me"), ("POST", "/v1/auth/logout")}

#: a request for each endpoint that is valid when the caller is allowed
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/users"): {},
    ("POST", "/v1/users"): {"json": {"name": "{fresh}", "roles": ["caller"]}},
    ("GET", "/v1/users/{name}"): {"path": {"name": "rbac-target"}},
    ("PUT", "/v1/users/{name}/roles"): {
        "path": {"name": "rbac-target"},
        "json": {"roles": ["caller"]},
    },
    ("PUT", "/v1/users/{name}/disabled"): {
        "path": {"name": "rbac-target"},
        "json": {"disabled": False},
    },
    ("POST", "/v1/apikeys"): {"json": {"principal": "rbac-service"}},
    ("GET", "/v1/apikeys"): {},
    ("DELETE", "/v1/apikeys/{key_id}"): {"path": {"key_id": "0000000000000000"}},
    ("POST", "/v1/rooms/{room}/tokens"): {
        "path": {"room": "rbac-room"},
        "json": {"identity": "someone", "grants": ["subscribe"]},
    },
    ("GET", "/v1/rooms"): {},
    ("GET", "/v1/rooms/{room}/stats"): {"path": {"room": "no-such-room"}},
    ("DELETE", "/v1/rooms/{room}/participants/{identity}"): {
        "path": {"room": "no-such-room", "identity": "nobody"}
    },
    ("GET", "/v1/stats/stream"): {"query": {"duration": 0.2, "interval": 0.2}},
    ("POST", "/v1/rooms/{room}/agent"): {"path": {"room": "rbac-agent-room"}, "json": {}},
    ("GET", "/v1/agents"): {},
    ("POST", "/v1/subjects/{subject_id}/consents"): {
        "path": {"subject_id": "rbac-subject"},
        "json": {
            "purpose": "recording",
            "granted": True,
            "source": "web",
            "legal_basis": "consent",
        },
    },
    ("GET", "/v1/subjects/{subject_id}/consents"): {"path": {"subject_id": "rbac-subject"}},
    ("GET", "/v1/recordings/{object_id}"): {
        "path": {"object_id": "00000000-0000-4000-8000-000000000000"}
    },
    ("GET", "/v1/transcripts/{object_id}"): {
        "path": {"object_id": "00000000-0000-4000-8000-000000000000"}
    },
    ("GET", "/v1/subjects/{subject_id}/objects"): {"path": {"subject_id": "rbac-subject"}},
    ("DELETE", "/v1/subjects/{subject_id}/vault"): {"path": {"subject_id": "rbac-subject"}},
    ("GET", "/v1/audit"): {},
    ("GET", "/v1/audit/verify"): {},
}


def _routes() -> dict[tuple[str, str], Permission | None]:
    return endpoint_permissions()


def test_every_endpoint_is_classified() -> None:
    table = _routes()
    for key, permission in table.items():
        if key in PUBLIC or key in SELF:
            assert permission is None, key
        else:
            assert permission is not None, f"{key} has no permission check"
            assert key in REQUESTS, f"{key} is not exercised by the role walk"
    assert set(REQUESTS) <= set(table)


@pytest.fixture(scope="module")
def credentials(gateway_server: RunningGateway) -> dict[Role, str]:
    gateway_server.add_principal("rbac-target", {Role.CALLER})
    gateway_server.add_principal("rbac-service", {Role.BACKEND}, service=True)
    return {role: gateway_server.token_for(f"rbac-{role.value}", {role}) for role in Role}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_against_every_endpoint(
    gateway_server: RunningGateway, credentials: dict[Role, str], role: Role
) -> None:
    table = _routes()
    outcomes = {}
    with gateway_server.client(credentials[role]) as c:
        for n, ((method, path), permission) in enumerate(sorted(table.items(), key=str)):
            if permission is None:
                continue
            spec = REQUESTS[(method, path)]
            url = path.format(**spec.get("path", {}))
            body = spec.get("json")
            if body and body.get("name") == "{fresh}":
                body = {**body, "name": f"fresh-{role.value}-{n}"}
            r = c.request(method, url, json=body, params=spec.get("query"))
            allowed = permission in ROLE_PERMISSIONS[role]
            outcomes[(method, path)] = r.status_code
            if allowed:
                assert r.status_code not in (401, 403), (role, method, path, r.text)
                assert r.status_code < 500, (role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.text)
                assert r.json()["error"] == "permission_denied"
    assert outcomes  # the walk did happen
    # and the self-service endpoints work for every authenticated role
    with gateway_server.client(credentials[role]) as c:
        me = c.get("/v1/auth/me")
        assert me.status_code == 200 and role.value in me.json()["roles"]


def test_unauthenticated_is_401_everywhere_protected(gateway_server: RunningGateway) -> None:
    table = _routes()
    with gateway_server.client() as c:
        for method, path in table:
            if (method, path) in PUBLIC:
                continue
            spec = REQUESTS.get((method, path), {})
            r = c.request(
                method,
                path.format(**spec.get("path", {})),
                json=spec.get("json"),
                params=spec.get("query"),
            )
            assert r.status_code == 401, (method, path)


def test_the_app_serves_exactly_the_mapped_routes(gateway_server: RunningGateway) -> None:
    with gateway_server.client() as c:
        served = {
            (method.upper(), path)
            for path, ops in c.get("/openapi.json").json()["paths"].items()
            for method in ops
        }
    assert served == set(_routes())
