"""Turning a page's data into HTML: the templates, the context every page gets, redirects
that carry a one-shot message, and the refusal page.

No inline styles or scripts anywhere (the one stylesheet is served by :mod:`.pages.static`),
so the content security policy can forbid both outright.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from voxseal.dashboard.cookies import (
    FLASH_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    flash_of,
    set_flash,
)
from voxseal.dashboard.errors import LoginRequired, PageRefused
from voxseal.dashboard.forms import CSRF_FIELD
from voxseal.dashboard.navigation import PREFIX
from voxseal.signaling.errors import audit_refusal

if TYPE_CHECKING:
    from voxseal.dashboard.guard import Viewer

PACKAGE_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")


def iso(t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def context(viewer: Viewer | None, **kw: Any) -> dict[str, Any]:
    """What every template may use: the viewer (for the navigation), times, the CSRF field."""
    return {"viewer": viewer, "iso": iso, "csrf_field": CSRF_FIELD, **kw}


def render(
    request: Request, viewer: Viewer | None, name: str, status: int = 200, **kw: Any
) -> Response:
    """The page ``name``, showing (and then clearing) the message a redirect left."""
    flash = flash_of(request)
    response = templates.TemplateResponse(
        request, name, context(viewer, flash=flash, **kw), status_code=status
    )
    if request.cookies.get(FLASH_COOKIE):
        clear_cookie(response, FLASH_COOKIE)
    return response


def redirect(path: str, flash: str | None = None) -> Response:
    """303 to ``path`` (the browser follows with GET), with a message for that page."""
    response = RedirectResponse(path, status_code=303)
    if flash:
        set_flash(response, flash)
    return response


async def on_refused(request: Request, exc: Exception) -> Response:
    """The answer to a :class:`PageRefused`: the login page, or an audited refusal page."""
    assert isinstance(exc, PageRefused)
    if isinstance(exc, LoginRequired):
        query = "?ended=1" if exc.why is not None else ""
        response: Response = RedirectResponse(f"{PREFIX}/login{query}", status_code=303)
        if exc.why is not None:
            clear_cookie(response, SESSION_COOKIE)
        return response
    await audit_refusal(request, exc.http_status, exc.reason)
    viewer = getattr(request.state, "viewer", None)
    return templates.TemplateResponse(
        request,
        "refused.html",
        context(viewer, title="Not allowed", message=exc.message, status=exc.http_status),
        status_code=exc.http_status,
    )
