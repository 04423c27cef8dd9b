"""``wss://…/v1/rtc``: room signaling, protocol version 1.

The WebSocket edge of :mod:`voxseal.media.rooms`. A connection is admitted only with a valid
join token (in the first ``join`` message, or ``?token=`` for clients that cannot send one
first); from then on every message is checked against the participant's room and grants, and
E2EE payloads are relayed between participants of the same room as opaque strings. Refusals
are typed: a non-fatal one is an ``error`` message, a fatal one a close code (below), and both
are audit events. Nothing in a message ever reaches a log or the audit log except ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from voxseal.audit.events import Outcome
from voxseal.errors import InvalidInput, PermissionDenied, TokenError, VoxsealError
from voxseal.gateway import Gateway
from voxseal.identity.tokens import JoinClaims
from voxseal.media.errors import NoReceiveSlot
from voxseal.media.peer import offered_directions
from voxseal.media.pool import PooledSfu as Sfu
from voxseal.media.rooms import Delivery, Grants, LeaveReason, Participant, RoomRegistry
from voxseal.signaling.headers import correlation_id

log = logging.getLogger("voxseal.rtc")

PROTOCOL_VERSION = 1
#: seconds a new connection has to send its ``join``
JOIN_TIMEOUT = 10.0
#: one text frame, at most (uvicorn's ws_max_size bounds the transport at 1 MiB)
MAX_MESSAGE = 64 * 1024
#: messages per second per connection, with a burst of the same size
RATE_PER_SECOND = 50.0


class Close:
    """WebSocket close codes (4000–4999 are the application's)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    INTERNAL_ERROR = 1011
    PROTOCOL_ERROR = 4400  # malformed JSON, wrong first message, unsupported version
    UNAUTHENTICATED = 4401  # join token missing, invalid, expired or revoked
    FORBIDDEN = 4403  # token valid but not for this (room, identity)
    JOIN_TIMEOUT = 4408
    REPLACED = 4409  # the same identity joined again elsewhere
    REMOVED = 4410  # a room admin removed this participant
    TOO_LARGE = 4413
    RATE_LIMITED = 4429
    ROOM_FULL = 4503


class ProtocolError(VoxsealError):
    reason = "protocol_error"

    def __init__(self, message: str, code: int = Close.PROTOCOL_ERROR) -> None:
        self.code = code
        super().__init__(message)


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


#: the E2EE receive counters an endpoint may report (it alone can see SFrame failures)
REPORTED_COUNTERS = (
    "frames_received",
    "frames_decrypted",
    "auth_failures",
    "replays",
    "unknown_key",
    "malformed",
    "decode_errors",
)


@dataclass
class SessionStats:
    """What signaling knows of a session, plus the endpoint's own E2EE receive counters.

    The SFU cannot see SFrame failures (it holds no key); receivers report them, as counts
    only, in ``stats`` messages.
    """

    messages_in: int = 0
    e2ee_relayed: int = 0
    refused: int = 0
    key_epochs: int = 0
    reported: dict[str, int] = field(default_factory=dict)

    def report(self, counters: Any) -> None:
        if not isinstance(counters, dict):
            raise InvalidInput("stats.e2ee must be an object of counters", reason="bad_message")
        clean = {}
        for name in REPORTED_COUNTERS:
            value = counters.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
                raise InvalidInput(f"stats.e2ee.{name} must be a count", reason="bad_message")
            clean[name] = value
        self.reported = clean


@dataclass(frozen=True)
class StatsEvent:
    """One session's stats at one moment, for monitoring (ids and counters, no content)."""

    time: float
    room: str
    participant: str
    identity: str
    key_epoch: int
    signaling: dict[str, Any]
    media: dict[str, Any] | None


class StatsBus:
    """Fan-out of :class:`StatsEvent` to in-process subscribers (monitoring, the stream API).

    Each subscriber has a bounded queue; a slow one loses its oldest events, never slows
    the media plane or the others.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self._queues: set[asyncio.Queue[StatsEvent]] = set()
        self._maxsize = maxsize

    def publish(self, event: StatsEvent) -> None:
        for q in self._queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[StatsEvent]:
        q: asyncio.Queue[StatsEvent] = asyncio.Queue(self._maxsize)
        self._queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._queues)


class RtcHub:
    """Live connections of this node, keyed by participant id; all state on the event loop."""

    def __init__(self, gw: Gateway, registry: RoomRegistry | None = None) -> None:
        self.gw = gw
        self.rooms = registry or RoomRegistry()
        self.sockets: dict[str, WebSocket] = {}
        self.stats: dict[str, SessionStats] = defaultdict(SessionStats)
        #: one blind SFU per live room with media; it never holds an SFrame key
        self.sfus: dict[str, Sfu] = {}
        self.bus = StatsBus()
        #: told ``(room, identity)`` of every admitted join (agent dispatch tracks callers)
        self.on_join: Callable[[str, str], None] | None = None

    async def sample(self, *, publish: bool = True) -> list[StatsEvent]:
        """Every live session's stats now; returned and (by default) published on the bus."""
        events = []
        now = time.time()
        for room in list(self.rooms.rooms.values()):
            for p in list(room.participants.values()):
                events.append(
                    StatsEvent(
                        now,
                        room.name,
                        p.id,
                        p.identity,
                        p.key_epoch,
                        asdict(self.stats.get(p.id, SessionStats())),
                        await self.media_stats(p),
                    )
                )
        if publish:
            for e in events:
                self.bus.publish(e)
        return events

    async def sample_forever(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.bus.subscribers:
                try:
                    await self.sample()
                except Exception:
                    log.exception("stats sampling failed")

    # -- media --------------------------------------------------------------------------

    async def media_offer(self, me: Participant, sdp: Any) -> str:
        """Terminate ``me``'s DTLS-SRTP session at the room's SFU and wire it per grants."""
        if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_MESSAGE:
            raise InvalidInput("offer.sdp must be an SDP string", reason="bad_message")
        sfu = self.sfus.get(me.room)
        if sfu is not None and me.id in sfu.participants:
            raise InvalidInput("renegotiation is not supported; rejoin", reason="renegotiation")
        sending = {"sendonly", "sendrecv"} & set(offered_directions(sdp).values())
        if sending and not me.grants.publish:
            raise PermissionDenied(
                "this join token has no publish grant: offer receive-only media",
                reason="no_publish_grant",
            )
        sfu = self.sfus.setdefault(me.room, Sfu())
        answer = await sfu.add_participant(me.id, sdp)
        await self._wire(me)
        return answer

    async def _wire(self, me: Participant) -> None:
        """Subscribe by grants: who publishes reaches who subscribes, nobody else."""
        sfu = self.sfus[me.room]
        room = self.rooms.rooms.get(me.room)
        if room is None:
            return
        for other in room.others(me.id):
            if other.id not in sfu.participants:
                continue
            for sub, pub in ((me, other), (other, me)):
                if pub.grants.publish and sub.grants.subscribe:
                    try:
                        sfu.subscribe(sub.id, pub.id)
                    except NoReceiveSlot as exc:
                        await self.deliver(
                            [
                                Delivery(
                                    sub.id,
                                    {"type": "error", "reason": exc.reason, "detail": str(exc)},
                                )
                            ]
                        )

    async def media_leave(self, participant: Participant) -> None:
        """Best effort: a lost SFU worker must not keep a participant in the room."""
        sfu = self.sfus.get(participant.room)
        if sfu is None:
            return
        try:
            await sfu.remove_participant(participant.id)
            if not sfu.participants:
                self.sfus.pop(participant.room, None)
                await sfu.close()
        except Exception:
            log.exception("media teardown of %s failed", participant.id)

    async def media_stats(self, participant: Participant) -> dict[str, Any] | None:
        sfu = self.sfus.get(participant.room)
        if sfu is None or participant.id not in sfu.participants:
            return None
        return asdict(await sfu.stats(participant.id))

    async def audit(self, action: str, outcome: Outcome = Outcome.SUCCESS, **fields: Any) -> None:
        await run_in_threadpool(lambda: self.gw.record(action, outcome=outcome, **fields))

    async def deliver(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            ws = self.sockets.get(d.to)
            if ws is None:
                continue
            try:
                await ws.send_text(json.dumps(d.message, separators=(",", ":")))
            except Exception:  # the receiver's own loop notices and cleans up
                log.debug("could not deliver %s to %s", d.message.get("type"), d.to)

    async def close(self, pid: str, code: int, reason: str) -> None:
        ws = self.sockets.pop(pid, None)
        if ws is not None:
            try:
                await ws.close(code=code, reason=reason)
            except Exception:
                log.debug("close of %s failed (already gone)", pid)

    async def remove(self, victim: Participant, deliveries: list[Delivery], *, by: str) -> None:
        await self.close(victim.id, Close.REMOVED, "removed by a room admin")
        await self.deliver(deliveries)  # before media teardown, which may fail: rekey first
        await self.media_leave(victim)
        await self.audit(
            "rtc.remove", actor=by, target=victim.identity, room=victim.room, participant=victim.id
        )


router = APIRouter()


def _hub(ws: WebSocket) -> RtcHub:
    return ws.app.state.rtc  # type: ignore[no-any-return]


async def _receive(ws: WebSocket, bucket: TokenBucket) -> dict[str, Any]:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise ProtocolError("only JSON text frames are accepted", Close.UNSUPPORTED_DATA)
    if len(text) > MAX_MESSAGE:
        raise ProtocolError(f"message larger than {MAX_MESSAGE} bytes", Close.TOO_LARGE)
    if not bucket.take():
        raise ProtocolError("too many messages", Close.RATE_LIMITED)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ProtocolError("message is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("message must be a JSON object with a string 'type'")
    return data


def _claims(hub: RtcHub, token: Any) -> JoinClaims:
    if not isinstance(token, str) or not token:
        raise TokenError("a join token is required", reason="missing_token")
    return hub.gw.tokens.verify_join(token)


@router.websocket("/v1/rtc")
async def rtc(ws: WebSocket) -> None:
    """One signaling session; an unexpected failure closes it (1011), never the server."""
    try:
        await _session(ws)
    except Exception:
        log.exception("signaling session failed")
        try:
            await ws.close(code=Close.INTERNAL_ERROR, reason="internal error")
        except Exception:
            log.debug("peer already gone")


async def _session(ws: WebSocket) -> None:
    hub = _hub(ws)
    source = ws.client.host if ws.client else None
    rid = correlation_id(ws.scope)
    await ws.accept()
    bucket = TokenBucket(RATE_PER_SECOND, RATE_PER_SECOND)
    me: Participant | None = None

    async def refuse(code: int, reason: str, detail: str, **audit: Any) -> None:
        await hub.audit(
            "rtc.refused",
            Outcome.DENIED,
            actor=me.identity if me else None,
            target=me.room if me else None,
            source=source,
            correlation_id=rid,
            reason=reason,
            ws_close=code,
            **audit,
        )
        try:
            await ws.send_text(json.dumps({"type": "error", "reason": reason, "detail": detail}))
            await ws.close(code=code, reason=reason[:120])
        except Exception:
            log.debug("peer gone before the refusal reached it")

    # -- admission -------------------------------------------------------------------------
    try:
        first = await asyncio.wait_for(_receive(ws, bucket), JOIN_TIMEOUT)
        if first["type"] != "join":
            raise ProtocolError("the first message must be 'join'")
        if first.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            raise ProtocolError(
                f"unsupported protocol version; this server speaks {PROTOCOL_VERSION}"
            )
        try:
            claims = _claims(hub, first.get("token") or ws.query_params.get("token"))
        except TokenError as exc:
            await refuse(Close.UNAUTHENTICATED, exc.reason, str(exc))
            return
        key = first.get("identity_key") or {}
        g = claims.grants
        try:
            me, deliveries, replaced = hub.rooms.join(
                claims.room,
                claims.identity,
                Grants(g.publish, g.subscribe, g.admin),
                key.get("did") if isinstance(key, dict) else None,
                key.get("doc") if isinstance(key, dict) else None,
                now=time.time(),
            )
        except VoxsealError as exc:
            code = Close.ROOM_FULL if exc.reason == "room_full" else Close.PROTOCOL_ERROR
            await refuse(code, exc.reason, str(exc), room=claims.room)
            return
    except TimeoutError:
        await refuse(Close.JOIN_TIMEOUT, "join_timeout", "no join message in time")
        return
    except ProtocolError as exc:
        await refuse(exc.code, exc.reason, str(exc))
        return
    except WebSocketDisconnect:
        return

    # Register and greet before anything can await: from the moment the registry lists us,
    # peers may address us (their sealed keys must not be dropped), and our own "joined" must
    # be the first message on this socket.
    hub.sockets[me.id] = ws
    if hub.on_join is not None:
        hub.on_join(me.room, me.identity)
    await hub.deliver([d for d in deliveries if d.to == me.id])
    if replaced is not None:
        await hub.close(replaced.id, Close.REPLACED, "the same identity joined again")
        await hub.media_leave(replaced)
        await hub.audit(
            "rtc.leave", actor=replaced.identity, target=replaced.room, reason="replaced"
        )
    await hub.deliver([d for d in deliveries if d.to != me.id])
    await hub.audit(
        "rtc.join",
        actor=me.identity,
        target=me.room,
        source=source,
        correlation_id=rid,
        participant=me.id,
        grants=me.grants.names(),
        jti=claims.jti,
    )

    # -- the session -----------------------------------------------------------------------
    reason = LeaveReason.DISCONNECTED
    stats = hub.stats[me.id]
    try:
        while hub.sockets.get(me.id) is ws:
            try:
                msg = await _receive(ws, bucket)
            except ProtocolError as exc:
                await refuse(exc.code, exc.reason, str(exc))
                return
            stats.messages_in += 1
            kind = msg["type"]
            try:
                if kind in ("e2ee", "data"):
                    await hub.deliver(
                        [hub.rooms.relay_e2ee(me.id, msg.get("to"), msg.get("payload"), kind)]
                    )
                    stats.e2ee_relayed += 1
                elif kind == "key_epoch":
                    deliveries = hub.rooms.announce_epoch(me.id, msg.get("epoch"))
                    stats.key_epochs += 1
                    await hub.deliver(deliveries)
                    await hub.audit(
                        "rtc.rekey", actor=me.identity, target=me.room, epoch=me.key_epoch
                    )
                elif kind == "remove":
                    victim, deliveries = hub.rooms.remove(me.id, msg.get("participant"))
                    await hub.remove(victim, deliveries, by=me.identity)
                elif kind == "offer":
                    answer = await hub.media_offer(me, msg.get("sdp"))
                    await ws.send_text(json.dumps({"type": "answer", "sdp": answer}))
                    await hub.audit(
                        "rtc.media",
                        actor=me.identity,
                        target=me.room,
                        participant=me.id,
                        publish=me.grants.publish,
                        subscribe=me.grants.subscribe,
                    )
                elif kind == "stats":
                    stats.report(msg.get("e2ee"))
                elif kind == "ping":
                    await ws.send_text(json.dumps({"type": "pong", "t": msg.get("t")}))
                elif kind == "leave":
                    reason = LeaveReason.LEFT
                    return
                else:
                    raise ProtocolError(f"unknown message type {kind[:32]!r}")
            except ProtocolError as exc:
                await refuse(exc.code, exc.reason, str(exc))
                return
            except VoxsealError as exc:
                stats.refused += 1
                await hub.audit(
                    "rtc.refused",
                    Outcome.DENIED,
                    actor=me.identity,
                    target=me.room,
                    source=source,
                    correlation_id=rid,
                    reason=exc.reason,
                    message=kind[:32],
                )
                await ws.send_text(
                    json.dumps({"type": "error", "reason": exc.reason, "detail": str(exc)})
                )
    except WebSocketDisconnect:
        pass
    finally:
        if hub.sockets.get(me.id) is ws:
            del hub.sockets[me.id]
            deliveries = hub.rooms.leave(me.id, reason)  # first: the others must rekey
            await hub.media_leave(me)
            await hub.deliver(deliveries)
            await hub.audit(
                "rtc.leave",
                actor=me.identity,
                target=me.room,
                participant=me.id,
                reason=reason.value,
            )
            if reason is LeaveReason.LEFT:
                try:
                    await ws.close(code=Close.NORMAL)
                except Exception:
                    log.debug("peer already closed")
        hub.stats.pop(me.id, None)
