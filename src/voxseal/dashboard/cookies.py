"""The dashboard's cookies: their names and the one set of attributes they all carry.

Every cookie is ``__Host-`` prefixed, so the browser accepts it only Secure, host-only (no
Domain) and with ``Path=/``; all are HttpOnly (no script on our pages, none may read them) and
SameSite=Strict (a cross-site request arrives without them).
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import Response

#: the signed-in session (a browser-session cookie: the server times it out)
SESSION_COOKIE = "__Host-voxseal-admin"
#: the pre-login cookie the login form's CSRF token is bound to
LOGIN_COOKIE = "__Host-voxseal-login"
#: a one-shot message for the page after a redirect
FLASH_COOKIE = "__Host-voxseal-flash"
FLASH_TTL = 60
MAX_FLASH = 300


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


def set_flash(response: Response, message: str) -> None:
    """Set by us and HttpOnly, so a page can show it without it being forgeable."""
    set_cookie(response, FLASH_COOKIE, quote(message[:MAX_FLASH]), max_age=FLASH_TTL)


def flash_of(request: Request) -> str | None:
    value = request.cookies.get(FLASH_COOKIE)
    return unquote(value) if value else None
