"""How refusals look on the wire, and the audit event each one leaves.

Every refusal is JSON ``{"error": <reason code>, "detail": <human text>}`` with the status the
error class names. The detail comes from our own exception messages, which never carry
secrets; unexpected exceptions become a bare 500 without internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, Outcome
from voxseal.errors import AccountLocked, AuthError, VoxsealError
from voxseal.signaling.headers import correlation_id

log = logging.getLogger("voxseal.signaling")


async def audit_refusal(request: Request | WebSocket, status: int, reason: str) -> None:
    """The ``http.refused`` event of a refused request (a failing log is logged, not raised)."""
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is None:
        return
    caller = getattr(request.state, "caller", None)
    context = AuditContext(
        gateway.audit,
        caller.name if caller else None,
        request.client.host if request.client else None,
        correlation_id(request.scope),
    )
    try:
        await context.arecord(
            AuditAction.HTTP_REFUSED,
            target=f"{request.scope.get('method', 'WS')} {request.url.path}",
            outcome=Outcome.DENIED if status in (401, 403, 429) else Outcome.FAILURE,
            status=status,
            reason=reason,
        )
    except Exception:  # the refusal must still reach the client; the failure is logged
        log.exception("could not audit a refused request")


def refusal(status: int, reason: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": reason, "detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VoxsealError)
    async def on_voxseal_error(request: Request, exc: VoxsealError) -> JSONResponse:
        await audit_refusal(request, exc.http_status, exc.reason)
        response = refusal(exc.http_status, exc.reason, str(exc))
        if isinstance(exc, AccountLocked):
            response.headers["retry-after"] = str(max(1, round(exc.retry_after)))
        elif isinstance(exc, AuthError):
            response.headers["www-authenticate"] = f'Bearer error="{exc.reason}"'
        return response

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        await audit_refusal(request, 422, "invalid_input")
        # name the fields and the problem, never echo the submitted values (may be passwords)
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg")}
            for err in exc.errors()
        ]
        return JSONResponse(
            {"error": "invalid_input", "detail": "request validation failed", "fields": problems},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if exc.status_code >= 400 and exc.status_code != 404:
            await audit_refusal(request, exc.status_code, reason)
        return refusal(exc.status_code, reason, str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return refusal(500, "internal_error", "internal error")
