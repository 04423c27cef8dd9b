"""``/admin``: the dashboard's pages, each a thin view over a REST endpoint.

Rules every page follows, so a reviewer can check them here once:

* **Authentication** is a server-side session (:mod:`voxseal.dashboard.sessions`) created only
  by a complete password + TOTP login through the API's own ``Authenticator``.
* **Authorisation** uses the permission of the REST endpoint the page presents, read from the
  API's route table (:func:`api_permission`), checked with the same ``Caller.require``; the
  page then calls that endpoint's function, so it audits and behaves exactly as the API.
  Two deliberate differences: the audit page's chain status comes from a running
  verification (:mod:`.verification`; still audited as ``audit.verify``), and role and
  disable changes that would leave no enabled administrator are refused (``last_admin``).
* **Forms** are read only URL-encoded and small (:func:`_read_form`), after the session check.
* **CSRF**: every POST carries the session's synchronizer token (compared in constant time)
  and, when the browser sends them, must come with ``Sec-Fetch-Site: same-origin`` and a
  matching ``Origin``. The login form has its own token bound to a pre-login cookie.
* **Refusals** are HTML pages with the right status (303 to the login page without a session,
  403 for a missing permission or a bad CSRF token, 413/415 for a form that is not one of
  ours) and audit events.
* No JavaScript at all: plain forms and links, so the pages work with scripting off and the
  content security policy can forbid scripts outright.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.templating import Jinja2Templates

from voxseal.audit.events import Outcome
from voxseal.audit.query import MAX_LIMIT
from voxseal.dashboard.sessions import (
    ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT,
    DashboardSession,
    SessionEnd,
    SessionRefused,
    SessionStore,
    login_csrf_for,
    new_cookie_value,
    tokens_match,
)
from voxseal.dashboard.verification import FULL_EVERY, ChainWatch, Verification
from voxseal.errors import AccountLocked, Conflict, NotFound, VoxsealError
from voxseal.gateway import Gateway
from voxseal.identity.rbac import ROLE_PERMISSIONS, Permission, Role
from voxseal.identity.tokens import FULL_SCOPE
from voxseal.privacy.consent import SUBJECT_ID
from voxseal.signaling.deps import Caller, gateway, source_ip
from voxseal.signaling.errors import audit_refusal
from voxseal.signaling.headers import correlation_id
from voxseal.signaling.routes import consents as consents_api
from voxseal.signaling.routes import endpoint_permissions
from voxseal.signaling.routes import rooms as rooms_api
from voxseal.signaling.routes import users as users_api

PREFIX = "/admin"
#: ``__Host-``: the browser accepts it only Secure, host-only (no Domain) and with Path=/
SESSION_COOKIE = "__Host-voxseal-admin"
LOGIN_COOKIE = "__Host-voxseal-login"
FLASH_COOKIE = "__Host-voxseal-flash"
CSRF_FIELD = "csrf_token"
LOGIN_FORM_TTL = 600
AUDIT_PAGE = 50

_HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=_HERE / "templates")
_STYLESHEET = (_HERE / "static" / "dashboard.css").read_bytes()
_STYLESHEET_ETAG = hashlib.sha256(_STYLESHEET).hexdigest()[:16]
_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_RECORD_NUMBER = re.compile(r"^[0-9]{1,18}\Z")

router = APIRouter(prefix=PREFIX, include_in_schema=False)

GENERIC_LOGIN_FAILURE = (
    "Sign-in failed. Check your username, password and authenticator code and try again. "
    "Only accounts with TOTP enrolled can use the dashboard."
)


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


# -- refusals ----------------------------------------------------------------------------------


class PageRefused(Exception):
    """Raised by the page guards; turned into an HTML answer by :func:`_on_refused`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(reason)


class LoginRequired(PageRefused):
    def __init__(self, why: SessionEnd | None) -> None:
        self.why = why
        super().__init__(303, why.value if why else "no_session", "sign in to continue")


async def _on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    if isinstance(exc, LoginRequired):
        query = "?ended=1" if exc.why is not None else ""
        response: Response = RedirectResponse(f"{PREFIX}/login{query}", status_code=303)
        if exc.why is not None:
            _clear(response, SESSION_COOKIE)
        return response
    await audit_refusal(request, exc.status, exc.reason)
    viewer = getattr(request.state, "viewer", None)
    return templates.TemplateResponse(
        request,
        "refused.html",
        _context(viewer, title="Not allowed", message=exc.message, status=exc.status),
        status_code=exc.status,
    )


# -- who is looking ----------------------------------------------------------------------------


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
    store = getattr(request.app.state, "dashboard_sessions", None)
    if store is None:
        store = SessionStore(gateway(request).db)
        request.app.state.dashboard_sessions = store
    return store  # type: ignore[no-any-return]


def _audit(request: Request, action: str, **kw: Any) -> int:
    return gateway(request).record(
        action, source=source_ip(request), correlation_id=correlation_id(request.scope), **kw
    )


def _resolve(request: Request) -> Viewer:
    """The live session behind the cookie, with roles narrowed to those held now."""
    gw: Gateway = gateway(request)
    store = sessions(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        session = store.check(cookie)
        principal = gw.directory.find(session.principal)
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
            _audit(
                request,
                "dashboard.session",
                outcome=Outcome.DENIED,
                reason=exc.why.value,
                session_id=exc.handle,
            )
        raise LoginRequired(exc.why if cookie else None) from None
    roles = session.roles & principal.roles
    who = Caller(principal.name, roles, frozenset({FULL_SCOPE}), None, principal)
    return Viewer(session, who)


def _same_origin(request: Request) -> bool:
    """Fetch metadata and Origin, when the browser sends them, must name this origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        return origin == f"https://{host}"
    return True


def page(permission: Permission | None = None) -> Callable[..., Any]:
    """A dependency: the signed-in viewer, holding ``permission``; CSRF-checked on POST."""

    async def guard(request: Request) -> Viewer:
        viewer = await run_in_threadpool(_resolve, request)
        request.state.viewer = viewer
        request.state.caller = viewer.caller  # refusal audit events name the actor
        if request.method == "POST":
            form = await _read_form(request)
            token = form.get(CSRF_FIELD)
            if not _same_origin(request) or not tokens_match(
                viewer.csrf, token if isinstance(token, str) else None
            ):
                raise PageRefused(
                    403,
                    "csrf_failed",
                    "This form was not sent from a dashboard page of your current session. "
                    "Reload the page and try again.",
                )
        if permission is not None and not viewer.can(permission):
            raise PageRefused(
                403,
                "permission_denied",
                f"Your roles do not grant {permission.value!r}, which this page needs.",
            )
        return viewer

    guard.required_permission = permission  # type: ignore[attr-defined]
    return guard


def dashboard_routes() -> set[tuple[str, str]]:
    """Every ``(method, path)`` the dashboard serves."""
    return {
        (method, route.path)  # type: ignore[attr-defined]
        for route in router.routes
        for method in getattr(route, "methods", ())
    }


def page_permissions() -> dict[tuple[str, str], Permission | None]:
    """``(method, path) -> permission`` of every route behind the session guard (None: any
    signed-in viewer). Routes without the guard are absent: they must be in
    :data:`PUBLIC_PAGES`, which a test checks."""
    table: dict[tuple[str, str], Permission | None] = {}
    for route in router.routes:
        dependant = getattr(route, "dependant", None)
        guards = [
            d.call
            for d in (dependant.dependencies if dependant else ())
            if hasattr(d.call, "required_permission")
        ]
        if guards:
            for method in route.methods:  # type: ignore[attr-defined]
                table[(method, route.path)] = guards[0].required_permission  # type: ignore[attr-defined]
    return table


#: routes without a session guard (the login form and the stylesheet)
PUBLIC_PAGES = frozenset(
    {("GET", f"{PREFIX}/login"), ("POST", f"{PREFIX}/login"), ("GET", f"{PREFIX}/static/{{name}}")}
)


# -- rendering helpers ---------------------------------------------------------------------------


def _clear(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


def _set(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def _flash(response: Response, message: str) -> None:
    """A one-shot message for the page after a redirect; set by us, so not forgeable."""
    _set(response, FLASH_COOKIE, quote(message[:300]), max_age=60)


def _iso(t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _context(viewer: Viewer | None, **kw: Any) -> dict[str, Any]:
    return {"viewer": viewer, "iso": _iso, "csrf_field": CSRF_FIELD, **kw}


def _render(
    request: Request, viewer: Viewer | None, name: str, status: int = 200, **kw: Any
) -> Response:
    flash = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(
        request,
        name,
        _context(viewer, flash=unquote(flash) if flash else None, **kw),
        status_code=status,
    )
    if flash:
        _clear(response, FLASH_COOKIE)
    return response


def _redirect(path: str, flash: str | None = None) -> Response:
    response = RedirectResponse(path, status_code=303)
    if flash:
        _flash(response, flash)
    return response


#: every dashboard form is urlencoded and small (the largest, creating a principal, has a name,
#: a kind, six role boxes, a 1024-character password and the token); anything else is not
#: from our pages, and Starlette's own limits (1000 fields of 1 MiB, files spooled to disk
#: without bound) would let anyone who can reach the login form make the server buffer
#: gigabytes
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 32


async def _read_form(request: Request) -> FormData:
    """The request's form, refused unless urlencoded and within the limits above."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (FORM_TYPE, ""):  # no type: an empty form, the body is not read
        raise PageRefused(
            415, "unsupported_media_type", "Dashboard forms are sent URL-encoded; nothing else."
        )
    length = request.headers.get("content-length")
    too_long = PageRefused(413, "body_too_large", "That form is larger than any dashboard form.")
    if length is not None and (not _RECORD_NUMBER.match(length) or int(length) > MAX_FORM_BYTES):
        raise too_long
    try:
        # a body without Content-Length is bounded by the per-field and field-count limits
        return await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )
    except StarletteHTTPException:  # what Starlette raises for a form over the limits
        raise too_long from None


def _field(form: FormData, name: str, max_len: int) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        return None
    return value


# -- static ------------------------------------------------------------------------------------


@router.get("/static/{name}")
def stylesheet(name: str) -> Response:
    """The one stylesheet (no inline styles anywhere, so the CSP can forbid them)."""
    if name != "dashboard.css":
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(_STYLESHEET, media_type="text/css", headers={"etag": f'"{_STYLESHEET_ETAG}"'})


# -- login and logout --------------------------------------------------------------------------


_LOGIN_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _login_form(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    # keep this browser's pre-login cookie while it lasts, so two open sign-in tabs both work
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not _LOGIN_COOKIE_VALUE.match(cookie):
        cookie = new_cookie_value()
    ended = request.query_params.get("ended") == "1" and error is None
    response = _render(
        request,
        None,
        "login.html",
        status,
        title="Sign in",
        login_csrf=login_csrf_for(cookie),
        error=error,
        ended=ended,
    )
    _set(response, LOGIN_COOKIE, cookie, max_age=LOGIN_FORM_TTL)
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    if request.cookies.get(SESSION_COOKIE):
        try:
            await run_in_threadpool(sessions(request).check, request.cookies[SESSION_COOKIE])
            return _redirect(PREFIX)
        except SessionRefused:
            pass
    return _login_form(request)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Password and TOTP in one form, so a failure cannot say which factor was wrong."""
    form = await _read_form(request)
    gw: Gateway = gateway(request)
    ip, rid = source_ip(request), correlation_id(request.scope)
    pre = request.cookies.get(LOGIN_COOKIE)
    previous = request.cookies.get(SESSION_COOKIE)
    token = form.get(CSRF_FIELD)
    if (
        not pre
        or not _same_origin(request)
        or not tokens_match(login_csrf_for(pre), token if isinstance(token, str) else None)
    ):
        await run_in_threadpool(
            lambda: _audit(request, "dashboard.login", outcome=Outcome.DENIED, reason="csrf_failed")
        )
        return _login_form(
            request,
            status=403,
            error="The sign-in form had expired or was not sent from this site. Try again.",
        )
    username = _field(form, "username", 128)
    password = _field(form, "password", 1024)
    code = _field(form, "code", 64)

    def attempt() -> tuple[str, frozenset[Role], str] | VoxsealError:
        if username is None or password is None or code is None:
            _audit(request, "dashboard.login", outcome=Outcome.FAILURE, reason="invalid_input")
            return VoxsealError("missing field", reason="invalid_input")
        try:
            result = gw.authenticator.login(username, password, ip, correlation_id=rid)
            if result.mfa_challenge is None:
                # the dashboard needs both factors even where the API's policy does not
                assert result.access_token is not None
                gw.tokens.revoke(result.access_token.claims)  # type: ignore[arg-type]
                raise VoxsealError("TOTP is not enrolled", reason="mfa_required")
            issued = gw.authenticator.complete_mfa(
                result.mfa_challenge.value, code, ip, correlation_id=rid
            )
        except VoxsealError as exc:
            _audit(
                request,
                "dashboard.login",
                outcome=Outcome.DENIED if isinstance(exc, AccountLocked) else Outcome.FAILURE,
                actor=None,
                target=None,
                reason=exc.reason,
            )
            return exc
        # a browser session never needs the bearer token the login produced
        gw.tokens.revoke(issued.claims)  # type: ignore[arg-type]
        if previous:  # signing in again replaces, never adds to, this browser's session
            sessions(request).revoke(previous)
        principal = gw.directory.get(result.principal.name)
        roles = principal.roles & issued.claims.roles  # type: ignore[union-attr]
        cookie, session = sessions(request).create(principal.name, roles, ip)
        _audit(
            request,
            "dashboard.login",
            actor=principal.name,
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
    response = _redirect(PREFIX)
    _set(response, SESSION_COOKIE, cookie)  # a browser-session cookie; the server times it out
    _clear(response, LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Viewer = Depends(page())) -> Response:  # noqa: B008
    """End the session on the server (every node refuses the cookie from now on)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")

    def end() -> None:
        sessions(request).revoke(cookie)
        _audit(
            request,
            "dashboard.logout",
            actor=viewer.name,
            target=viewer.name,
            session_id=viewer.session.handle,
        )

    await run_in_threadpool(end)
    response = _redirect(f"{PREFIX}/login")
    _clear(response, SESSION_COOKIE)
    return response


# -- home --------------------------------------------------------------------------------------


@router.get("")
async def home(request: Request, viewer: Viewer = Depends(page())) -> Response:  # noqa: B008
    session = viewer.session
    return _render(
        request,
        viewer,
        "home.html",
        title="Overview",
        roles=sorted(r.value for r in viewer.caller.roles),
        permissions=sorted(
            {p.value for r in viewer.caller.roles for p in ROLE_PERMISSIONS.get(r, ())}
        ),
        idle_minutes=int(IDLE_TIMEOUT // 60),
        absolute_hours=int(ABSOLUTE_TIMEOUT // 3600),
        expires_at=session.expires_at,
    )


# -- rooms -------------------------------------------------------------------------------------


@router.get("/rooms")
async def rooms_page(
    request: Request,
    viewer: Viewer = Depends(page(ROOMS_READ)),  # noqa: B008
) -> Response:
    listing = await rooms_api.list_rooms(request, viewer.caller)
    return _render(
        request,
        viewer,
        "rooms.html",
        title="Live rooms",
        rooms=listing["rooms"],
        can_stats=viewer.can(STATS_READ),
    )


@router.get("/rooms/{room}")
async def room_page(
    room: str,
    request: Request,
    viewer: Viewer = Depends(page(STATS_READ)),  # noqa: B008
) -> Response:
    stats: dict[str, Any] | None = None
    if _ROOM.match(room):
        try:
            stats = await rooms_api.room_stats(room, request, viewer.caller)
        except NotFound:
            stats = None
    if stats is None:
        return _render(
            request, viewer, "room.html", 404, title=f"Room {room}", room=room, sessions=None
        )
    return _render(
        request,
        viewer,
        "room.html",
        title=f"Room {room}",
        room=room,
        sessions=stats["sessions"],
        can_remove=viewer.can(ROOMS_REMOVE),
        can_audit=viewer.can(AUDIT_READ),
    )


@router.post("/rooms/{room}/remove")
async def remove_participant(
    room: str,
    request: Request,
    viewer: Viewer = Depends(page(ROOMS_REMOVE)),  # noqa: B008
) -> Response:
    """The API's removal (close 4410, the others rekey, ``rtc.remove`` audited)."""
    form = await _read_form(request)
    identity = _field(form, "identity", 128)
    back = f"{PREFIX}/rooms/{quote(room, safe='')}" if _ROOM.match(room) else f"{PREFIX}/rooms"
    if identity is None or not _ROOM.match(room):
        await audit_refusal(request, 422, "invalid_input")
        return _redirect(back, "Choose a participant to remove.")
    try:
        await rooms_api.remove_participant(room, identity, request, viewer.caller)
    except NotFound:  # audited by the API function as a failed rtc.remove
        return _redirect(back, f"{identity} is not in room {room} (any more).")
    return _redirect(
        back, f"Removed {identity} from {room}. The remaining participants start a new key epoch."
    )


# -- audit log ---------------------------------------------------------------------------------

_OUTCOMES = tuple(o.value for o in Outcome)


def _parse_time(value: str | None) -> float | None:
    """``YYYY-MM-DDTHH:MM[:SS]`` (what ``<input type=datetime-local>`` sends), read as UTC."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(value)


@router.get("/audit")
async def audit_page(
    request: Request,
    viewer: Viewer = Depends(page(AUDIT_READ)),  # noqa: B008
) -> Response:
    """Filtered, newest first, keyset-paged (``before``); each record's verification status."""
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:256] for k in ("actor", "action", "outcome", "target")}
    times = {k: (q.get(k) or "")[:32] for k in ("since", "until")}
    # field -> message: the template ties each message to its input (aria-describedby)
    problems: dict[str, str] = {}
    if filters["outcome"] and filters["outcome"] not in _OUTCOMES:
        problems["outcome"] = "Outcome must be one of: " + ", ".join(_OUTCOMES) + "."
    parsed: dict[str, float | None] = {}
    for k, v in times.items():
        try:
            parsed[k] = _parse_time(v)
        except ValueError:
            label = "From" if k == "since" else "Until"
            problems[k] = f"{label} must be a date and time such as 2026-01-31T14:05 (UTC)."
    before_raw = q.get("before")
    # ASCII digits only, and few enough for a 64-bit SQL parameter: ``str.isdigit`` also
    # accepts "²" (which ``int`` refuses) and other scripts' digits
    before = int(before_raw) if before_raw and _RECORD_NUMBER.match(before_raw) else None
    if before_raw and before is None:
        problems["before"] = "'before' must be a record number."
    if problems:
        return _render(
            request,
            viewer,
            "audit.html",
            422,
            title="Audit log",
            filters=filters,
            times=times,
            outcomes=_OUTCOMES,
            problems=problems,
            records=[],
            report=None,
            next_query=None,
        )
    gw: Gateway = gateway(request)

    def read() -> list[Any]:
        records = gw.audit.query(
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            outcome=filters["outcome"] or None,
            target=filters["target"] or None,
            since=parsed.get("since"),
            until=parsed.get("until"),
            before_seq=before,
            newest_first=True,
            limit=min(AUDIT_PAGE, MAX_LIMIT),
        )
        # reading the log is itself an audited read, as on GET /v1/audit
        _audit(
            request,
            "audit.read",
            actor=viewer.name,
            target="audit_log",
            count=len(records),
            view="dashboard",
        )
        return records

    records = await run_in_threadpool(read)
    report = None
    verification = None
    if viewer.can(AUDIT_VERIFY):
        verification = await run_in_threadpool(_verify, request, viewer)
        report = verification.report
    rows = [
        {
            "seq": r.seq,
            "time": r.isotime,
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "outcome": r.outcome,
            "source": r.source,
            "details": json.dumps(r.details, separators=(", ", ": "), sort_keys=True),
            "status": _record_status(r.seq, report),
        }
        for r in records
    ]
    next_query = None
    if len(records) == AUDIT_PAGE:
        kept = {k: v for k, v in {**filters, **times}.items() if v}
        next_query = urlencode({**kept, "before": records[-1].seq})
    return _render(
        request,
        viewer,
        "audit.html",
        title="Audit log",
        filters=filters,
        times=times,
        outcomes=_OUTCOMES,
        problems={},
        records=rows,
        report=report,
        verification=verification,
        full_every_minutes=int(FULL_EVERY // 60),
        next_query=next_query,
    )


def chain_watch(request: Request) -> ChainWatch:
    watch = getattr(request.app.state, "dashboard_chain", None)
    if watch is None:
        gw: Gateway = gateway(request)
        watch = ChainWatch(gw.db, [gw.audit_public_key()])
        request.app.state.dashboard_chain = watch
    return watch  # type: ignore[no-any-return]


def _verify(request: Request, viewer: Viewer) -> Verification:
    """The chain's status for this view (see :mod:`.verification`), audited like
    ``GET /v1/audit/verify`` with how much was checked."""
    result = chain_watch(request).verify()
    _audit(
        request,
        "audit.verify",
        actor=viewer.name,
        target="audit_log",
        ok=bool(result.report["ok"]),
        records=result.checked,
        mode=result.mode,
        view="dashboard",
    )
    return result


def _record_status(seq: int, report: dict[str, Any] | None) -> tuple[str, str]:
    """``(label, explanation)`` for one record given the whole-chain verification."""
    if report is None:
        return "not checked", "verifying needs the audit:verify permission"
    anchored_to = int(report["head_seq"]) - int(report["unanchored"])
    broken = report["broken_seq"]
    if broken is not None and seq >= int(broken):
        return "broken", f"the chain breaks at record {broken}: {report['problem']}"
    if seq > int(report["head_seq"]):
        return "pending", "written after the verification ran"
    if seq <= anchored_to:
        return "verified", "hash chain intact and covered by a signed checkpoint"
    return "verified", "hash chain intact; not yet covered by a signed checkpoint"


# -- consents ----------------------------------------------------------------------------------


@router.get("/consents")
async def consents_page(
    request: Request,
    viewer: Viewer = Depends(page(CONSENTS_READ)),  # noqa: B008
) -> Response:
    subject = (request.query_params.get("subject") or "").strip()
    data = None
    problem = None
    if subject:
        if not SUBJECT_ID.fullmatch(subject):
            problem = "A subject id is 1-128 of letters, digits and . _ : - (never a name)."
        else:
            data = await run_in_threadpool(
                consents_api.read_consents, subject, request, viewer.caller
            )
    return _render(
        request,
        viewer,
        "consents.html",
        422 if problem else 200,
        title="Consent records",
        subject=subject if not problem else "",
        data=data,
        problem=problem,
    )


# -- users and roles ---------------------------------------------------------------------------

_ASSIGNABLE = tuple(r.value for r in Role)


@router.get("/users")
async def users_page(
    request: Request,
    viewer: Viewer = Depends(page(USERS_READ)),  # noqa: B008
) -> Response:
    listing = await run_in_threadpool(users_api.list_users, request, viewer.caller)
    return _render(
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


#: held across "is another enabled admin left?" and the change, so two administrators
#: demoting each other at once cannot both pass the check (on this node: the directory has no
#: transaction spanning both, so nodes sharing a store can still race; see the review notes)
_ADMIN_CHANGES = threading.Lock()


def _keep_an_admin(
    gw: Gateway, name: str, *, roles: frozenset[Role] | None = None, disabled: bool | None = None
) -> None:
    """Refuse a change that would leave no enabled administrator.

    Without one nobody can manage principals any more (only ``admin`` holds ``users:write``
    and ``roles:write``), and the dashboard would have let the last one untick their own box.
    Changes to anyone who is not an enabled admin now cannot lower the count, so they pass.
    """
    target = gw.directory.get(name)
    if Role.ADMIN not in target.roles or target.disabled:
        return
    after_roles = target.roles if roles is None else roles
    after_disabled = target.disabled if disabled is None else disabled
    if Role.ADMIN in after_roles and not after_disabled:
        return
    others = [
        p
        for p in gw.directory.list()
        if p.id != target.id and Role.ADMIN in p.roles and not p.disabled
    ]
    if not others:
        raise Conflict(
            f"{target.name} is the last enabled administrator; the change would leave no "
            "enabled administrator (make someone else an administrator first)",
            reason="last_admin",
        )


def _roles_of(form: FormData) -> list[str]:
    return [v for v in form.getlist("roles") if isinstance(v, str)][: len(Role)]


async def _user_change(request: Request, action: Callable[[], Any], done: str) -> Response:
    """Run an API user operation; refusals become a message on the users page (and audited)."""
    try:
        await run_in_threadpool(action)
    except ValidationError as exc:
        await audit_refusal(request, 422, "invalid_input")
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return _redirect(f"{PREFIX}/users", f"Not changed: check {', '.join(fields)}.")
    except VoxsealError as exc:
        await audit_refusal(request, exc.http_status, exc.reason)
        return _redirect(f"{PREFIX}/users", f"Not changed: {exc}")
    return _redirect(f"{PREFIX}/users", done)


@router.post("/users")
async def create_user(
    request: Request,
    viewer: Viewer = Depends(page(USERS_CREATE)),  # noqa: B008
) -> Response:
    form = await _read_form(request)
    kind = form.get("kind") if form.get("kind") in ("human", "service") else "human"
    name = form.get("name") if isinstance(form.get("name"), str) else ""
    password = form.get("password") if kind == "human" else None

    def create() -> None:
        body = users_api.CreatePrincipal(
            name=name,  # type: ignore[arg-type]
            roles=_roles_of(form),  # type: ignore[arg-type]
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
    form = await _read_form(request)

    def change() -> None:
        body = users_api.SetRoles(roles=_roles_of(form))  # type: ignore[arg-type]
        with _ADMIN_CHANGES:
            _keep_an_admin(gateway(request), name, roles=frozenset(body.roles))
            users_api.set_roles(name, body, request, viewer.caller)

    return await _user_change(request, change, f"Changed the roles of {name}.")


@router.post("/users/{name}/disabled")
async def set_disabled(
    name: str,
    request: Request,
    viewer: Viewer = Depends(page(USERS_DISABLE)),  # noqa: B008
) -> Response:
    form = await _read_form(request)
    disabled = form.get("disabled") == "true"

    def change() -> None:
        body = users_api.SetDisabled(disabled=disabled)
        with _ADMIN_CHANGES:
            _keep_an_admin(gateway(request), name, disabled=disabled)
            principal = users_api.set_disabled(name, body, request, viewer.caller)
        if disabled:
            ended = sessions(request).revoke_principal(str(principal["name"]))
            if ended:
                _audit(
                    request,
                    "dashboard.session.revoke",
                    actor=viewer.name,
                    target=str(principal["name"]),
                    count=ended,
                    reason="principal_disabled",
                )

    verb = "Disabled" if disabled else "Enabled"
    return await _user_change(request, change, f"{verb} {name}.")


def install(app: FastAPI) -> None:
    """Serve the dashboard on ``app`` (outside the OpenAPI document: these are pages)."""
    app.include_router(router)
    app.add_exception_handler(PageRefused, _on_refused)
