"""Who is looking: the session behind the cookie, CSRF on every POST, and the permission a
page needs — one dependency, :func:`page`, in front of every page but the login form.

* **Authentication** is a server-side session (:mod:`.sessions`) created only by a complete
  password + TOTP login through the API's own ``Authenticator``; it ends when its principal is
  disabled or loses its TOTP enrolment, and its roles narrow to those the principal holds now.
* **Authorisation** uses the same ``Caller.require`` as the API, with the permission of the
  REST endpoint the page presents (:mod:`.navigation`).
* **CSRF**: every POST carries the session's synchronizer token (compared in constant time)
  and, when the browser sends them, must come with ``Sec-Fetch-Site: same-origin`` and a
  matching ``Origin``. The form is read only after the session check.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.dashboard.cookies import SESSION_COOKIE
from voxseal.dashboard.errors import LoginRequired, PageRefused
from voxseal.dashboard.forms import CSRF_FIELD, read_form
from voxseal.dashboard.navigation import VIEWS
from voxseal.dashboard.sessions import (
    DashboardSession,
    SessionEnd,
    SessionRefused,
    SessionStore,
    tokens_match,
)
from voxseal.errors import VoxsealError
from voxseal.identity.rbac import Permission
from voxseal.identity.tokens import FULL_SCOPE
from voxseal.signaling.deps import Caller, audit_context, gateway


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: the session, and the same :class:`Caller` the API builds."""

    session: DashboardSession
    caller: Caller

    @property
    def name(self) -> str:
        return self.caller.name

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def can(self, permission: Permission) -> bool:
        try:
            self.caller.require(permission)
        except VoxsealError:
            return False
        return True

    def nav(self) -> list[tuple[str, str]]:
        return [(path, label) for path, label, p in VIEWS if self.can(p)]


def sessions(request: Request) -> SessionStore:
    """This app's session store, made on first use (it lives in the gateway's database)."""
    store = getattr(request.app.state, "dashboard_sessions", None)
    if store is None:
        store = SessionStore(gateway(request).db)
        request.app.state.dashboard_sessions = store
    assert isinstance(store, SessionStore)
    return store


def resolve(request: Request) -> Viewer:
    """The live session behind the cookie, with roles narrowed to those held now."""
    directory = gateway(request).directory
    store = sessions(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        session = store.check(cookie)
        principal = directory.find(session.principal)
        if principal is None or principal.disabled:
            store.revoke(cookie or "")
            raise SessionRefused(SessionEnd.PRINCIPAL, session.handle)
        if not principal.mfa_enrolled:
            # only a TOTP-enrolled person can sign in; an enrolment reset (the device was lost
            # or stolen) must also end what was opened with it
            store.revoke(cookie or "")
            raise SessionRefused(SessionEnd.MFA_RESET, session.handle)
    except SessionRefused as exc:
        if cookie:  # a presented credential that failed is worth a record; no cookie is not
            audit_context(request, None).record(
                AuditAction.DASHBOARD_SESSION,
                outcome=Outcome.DENIED,
                reason=exc.why.value,
                session_id=exc.handle,
            )
        raise LoginRequired(exc.why if cookie else None) from None
    roles = session.roles & principal.roles
    who = Caller(principal.name, roles, frozenset({FULL_SCOPE}), None, principal)
    return Viewer(session, who)


def same_origin(request: Request) -> bool:
    """Fetch metadata and Origin, when the browser sends them, must name this origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        return origin == f"https://{host}"
    return True


class PageGuard:
    """The dependency :func:`page` returns; ``required_permission`` is what the route table
    (:func:`voxseal.dashboard.site.page_permissions`) reads back."""

    def __init__(self, permission: Permission | None) -> None:
        self.required_permission = permission

    async def __call__(self, request: Request) -> Viewer:
        viewer = await run_in_threadpool(resolve, request)
        request.state.viewer = viewer
        request.state.caller = viewer.caller  # refusal audit events name the actor
        if request.method == "POST":
            form = await read_form(request)
            token = form.get(CSRF_FIELD)
            if not same_origin(request) or not tokens_match(
                viewer.csrf, token if isinstance(token, str) else None
            ):
                raise PageRefused(
                    403,
                    "csrf_failed",
                    "This form was not sent from a dashboard page of your current session. "
                    "Reload the page and try again.",
                )
        permission = self.required_permission
        if permission is not None and not viewer.can(permission):
            raise PageRefused(
                403,
                "permission_denied",
                f"Your roles do not grant {permission.value!r}, which this page needs.",
            )
        return viewer


def page(permission: Permission | None = None) -> PageGuard:
    """A dependency: the signed-in viewer, holding ``permission``; CSRF-checked on POST."""
    return PageGuard(permission)
