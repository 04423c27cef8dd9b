"""``wss://…/v1/agents``: where agent workers register and receive jobs.

The WebSocket edge of :mod:`voxseal.signaling.dispatch`. A worker proves it is an ``agent``
service account with an API key in its first message; it then receives ``dispatch`` messages
carrying a room and a fresh, short-lived join token minted here, and reports ``accepted``,
``rejected`` and ``ended`` (the messages are :mod:`voxseal.signaling.protocol`'s). The token
is the only credential a worker ever gets for a room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, Outcome
from voxseal.errors import AuthError, PermissionDenied, VoxsealError
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.identity.tokens import JoinGrants
from voxseal.media.rooms import RoomRegistry
from voxseal.signaling.dispatch import (
    AGENT_IDENTITY_PREFIX,
    Assignment,
    DispatchBoard,
    Job,
    JobState,
)
from voxseal.signaling.protocol import (
    JOIN_TIMEOUT,
    MAX_MESSAGE,
    Accepted,
    Channel,
    Close,
    Dispatch,
    Ended,
    MalformedMessage,
    MessageError,
    MessageType,
    Ping,
    Pong,
    Refusal,
    Register,
    Registered,
    Rejected,
    decode,
    parse_message,
)

log = logging.getLogger("voxseal.agents")

#: seconds a dispatched worker has to use its join token
DISPATCH_TOKEN_TTL = 120.0


class AgentHub:
    def __init__(self, gw: Gateway, rooms: RoomRegistry | None = None) -> None:
        self.gw = gw
        self.board = DispatchBoard()
        self.sockets: dict[str, WebSocket] = {}
        #: this node's live rooms: a dead worker's call is rescued only if its caller is there
        self.rooms = rooms

    def participant_joined(self, room_name: str, identity: str) -> None:
        """Called by the signaling hub on every admitted join."""
        if not identity.startswith(AGENT_IDENTITY_PREFIX):
            self.board.caller_joined(room_name)

    def caller_present(self, room_name: str) -> bool:
        """Someone other than an agent is in the room. Rooms live on one node, so a room this
        node does not hold has ended; with no registry at all (tests) every call is live."""
        if self.rooms is None:
            return True
        room = self.rooms.rooms.get(room_name)
        return room is not None and any(
            not p.identity.startswith(AGENT_IDENTITY_PREFIX) for p in room.participants.values()
        )

    async def worker_gone(self, worker_id: str) -> None:
        """Requeue a vanished worker's calls, or end those whose caller has hung up."""
        assignments, ended = self.board.worker_gone(worker_id, caller_present=self.caller_present)
        for job in ended:
            await AuditContext(self.gw.audit, "system").arecord(
                AuditAction.AGENT_JOB,
                target=job.room,
                job=job.id,
                state="ended",
                reason=job.end_reason,
            )
        await self.send(assignments)

    async def sweep_forever(self, interval: float = 5.0) -> None:
        """Requeue unaccepted jobs and forget old ones, every ``interval`` seconds."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send(self.board.sweep())
            except Exception:
                log.exception("dispatch sweep failed")

    async def request(self, room: str, subject_id: str | None, requested_by: str) -> Job:
        job, assignments = self.board.request(room, subject_id, requested_by)
        await self.send(assignments)
        return job

    async def send(self, assignments: list[Assignment]) -> None:
        for a in assignments:
            worker = self.board.workers.get(a.worker)
            # the board may have moved on while we awaited an earlier send
            if worker is None or a.job.worker != a.worker or a.job.state is not JobState.ASSIGNED:
                continue
            issued = self.gw.tokens.issue_join(
                a.job.room,
                f"{AGENT_IDENTITY_PREFIX}{worker.name}",
                JoinGrants(publish=True, subscribe=True),
                ttl=min(DISPATCH_TOKEN_TTL, self.gw.tokens.max_join_ttl),
            )
            message = Dispatch(a.job.id, a.job.room, a.job.subject_id, issued.token)
            ws = self.sockets.get(a.worker)
            try:
                assert ws is not None
                await ws.send_text(message.encode())
            except Exception:
                # the worker vanished between assignment and send: requeue elsewhere
                await self.worker_gone(a.worker)
                continue
            await AuditContext(self.gw.audit, worker.principal).arecord(
                AuditAction.AGENT_DISPATCH,
                target=a.job.room,
                job=a.job.id,
                worker=a.worker,
                attempt=a.job.attempts,
                jti=issued.jti,
            )


router = APIRouter()


async def _receive(ws: WebSocket) -> Mapping[str, Any]:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", Close.NORMAL))
    text = message.get("text")
    if text is None or len(text) > MAX_MESSAGE:
        raise MalformedMessage("only JSON text frames up to 64 KiB")
    return decode(text)


@router.websocket("/v1/agents")
async def agents(ws: WebSocket) -> None:
    hub: AgentHub = ws.app.state.agents
    source = ws.client.host if ws.client else None
    await ws.accept()
    worker = None

    async def refuse(code: int, reason: str, detail: str) -> None:
        await AuditContext(hub.gw.audit, None, source).arecord(
            AuditAction.AGENT_REFUSED, outcome=Outcome.DENIED, reason=reason
        )
        try:
            await ws.send_text(Refusal(reason, detail).encode())
            await ws.close(code=code, reason=reason)
        except Exception:
            log.debug("worker gone before its refusal")

    try:
        try:
            data = await asyncio.wait_for(_receive(ws), JOIN_TIMEOUT)
        except MessageError as exc:
            await refuse(Close.PROTOCOL_ERROR, MessageError.reason, str(exc))
            return
        except TimeoutError:
            await refuse(Close.JOIN_TIMEOUT, "register_timeout", "no register message in time")
            return
        if data["type"] != MessageType.REGISTER:
            await refuse(
                Close.PROTOCOL_ERROR, MessageError.reason, "first message must be 'register'"
            )
            return
        try:
            first = parse_message(data, Channel.AGENT_WORKER)
            assert isinstance(first, Register)
            principal = await run_in_threadpool(
                hub.gw.authenticator.authenticate_api_key, first.api_key, source
            )
            if Role.AGENT not in principal.roles:
                raise PermissionDenied(
                    "only agent service accounts may register", reason="not_an_agent"
                )
            worker = hub.board.register(
                principal.name, first.name or principal.name, first.capacity
            )
        except AuthError as exc:
            await refuse(Close.UNAUTHENTICATED, exc.reason, str(exc))
            return
        except VoxsealError as exc:
            await refuse(
                Close.FORBIDDEN if exc.http_status == 403 else Close.PROTOCOL_ERROR,
                exc.reason,
                str(exc),
            )
            return
        hub.sockets[worker.id] = ws
        await ws.send_text(Registered(worker.id).encode())
        await AuditContext(hub.gw.audit, principal.name, source).arecord(
            AuditAction.AGENT_REGISTER, target=worker.id, capacity=worker.capacity
        )
        # the worker's later events name its principal; its address is on the register event
        acting = AuditContext(hub.gw.audit, worker.principal)
        await hub.send(hub.board._assign_pending())  # jobs that waited for a worker
        while True:
            try:
                data = await _receive(ws)
            except MessageError as exc:
                await refuse(Close.PROTOCOL_ERROR, MessageError.reason, str(exc))
                return
            try:
                match parse_message(data, Channel.AGENT_WORKER):
                    case Accepted(job_id):
                        job = hub.board.accepted(worker.id, job_id)
                        await acting.arecord(
                            AuditAction.AGENT_JOB, target=job.room, job=job.id, state="running"
                        )
                    case Rejected(job_id):
                        await hub.send(hub.board.rejected(worker.id, job_id))
                    case Ended(job_id, reason):
                        job, more = hub.board.ended(worker.id, job_id, reason)
                        await acting.arecord(
                            AuditAction.AGENT_JOB,
                            target=job.room,
                            job=job.id,
                            state="ended",
                            reason=job.end_reason,
                        )
                        await hub.send(more)
                    case Ping(t):
                        await ws.send_text(Pong(t).encode())
                    case Register():
                        raise MessageError(f"unknown message type {data['type'][:32]!r}")
            except VoxsealError as exc:  # unknown or malformed: refused, the session goes on
                await ws.send_text(Refusal(exc.reason, str(exc)).encode())
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("agent worker session failed")
    finally:
        if worker is not None:
            hub.sockets.pop(worker.id, None)
            await AuditContext(hub.gw.audit, worker.principal).arecord(
                AuditAction.AGENT_UNREGISTER, target=worker.id
            )
            await hub.worker_gone(worker.id)
