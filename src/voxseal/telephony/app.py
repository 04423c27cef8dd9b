"""The ingress's ASGI app: signed provider webhooks and token-gated media WebSockets.

Webhooks (``POST /v1/telephony/twilio/voice``, ``GET|POST /v1/telephony/vonage/answer``,
``POST /v1/telephony/signalwire/voice``) are refused with 403 and a ``telephony.webhook``
audit event unless the provider's signature verifies; an accepted one answers TwiML / cXML /
NCCO that carries a fresh single-use stream token bound to the call.

Media streams (``wss://…/v1/telephony/twilio/stream``, ``…/signalwire/stream``,
``…/vonage/ws``) take no audio before that token is redeemed — in Twilio's ``start`` frame or
Vonage's ``websocket:connected`` headers — and close with a documented code and a
``telephony.stream.refused`` audit event on anything else (see docs/telephony.md):

====  ==========================================================================
1000  the provider stopped the stream, or the call ended
1007  malformed frame: not the provider's protocol (bad JSON, order, base64, …)
1008  policy: missing, bad, expired, replayed or foreign stream token; no start
      frame in time; provider not configured; audio flooding faster than real time
1009  a message too large for the protocol
1011  the call could not be put into a room (gateway refused or unreachable), or an
      unexpected error (the adapter carries on with its other calls)
====  ==========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from voxseal import __version__
from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.errors import VoxsealError
from voxseal.signaling.errors import install_error_handlers, refusal
from voxseal.signaling.headers import SecurityHeaders, correlation_id
from voxseal.telephony import twilio as tw
from voxseal.telephony import vonage as vg
from voxseal.telephony.bridge import CallBridge
from voxseal.telephony.errors import (
    CLOSE_POLICY_VIOLATION,
    InvalidSignature,
    MalformedFrame,
    TelephonyError,
)
from voxseal.telephony.events import StreamConnected, StreamStarted, StreamStopped, UnknownEvent
from voxseal.telephony.ingress import (
    GatewayUnavailable,
    Ingress,
    PendingCall,
    check_call_id,
)
from voxseal.telephony.serializer import ProviderSerializer, WireFrame
from voxseal.telephony.signalwire import SignalWireSerializer, connect_stream_cxml

log = logging.getLogger("voxseal.telephony")

#: the largest webhook body we read (Twilio's and Vonage's are a few KiB)
MAX_WEBHOOK_BODY: Final = 64 * 1024
#: a media stream must present its token within this many seconds of connecting
START_TIMEOUT: Final = 10.0
CLOSE_NORMAL: Final = 1000
CLOSE_INTERNAL: Final = 1011
CLOSE_TRY_AGAIN_LATER: Final = 1013
#: seconds between two audit events for sockets refused over max_unadmitted_streams
OVERFLOW_AUDIT_INTERVAL: Final = 1.0
#: distinct unknown event names a stream tracks; the rest are counted as "(other)"
MAX_UNKNOWN_EVENT_NAMES: Final = 8
#: each provider's media-stream protocol: the only per-provider part of a stream
SERIALIZERS: Final[dict[str, Callable[[], ProviderSerializer]]] = {
    "twilio": tw.TwilioSerializer,
    "signalwire": SignalWireSerializer,
    "vonage": vg.VonageSerializer,
}


class ProviderDisabled(TelephonyError):
    reason = "provider_not_configured"
    http_status = 404


class BodyTooLarge(TelephonyError):
    reason = "body_too_large"
    http_status = 413


def _ingress(conn: Request | WebSocket) -> Ingress:
    return conn.app.state.ingress  # type: ignore[no-any-return]


async def _body(request: Request) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_WEBHOOK_BODY):
        raise BodyTooLarge("webhook body too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BODY:
            raise BodyTooLarge("webhook body too large")
    return body


# -- webhooks ---------------------------------------------------------------------------------


async def _webhook(
    request: Request,
    provider: str,
    answer: Callable[[Ingress, Request, bytes], Awaitable[tuple[str, str | None, Response]]],
) -> Response:
    """Verify, answer, audit — or refuse (403 for signatures) and audit the refusal."""
    ingress = _ingress(request)
    source = request.client.host if request.client else None
    rid = correlation_id(request.scope)
    try:
        body = await _body(request)
        call_id, subject, response = await answer(ingress, request, body)
    except TelephonyError as exc:
        await ingress.audit(
            AuditAction.TELEPHONY_WEBHOOK,
            target=request.url.path,
            outcome=Outcome.DENIED if isinstance(exc, InvalidSignature) else Outcome.FAILURE,
            source=source,
            correlation_id=rid,
            provider=provider,
            reason=exc.reason,
            status=exc.http_status,
        )
        return refusal(exc.http_status, exc.reason, str(exc))
    await ingress.audit(
        AuditAction.TELEPHONY_WEBHOOK,
        target=call_id,
        source=source,
        correlation_id=rid,
        provider=provider,
        subject=subject,
    )
    return response


def _issue(
    ingress: Ingress, provider: str, call_id: str, number: str | None
) -> tuple[str, str | None]:
    """A stream token for the call, and the call remembered for its stream (blocking: the
    pending call is written to the store)."""
    subject = ingress.subjects.subject_id(number)
    token = ingress.tokens.issue(call_id, provider, ttl=ingress.stream_token_ttl)
    ingress.pending.add(
        PendingCall(provider, call_id, subject, time.time() + ingress.stream_token_ttl + 5)
    )
    return token, subject


def _form(request: Request, body: bytes) -> tuple[list[tuple[str, str]] | None, bytes | None]:
    """Form webhooks are signed over their parameters, JSON ones over ``bodySHA256``."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return None, body
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False), None
    except (UnicodeDecodeError, ValueError):
        raise InvalidSignature("webhook body is not a form", reason="malformed_webhook") from None


def _twilio_like(provider: str) -> Callable[[Ingress, Request, bytes], Awaitable[Any]]:
    async def answer(
        ingress: Ingress, request: Request, body: bytes
    ) -> tuple[str, str | None, Response]:
        verifier = getattr(ingress, provider)
        if verifier is None:
            raise ProviderDisabled(f"{provider} is not configured on this ingress")
        params, raw = _form(request, body)
        verifier.verify(str(request.url), request.headers, params=params, body=raw)
        fields: object
        if params is not None:
            fields = dict(params)
        else:
            try:
                fields = json.loads(raw or b"{}")
            except ValueError:
                fields = None
            if not isinstance(fields, dict):
                raise TelephonyError(
                    "webhook body is not a JSON object", reason="malformed_webhook"
                )
        call_id = check_call_id(fields.get("CallSid"))
        number = fields.get("From")
        token, subject = await asyncio.to_thread(
            _issue, ingress, provider, call_id, number if isinstance(number, str) else None
        )
        build = connect_stream_cxml if provider == "signalwire" else tw.connect_stream_twiml
        xml = build(ingress.stream_url(provider), {"token": token})
        return call_id, subject, Response(xml, media_type="application/xml")

    return answer


async def _vonage_answer(
    ingress: Ingress, request: Request, body: bytes
) -> tuple[str, str | None, Response]:
    if ingress.vonage is None:
        raise ProviderDisabled("vonage is not configured on this ingress")
    ingress.vonage.verify(request.headers, body)
    if request.method == "GET":
        fields: Any = dict(request.query_params)
    else:
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise TelephonyError(
                "answer webhook body is not a JSON object", reason="malformed_webhook"
            )
    call_id = check_call_id(fields.get("uuid"))
    number = fields.get("from")
    token, subject = await asyncio.to_thread(
        _issue, ingress, "vonage", call_id, number if isinstance(number, str) else None
    )
    ncco = vg.connect_websocket_ncco(
        ingress.stream_url("vonage"), headers={"token": token, "call": call_id}, rate=16000
    )
    return call_id, subject, JSONResponse(ncco)


# -- media streams ----------------------------------------------------------------------------


class _Stream:
    """One provider WebSocket: its refusal path, its bridge, its audit trail.

    The provider's protocol stays in its serializer; this edge sees only the neutral events
    of :mod:`voxseal.telephony.events`.
    """

    def __init__(self, ws: WebSocket, provider: str) -> None:
        self.ws = ws
        self.provider = provider
        self.serializer = SERIALIZERS[provider]()
        self.ingress = _ingress(ws)
        self.source = ws.client.host if ws.client else None
        self.rid = correlation_id(ws.scope)
        self.call_id: str | None = None
        self.bridge: CallBridge | None = None
        self.closed = False
        #: well-formed events this version does not know, by name (bounded), ignored
        self.unknown_events: dict[str, int] = {}
        #: counted in ``ingress.unadmitted`` (sockets without a redeemed token)
        self.unadmitted = False
        #: event-loop time by which the stream token must have been redeemed
        self.start_deadline = 0.0

    def admitted(self) -> None:
        if self.unadmitted:
            self.unadmitted = False
            self.ingress.unadmitted -= 1

    def ignore(self, name: str) -> None:
        """A provider event we do not know, on an admitted stream: count it, log it once."""
        if name not in self.unknown_events:
            if len(self.unknown_events) >= MAX_UNKNOWN_EVENT_NAMES:
                name = "(other)"
            else:
                log.info("%s stream: ignoring unknown event %r", self.provider, name)
        self.unknown_events[name] = self.unknown_events.get(name, 0) + 1

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason[:120])

    async def refuse(
        self, exc: TelephonyError | None, code: int, reason: str, **details: Any
    ) -> None:
        await self.ingress.audit(
            AuditAction.TELEPHONY_STREAM_REFUSED,
            target=self.call_id,
            outcome=Outcome.DENIED if code == CLOSE_POLICY_VIOLATION else Outcome.FAILURE,
            source=self.source,
            correlation_id=self.rid,
            provider=self.provider,
            reason=reason,
            ws_close=code,
            **({"detail": str(exc)} if exc is not None else {}),
            **details,
        )
        await self.close(code, reason)

    async def send(self, frame: WireFrame) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_text(frame)

    async def receive(self) -> str | bytes | None:
        timeout = None
        if self.bridge is None:  # one deadline for the whole admission, not one per frame
            timeout = max(0.0, self.start_deadline - asyncio.get_running_loop().time())
        try:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            raise TelephonyError(
                "no stream token within the start timeout", reason="stream_start_timeout"
            ) from None
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("text") is not None:
            return str(message["text"])
        return bytes(message.get("bytes") or b"")

    async def admit(self, token: object, call_id: object) -> None:
        """Redeem the stream token for this call (before any audio), then join the room."""
        if not isinstance(call_id, str) or not call_id:
            raise TelephonyError("the stream names no call", reason="invalid_stream_token")
        self.call_id = call_id[:64]
        # the used-token set and pending calls are in the store: off the event loop
        claims = await asyncio.to_thread(
            self.ingress.tokens.redeem,
            token if isinstance(token, str) else "",
            call_id=call_id,
            provider=self.provider,
        )
        self.admitted()
        pending = await asyncio.to_thread(self.ingress.pending.take, self.provider, claims["sub"])
        bridge = CallBridge(
            self.ingress,
            self.serializer,
            self.send,
            call_id=claims["sub"],
            subject_id=pending.subject_id if pending else None,
            on_room_closed=lambda why: self.close(CLOSE_NORMAL, why),
        )
        try:
            await bridge.start()
        except Exception as exc:  # refused, unreachable, media negotiation timed out
            await bridge.close()
            why = exc.reason if isinstance(exc, VoxsealError) else type(exc).__name__
            raise GatewayUnavailable(f"could not join the call's room: {why}") from None
        except BaseException:
            await bridge.close()
            raise
        self.bridge = bridge
        self.ingress.calls[(self.provider, bridge.call_id)] = bridge
        await self.ingress.audit(
            AuditAction.TELEPHONY_STREAM_START,
            target=bridge.call_id,
            source=self.source,
            correlation_id=self.rid,
            provider=self.provider,
            room=bridge.room_name,
            job=bridge.job,
            subject=bridge.subject_id,
        )

    async def handle(self, frame: WireFrame) -> bool:
        """One frame; False when the stream is over."""
        event = self.serializer.parse(frame)
        if self.bridge is None:
            if isinstance(event, StreamStarted):
                await self.admit(event.token, event.call_id)
            elif not isinstance(event, StreamConnected):
                raise TelephonyError("no stream token yet", reason="invalid_stream_token")
        elif isinstance(event, StreamStarted):  # pragma: no cover - serializers refuse it
            raise MalformedFrame("second stream start")
        elif isinstance(event, UnknownEvent):
            self.ignore(event.name)
        else:
            self.bridge.receive(event)
            if isinstance(event, StreamStopped):
                return False
        return True

    async def run(self) -> None:
        await self.ws.accept()
        self.start_deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        try:
            while not self.closed:
                frame = await self.receive()
                if frame is None or not await self.handle(frame):
                    break
            await self.close(CLOSE_NORMAL, "stream ended")
        except TelephonyError as exc:
            await self.refuse(exc, exc.close_code, exc.reason)
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # one broken call must not take the adapter down
            log.error("telephony stream failed: %s", type(exc).__name__, exc_info=exc)
            await self.refuse(None, CLOSE_INTERNAL, "internal_error")
        finally:
            await self.end()

    async def end(self) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        self.ingress.calls.pop((self.provider, bridge.call_id), None)
        await bridge.close()
        await self.ingress.audit(
            AuditAction.TELEPHONY_STREAM_END,
            target=bridge.call_id,
            source=self.source,
            correlation_id=self.rid,
            provider=self.provider,
            room=bridge.room_name,
            **bridge.summary(),
            unknown_events=self.unknown_events,
        )


async def _stream(ws: WebSocket, provider: str) -> None:
    stream = _Stream(ws, provider)
    ingress = stream.ingress
    if getattr(ingress, provider) is None:
        await ws.accept()
        await stream.refuse(None, CLOSE_POLICY_VIOLATION, "provider_not_configured")
        return
    if ingress.unadmitted >= ingress.settings.telephony.max_unadmitted_streams:
        # a flood must not turn into one durable audit write per socket: at most one event
        # per OVERFLOW_AUDIT_INTERVAL, carrying how many were refused since the last one
        ingress.overflow_refused += 1
        now = time.monotonic()
        await ws.accept()
        if now - ingress.overflow_audited_at >= OVERFLOW_AUDIT_INTERVAL:
            ingress.overflow_audited_at = now
            count, ingress.overflow_refused = ingress.overflow_refused, 0
            await stream.refuse(
                None, CLOSE_TRY_AGAIN_LATER, "too_many_unadmitted_streams", refused=count
            )
        else:
            await stream.close(CLOSE_TRY_AGAIN_LATER, "too_many_unadmitted_streams")
        return
    ingress.unadmitted += 1  # until its token is redeemed (admit) or it ends
    stream.unadmitted = True
    try:
        await stream.run()
    finally:
        stream.admitted()


# -- the app ----------------------------------------------------------------------------------


def create_app(
    ingress: Ingress, *, on_shutdown: Callable[[], Awaitable[None]] | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ingress.audit(
            AuditAction.TELEPHONY_START,
            target="telephony",
            version=__version__,
            providers=ingress.providers,
        )
        yield
        for bridge in list(ingress.calls.values()):
            with contextlib.suppress(Exception):
                await bridge.close()
        await ingress.access.aclose()
        await ingress.audit(AuditAction.TELEPHONY_STOP, target="telephony")
        if on_shutdown is not None:
            await on_shutdown()

    app = FastAPI(
        title="voxseal telephony ingress",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ingress = ingress
    app.state.gateway = ingress.gw  # the shared refusal handlers audit through it
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "providers": ingress.providers}

    @app.post("/v1/telephony/twilio/voice")
    async def twilio_voice(request: Request) -> Response:
        return await _webhook(request, "twilio", _twilio_like("twilio"))

    @app.post("/v1/telephony/signalwire/voice")
    async def signalwire_voice(request: Request) -> Response:
        return await _webhook(request, "signalwire", _twilio_like("signalwire"))

    @app.api_route("/v1/telephony/vonage/answer", methods=["GET", "POST"])
    async def vonage_answer(request: Request) -> Response:
        return await _webhook(request, "vonage", _vonage_answer)

    @app.websocket("/v1/telephony/twilio/stream")
    async def twilio_stream(ws: WebSocket) -> None:
        await _stream(ws, "twilio")

    @app.websocket("/v1/telephony/signalwire/stream")
    async def signalwire_stream(ws: WebSocket) -> None:
        await _stream(ws, "signalwire")

    @app.websocket("/v1/telephony/vonage/ws")
    async def vonage_ws(ws: WebSocket) -> None:
        await _stream(ws, "vonage")

    app.add_middleware(SecurityHeaders)
    return app
