"""Every role × every endpoint, over HTTPS, against the one permission table.

The endpoint list is read from the application itself, so a new route that forgets its
permission fails here rather than shipping open.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.dashboard.helpers import Viewer, new_person, to_login
from tests.harness.gateway import PASSWORD, RunningGateway

from voxseal.app import DOCUMENTED_ROUTERS
from voxseal.dashboard.site import PUBLIC_PAGES, dashboard_routes, page_permissions
from voxseal.identity.rbac import HUMAN_ROLES, ROLE_PERMISSIONS, Permission, Role
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
    """The assembled application's documented endpoints, as the composition root mounts them."""
    return endpoint_permissions(DOCUMENTED_ROUTERS)


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


# -- the dashboard (/admin) ----------------------------------------------------------------
# Its pages take a browser session (cookie + CSRF token), not a bearer credential, so they are
# walked here with their own table; the permission of each page is read from the dashboard's
# routes, which take it from the API endpoint the page presents.

#: a request for each guarded dashboard page, valid when the viewer is allowed (a form for POST)
DASHBOARD_REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/admin"): {},
    ("GET", "/admin/rooms"): {},
    ("GET", "/admin/rooms/{room}"): {"path": {"room": "no-such-room"}},
    ("POST", "/admin/rooms/{room}/remove"): {
        "path": {"room": "no-such-room"},
        "form": {"identity": "nobody"},
    },
    ("GET", "/admin/audit"): {},
    ("GET", "/admin/consents"): {"query": {"subject": "rbac-subject"}},
    ("GET", "/admin/users"): {},
    ("POST", "/admin/users"): {
        "form": {"name": "{fresh}", "kind": "human", "roles": ["caller"], "password": PASSWORD}
    },
    ("POST", "/admin/users/{name}/roles"): {
        "path": {"name": "rbac-target"},
        "form": {"roles": ["caller"]},
    },
    ("POST", "/admin/users/{name}/disabled"): {
        "path": {"name": "rbac-target"},
        "form": {"disabled": "false"},
    },
}
#: any signed-in viewer; logout ends the session, so the walk does it last
DASHBOARD_SELF = {("GET", "/admin"), ("POST", "/admin/logout")}
#: people who can hold a dashboard session (service accounts cannot: no password, no TOTP)
DASHBOARD_ROLES = [r for r in Role if r in HUMAN_ROLES]


def _dashboard_request(v: Viewer, method: str, path: str, fresh: str, csrf: bool) -> Any:
    spec = DASHBOARD_REQUESTS.get((method, path), {})
    url = path.format(**spec.get("path", {}))
    if method == "GET":
        return v.get(url, params=spec.get("query"))
    form = dict(spec.get("form", {}))
    if form.get("name") == "{fresh}":
        form["name"] = fresh
    return v.post(url, form, csrf=True if csrf else None)


def test_every_dashboard_page_is_guarded_or_public() -> None:
    guarded = page_permissions()
    assert set(guarded) | PUBLIC_PAGES == dashboard_routes()
    assert not set(guarded) & PUBLIC_PAGES
    for key, permission in guarded.items():
        if key in DASHBOARD_SELF:
            assert permission is None, key
        else:
            assert permission is not None, f"{key} has no permission check"
            assert key in DASHBOARD_REQUESTS, f"{key} is not exercised by the role walk"
    assert set(DASHBOARD_REQUESTS) <= set(guarded)


@pytest.mark.parametrize("role", DASHBOARD_ROLES, ids=lambda r: r.value)
def test_role_against_every_dashboard_page(
    gateway_server: RunningGateway, credentials: dict[Role, str], role: Role
) -> None:
    name = new_person(gateway_server, f"rbac-dash-{role.value}", {role})
    outcomes = {}
    with Viewer(gateway_server).signed_in(name) as v:
        for n, ((method, path), permission) in enumerate(
            sorted(page_permissions().items(), key=str)
        ):
            if (method, path) == ("POST", "/admin/logout"):
                continue
            r = _dashboard_request(v, method, path, f"dash-fresh-{role.value}-{n}", csrf=True)
            outcomes[(method, path)] = r.status_code
            assert not to_login(r), (role, method, path)
            if permission is None or permission in ROLE_PERMISSIONS[role]:
                assert r.status_code not in (401, 403), (role, method, path, r.text)
                assert r.status_code < 500, (role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert "Not allowed" in r.text and permission.value in r.text
        assert to_login(v.post("/admin/logout"))
        assert to_login(v.get("/admin"))
    assert outcomes


def test_unauthenticated_dashboard_goes_to_login(
    gateway_server: RunningGateway, credentials: dict[Role, str]
) -> None:
    with Viewer(gateway_server) as v:
        for n, (method, path) in enumerate(sorted(page_permissions())):
            r = _dashboard_request(v, method, path, f"dash-anon-{n}", csrf=False)
            assert to_login(r), (method, path, r.status_code)
            # an API credential is no dashboard session
            r = v.get("/admin", headers={"authorization": f"Bearer {credentials[Role.ADMIN]}"})
            assert to_login(r)
        assert v.get("/admin/login").status_code == 200
        assert v.get("/admin/static/dashboard.css").status_code == 200


@pytest.mark.parametrize(
    "role", [r for r in Role if r not in DASHBOARD_ROLES], ids=lambda r: r.value
)
def test_service_accounts_get_no_dashboard_session(
    gateway_server: RunningGateway, credentials: dict[Role, str], role: Role
) -> None:
    with Viewer(gateway_server) as v:
        r = v.login(f"rbac-{role.value}", password=PASSWORD, code="000000")
        assert r.status_code == 401 and v.session_cookie is None
