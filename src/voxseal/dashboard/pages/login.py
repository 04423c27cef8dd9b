"""``/admin/login`` and ``/admin/logout``: password and TOTP in one form, then a server-side
session; the login form has its own CSRF token, bound to a pre-login cookie."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.dashboard.cookies import LOGIN_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from voxseal.dashboard.forms import CSRF_FIELD, read_form, text_field
from voxseal.dashboard.guard import Viewer, page, same_origin, sessions
from voxseal.dashboard.navigation import PREFIX
from voxseal.dashboard.render import redirect, render
from voxseal.dashboard.sessions import (
    SessionRefused,
    login_csrf_for,
    new_cookie_value,
    tokens_match,
)
from voxseal.errors import AccountLocked, VoxsealError
from voxseal.identity.rbac import Role
from voxseal.signaling.deps import audit_context, gateway, source_ip
from voxseal.signaling.headers import correlation_id

#: how long a sign-in form (and its pre-login cookie) stays usable, in seconds
LOGIN_FORM_TTL = 600
GENERIC_LOGIN_FAILURE = (
    "Sign-in failed. Check your username, password and authenticator code and try again. "
    "Only accounts with TOTP enrolled can use the dashboard."
)
_LOGIN_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _login_form(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    # keep this browser's pre-login cookie while it lasts, so two open sign-in tabs both work
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not _LOGIN_COOKIE_VALUE.match(cookie):
        cookie = new_cookie_value()
    ended = request.query_params.get("ended") == "1" and error is None
    response = render(
        request,
        None,
        "login.html",
        status,
        title="Sign in",
        login_csrf=login_csrf_for(cookie),
        error=error,
        ended=ended,
    )
    set_cookie(response, LOGIN_COOKIE, cookie, max_age=LOGIN_FORM_TTL)
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    if request.cookies.get(SESSION_COOKIE):
        try:
            await run_in_threadpool(sessions(request).check, request.cookies[SESSION_COOKIE])
            return redirect(PREFIX)
        except SessionRefused:
            pass
    return _login_form(request)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Password and TOTP in one form, so a failure cannot say which factor was wrong."""
    form = await read_form(request)
    gw = gateway(request)
    ip, rid = source_ip(request), correlation_id(request.scope)
    pre = request.cookies.get(LOGIN_COOKIE)
    previous = request.cookies.get(SESSION_COOKIE)
    token = form.get(CSRF_FIELD)
    if (
        not pre
        or not same_origin(request)
        or not tokens_match(login_csrf_for(pre), token if isinstance(token, str) else None)
    ):
        await run_in_threadpool(
            lambda: audit_context(request, None).record(
                AuditAction.DASHBOARD_LOGIN, outcome=Outcome.DENIED, reason="csrf_failed"
            )
        )
        return _login_form(
            request,
            status=403,
            error="The sign-in form had expired or was not sent from this site. Try again.",
        )
    username = text_field(form, "username", 128)
    password = text_field(form, "password", 1024)
    code = text_field(form, "code", 64)

    def attempt() -> tuple[str, frozenset[Role], str] | VoxsealError:
        if username is None or password is None or code is None:
            audit_context(request, None).record(
                AuditAction.DASHBOARD_LOGIN, outcome=Outcome.FAILURE, reason="invalid_input"
            )
            return VoxsealError("missing field", reason="invalid_input")
        try:
            result = gw.authenticator.login(username, password, ip, correlation_id=rid)
            if result.mfa_challenge is None:
                # the dashboard needs both factors even where the API's policy does not
                assert result.access_token is not None
                gw.tokens.revoke(result.access_token.claims)
                raise VoxsealError("TOTP is not enrolled", reason="mfa_required")
            issued = gw.authenticator.complete_mfa(
                result.mfa_challenge.value, code, ip, correlation_id=rid
            )
        except VoxsealError as exc:
            audit_context(request, None).record(
                AuditAction.DASHBOARD_LOGIN,
                outcome=Outcome.DENIED if isinstance(exc, AccountLocked) else Outcome.FAILURE,
                target=None,
                reason=exc.reason,
            )
            return exc
        # a browser session never needs the bearer token the login produced
        gw.tokens.revoke(issued.claims)
        if previous:  # signing in again replaces, never adds to, this browser's session
            sessions(request).revoke(previous)
        principal = gw.directory.get(result.principal.name)
        roles = principal.roles & issued.claims.roles  # type: ignore[union-attr]
        cookie, session = sessions(request).create(principal.name, roles, ip)
        audit_context(request, principal.name).record(
            AuditAction.DASHBOARD_LOGIN,
            target=principal.name,
            session_id=session.handle,
            jti=issued.jti,
            roles=sorted(r.value for r in roles),
        )
        sessions(request).purge()
        return cookie, roles, session.handle

    outcome = await run_in_threadpool(attempt)
    if isinstance(outcome, AccountLocked):
        return _login_form(
            request,
            status=429,
            error=f"Too many failed attempts. Try again in {max(1, round(outcome.retry_after))} s.",
        )
    if isinstance(outcome, VoxsealError):
        # the typed username is not echoed back: people type passwords into that field too
        return _login_form(request, status=401, error=GENERIC_LOGIN_FAILURE)
    cookie, _roles, _handle = outcome
    response = redirect(PREFIX)
    # a browser-session cookie (no Max-Age): the server times the session out
    set_cookie(response, SESSION_COOKIE, cookie)
    clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Viewer = Depends(page())) -> Response:  # noqa: B008
    """End the session on the server (every node refuses the cookie from now on)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")

    def end() -> None:
        sessions(request).revoke(cookie)
        audit_context(request, viewer.name).record(
            AuditAction.DASHBOARD_LOGOUT,
            target=viewer.name,
            session_id=viewer.session.handle,
        )

    await run_in_threadpool(end)
    response = redirect(f"{PREFIX}/login")
    clear_cookie(response, SESSION_COOKIE)
    return response
