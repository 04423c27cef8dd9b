"""``wss://…/v1/rtc``: room signaling, protocol version 1.

The WebSocket edge of :mod:`voxseal.media.rooms`. A connection is admitted only with a valid
join token (in the first ``join`` message, or ``?token=`` for clients that cannot send one
first); from then on every message is checked against the participant's room and grants, and
E2EE payloads are relayed between participants of the same room as opaque strings. The
messages and close codes are :mod:`voxseal.signaling.protocol`'s. Refusals are typed: a
non-fatal one is an ``error`` message, a fatal one a close code, and both are audit events.
Nothing in a message ever reaches a log or the audit log except ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, Outcome
from voxseal.errors import InvalidInput, PermissionDenied, TokenError, VoxsealError
from voxseal.gateway import Gateway
from voxseal.identity.tokens import JoinClaims
from voxseal.media.errors import NoReceiveSlot
from voxseal.media.peer import offered_directions
from voxseal.media.pool import PooledSfu as Sfu
from voxseal.media.rooms import Delivery, Grants, LeaveReason, Participant, RoomRegistry
from voxseal.signaling.headers import correlation_id
from voxseal.signaling.protocol import (
    JOIN_TIMEOUT,
    MAX_MESSAGE,
    AnnounceKeyEpoch,
    Answer,
    Channel,
    Close,
    E2EECounters,
    InvalidField,
    Join,
    Leave,
    MessageError,
    MessageType,
    Offer,
    Ping,
    Pong,
    Refusal,
    RelayData,
    RelayE2EE,
    Remove,
    ReportStats,
    decode,
    parse_message,
)

log = logging.getLogger("voxseal.rtc")

#: messages per second per connection, with a burst of the same size
RATE_PER_SECOND = 50.0


class FrameRefused(MessageError):
    """A frame this edge does not take (binary, too large, too many): fatal, with its code."""

    def __init__(self, message: str, code: Close) -> None:
        self.code = code
        super().__init__(message)


def _close_code(exc: MessageError) -> Close:
    return exc.code if isinstance(exc, FrameRefused) else Close.PROTOCOL_ERROR


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

    def report(self, counters: E2EECounters) -> None:
        self.reported = asdict(counters)


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

    async def media_offer(self, me: Participant, sdp: str) -> str:
        """Terminate ``me``'s DTLS-SRTP session at the room's SFU and wire it per grants."""
        if not sdp or len(sdp) > MAX_MESSAGE:
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
                        refusal = Refusal(exc.reason, str(exc))
                        await self.deliver([Delivery(sub.id, refusal.to_json())])

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
        await AuditContext(self.gw.audit, by).arecord(
            AuditAction.RTC_REMOVE, target=victim.identity, room=victim.room, participant=victim.id
        )


router = APIRouter()


def _hub(ws: WebSocket) -> RtcHub:
    return ws.app.state.rtc  # type: ignore[no-any-return]


async def _receive(ws: WebSocket, bucket: TokenBucket) -> Mapping[str, Any]:
    """The next frame as a JSON object with a string ``type`` (not yet parsed: the caller
    decides what it may be)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", Close.NORMAL))
    text = message.get("text")
    if text is None:
        raise FrameRefused("only JSON text frames are accepted", Close.UNSUPPORTED_DATA)
    if len(text) > MAX_MESSAGE:
        raise FrameRefused(f"message larger than {MAX_MESSAGE} bytes", Close.TOO_LARGE)
    if not bucket.take():
        raise FrameRefused("too many messages", Close.RATE_LIMITED)
    return decode(text)


def _claims(hub: RtcHub, token: str | None) -> JoinClaims:
    if not token:
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
        await AuditContext(hub.gw.audit, me.identity if me else None, source, rid).arecord(
            AuditAction.RTC_REFUSED,
            target=me.room if me else None,
            outcome=Outcome.DENIED,
            reason=reason,
            ws_close=code,
            **audit,
        )
        try:
            await ws.send_text(Refusal(reason, detail).encode())
            await ws.close(code=code, reason=reason[:120])
        except Exception:
            log.debug("peer gone before the refusal reached it")

    # -- admission -------------------------------------------------------------------------
    try:
        data = await asyncio.wait_for(_receive(ws, bucket), JOIN_TIMEOUT)
        if data["type"] != MessageType.JOIN:
            raise MessageError("the first message must be 'join'")
        first = parse_message(data, Channel.ROOM_CLIENT)
        assert isinstance(first, Join)
        try:
            claims = _claims(hub, first.token or ws.query_params.get("token"))
        except TokenError as exc:
            await refuse(Close.UNAUTHENTICATED, exc.reason, str(exc))
            return
        key = first.identity_key
        g = claims.grants
        try:
            me, deliveries, replaced = hub.rooms.join(
                claims.room,
                claims.identity,
                Grants(g.publish, g.subscribe, g.admin),
                key.did if key else None,
                key.doc if key else None,
                now=time.time(),
            )
        except VoxsealError as exc:
            code = Close.ROOM_FULL if exc.reason == "room_full" else Close.PROTOCOL_ERROR
            await refuse(code, exc.reason, str(exc), room=claims.room)
            return
    except TimeoutError:
        await refuse(Close.JOIN_TIMEOUT, "join_timeout", "no join message in time")
        return
    except MessageError as exc:  # before admission every message fault is fatal
        await refuse(_close_code(exc), MessageError.reason, str(exc))
        return
    except WebSocketDisconnect:
        return

    # the join and refusals name the connection; what follows in the room names only the member
    connection = AuditContext(hub.gw.audit, me.identity, source, rid)
    member = AuditContext(hub.gw.audit, me.identity)

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
        await AuditContext(hub.gw.audit, replaced.identity).arecord(
            AuditAction.RTC_LEAVE, target=replaced.room, reason="replaced"
        )
    await hub.deliver([d for d in deliveries if d.to != me.id])
    await connection.arecord(
        AuditAction.RTC_JOIN,
        target=me.room,
        participant=me.id,
        grants=me.grants.names(),
        jti=claims.jti,
    )

    # -- the session -----------------------------------------------------------------------
    reason = LeaveReason.DISCONNECTED
    stats = hub.stats[me.id]

    async def refused(exc: VoxsealError, kind: str) -> None:
        """A message refused, not fatal: an ``error`` reply and an audit event."""
        stats.refused += 1
        await connection.arecord(
            AuditAction.RTC_REFUSED,
            target=me.room,
            outcome=Outcome.DENIED,
            reason=exc.reason,
            message=kind[:32],
        )
        await ws.send_text(Refusal(exc.reason, str(exc)).encode())

    try:
        while hub.sockets.get(me.id) is ws:
            try:
                data = await _receive(ws, bucket)
            except MessageError as exc:
                await refuse(_close_code(exc), exc.reason, str(exc))
                return
            stats.messages_in += 1
            kind: str = data["type"]
            try:
                match parse_message(data, Channel.ROOM_CLIENT):
                    case RelayE2EE(to, payload) | RelayData(to, payload):
                        await hub.deliver([hub.rooms.relay_e2ee(me.id, to, payload, kind)])
                        stats.e2ee_relayed += 1
                    case AnnounceKeyEpoch(epoch):
                        deliveries = hub.rooms.announce_epoch(me.id, epoch)
                        stats.key_epochs += 1
                        await hub.deliver(deliveries)
                        await member.arecord(
                            AuditAction.RTC_REKEY, target=me.room, epoch=me.key_epoch
                        )
                    case Remove(participant_id):
                        victim, deliveries = hub.rooms.remove(me.id, participant_id)
                        await hub.remove(victim, deliveries, by=me.identity)
                    case Offer(sdp):
                        answer = await hub.media_offer(me, sdp)
                        await ws.send_text(Answer(answer).encode())
                        await member.arecord(
                            AuditAction.RTC_MEDIA,
                            target=me.room,
                            participant=me.id,
                            publish=me.grants.publish,
                            subscribe=me.grants.subscribe,
                        )
                    case ReportStats(counters):
                        stats.report(counters)
                    case Ping(t):
                        await ws.send_text(Pong(t).encode())
                    case Leave():
                        reason = LeaveReason.LEFT
                        return
                    case Join():
                        raise MessageError(f"unknown message type {kind[:32]!r}")
            except InvalidField as exc:  # a wrong field: refused, the session goes on
                await refused(exc, kind)
            except MessageError as exc:
                await refuse(_close_code(exc), exc.reason, str(exc))
                return
            except VoxsealError as exc:
                await refused(exc, kind)
    except WebSocketDisconnect:
        pass
    finally:
        if hub.sockets.get(me.id) is ws:
            del hub.sockets[me.id]
            deliveries = hub.rooms.leave(me.id, reason)  # first: the others must rekey
            await hub.media_leave(me)
            await hub.deliver(deliveries)
            await member.arecord(
                AuditAction.RTC_LEAVE,
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
