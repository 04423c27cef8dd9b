"""Security headers on every HTTP response, and a correlation id on every request.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware) so it adds nothing to the
WebSocket path and cannot buffer streamed bodies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=(self)"),
    (b"cache-control", b"no-store"),
)

#: browser pages (path -> CSP): their own scripts, styles and workers only, nothing inline, no
#: other origin; DOM sinks need Trusted Types (the call page creates one policy, for its worker)
PAGE_POLICIES: dict[str, bytes] = {
    "/call": b"default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    b"connect-src 'self'; img-src 'self'; media-src 'self'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
    b"trusted-types voxseal-call",
}
#: the admin dashboard (``/admin`` and below): no script at all, its own stylesheet, forms
#: only to itself
DASHBOARD_PREFIX = "/admin"
DASHBOARD_POLICY = (
    b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'"
)
#: content-addressed assets (the name carries the content hash): cacheable for a year
STATIC_PREFIX = "/static/"
STATIC_CACHE = b"public, max-age=31536000, immutable"

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")


def correlation_id(scope: Scope) -> str:
    """The request's correlation id (set by :class:`SecurityHeaders`)."""
    return str(scope.get("state", {}).get("correlation_id", ""))


def _headers_for(path: str, status: int) -> tuple[tuple[bytes, bytes], ...]:
    """The API's headers, with a page's CSP or a static asset's caching where they apply."""
    csp = PAGE_POLICIES.get(path)
    if csp is None and (path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")):
        csp = DASHBOARD_POLICY
    cache = STATIC_CACHE if path.startswith(STATIC_PREFIX) and status in (200, 304) else None
    if csp is None and cache is None:
        return SECURITY_HEADERS
    replaced = {b"content-security-policy": csp, b"cache-control": cache}
    return tuple((k, replaced.get(k) or v) for k, v in SECURITY_HEADERS)


class SecurityHeaders:
    """Adds the headers above and an ``X-Request-ID`` that audit events reuse.

    A client-supplied request id is kept only if it is well-formed, so a caller can correlate
    its own logs without being able to inject content into ours.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER, b"")
        rid = supplied.decode() if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = rid
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {h for h, _ in SECURITY_HEADERS}
                ]
                headers.extend(_headers_for(path, message["status"]))
                headers.append((REQUEST_ID_HEADER, rid.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
