"""``/admin/users``: principals, their roles and MFA state; create, change roles, disable.

Every change is the API's endpoint function, so the directory's rules hold here as they do on
the API and the CLI — among them that no change may leave no enabled administrator (the
directory refuses it as ``Conflict``, reason ``last_admin``). A refusal becomes a message on
the users page and an ``http.refused`` audit event with the refusal's status and reason.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.dashboard.forms import read_form, roles_of
from voxseal.dashboard.guard import Viewer, page, sessions
from voxseal.dashboard.navigation import (
    PREFIX,
    ROLES_WRITE,
    USERS_CREATE,
    USERS_DISABLE,
    USERS_READ,
)
from voxseal.dashboard.render import redirect, render
from voxseal.errors import VoxsealError
from voxseal.identity.rbac import Role
from voxseal.signaling.deps import audit_context
from voxseal.signaling.errors import audit_refusal
from voxseal.signaling.routes import users as users_api

USERS_PAGE = f"{PREFIX}/users"
_ASSIGNABLE = tuple(r.value for r in Role)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/users")
async def users_page(
    request: Request,
    viewer: Viewer = Depends(page(USERS_READ)),  # noqa: B008
) -> Response:
    listing = await run_in_threadpool(users_api.list_users, request, viewer.caller)
    return render(
        request,
        viewer,
        "users.html",
        title="Users and roles",
        users=listing["users"],
        roles=_ASSIGNABLE,
        can_create=viewer.can(USERS_CREATE),
        can_disable=viewer.can(USERS_DISABLE),
        can_roles=viewer.can(ROLES_WRITE),
    )


async def _user_change(request: Request, action: Callable[[], object], done: str) -> Response:
    """Run an API user operation; refusals become a message on the users page (and audited)."""
    try:
        await run_in_threadpool(action)
    except ValidationError as exc:
        await audit_refusal(request, 422, "invalid_input")
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return redirect(USERS_PAGE, f"Not changed: check {', '.join(fields)}.")
    except VoxsealError as exc:  # the directory's refusals: last_admin, role_kind_mismatch, …
        await audit_refusal(request, exc.http_status, exc.reason)
        return redirect(USERS_PAGE, f"Not changed: {exc}")
    return redirect(USERS_PAGE, done)


@router.post("/users")
async def create_user(
    request: Request,
    viewer: Viewer = Depends(page(USERS_CREATE)),  # noqa: B008
) -> Response:
    form = await read_form(request)
    kind = form.get("kind") if form.get("kind") in ("human", "service") else "human"
    name = form.get("name") if isinstance(form.get("name"), str) else ""
    password = form.get("password") if kind == "human" else None

    def create() -> None:
        body = users_api.CreatePrincipal(
            name=name,  # type: ignore[arg-type]
            roles=roles_of(form),  # type: ignore[arg-type]
            kind=kind,  # type: ignore[arg-type]
            password=password if isinstance(password, str) and password else None,
        )
        users_api.create_user(body, request, viewer.caller)

    hint = (
        " Enrol TOTP for them with `voxseal user mfa-enroll NAME` before they sign in."
        if kind == "human"
        else " Issue it an API key with `voxseal apikey create NAME`."
    )
    return await _user_change(request, create, f"Created {name}.{hint}")


@router.post("/users/{name}/roles")
async def set_roles(
    name: str,
    request: Request,
    viewer: Viewer = Depends(page(ROLES_WRITE)),  # noqa: B008
) -> Response:
    form = await read_form(request)

    def change() -> None:
        body = users_api.SetRoles(roles=roles_of(form))  # type: ignore[arg-type]
        users_api.set_roles(name, body, request, viewer.caller)

    return await _user_change(request, change, f"Changed the roles of {name}.")


@router.post("/users/{name}/disabled")
async def set_disabled(
    name: str,
    request: Request,
    viewer: Viewer = Depends(page(USERS_DISABLE)),  # noqa: B008
) -> Response:
    form = await read_form(request)
    disabled = form.get("disabled") == "true"

    def change() -> None:
        body = users_api.SetDisabled(disabled=disabled)
        principal = users_api.set_disabled(name, body, request, viewer.caller)
        if disabled:
            ended = sessions(request).revoke_principal(str(principal["name"]))
            if ended:
                audit_context(request, viewer.name).record(
                    AuditAction.DASHBOARD_SESSION_REVOKE,
                    target=str(principal["name"]),
                    count=ended,
                    reason="principal_disabled",
                )

    verb = "Disabled" if disabled else "Enabled"
    return await _user_change(request, change, f"{verb} {name}.")
