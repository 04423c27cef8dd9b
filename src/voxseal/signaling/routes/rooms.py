"""``/v1/rooms``: live rooms, their stats, removing a participant, and minting join tokens."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.errors import InvalidInput, NotFound
from voxseal.identity.rbac import Permission
from voxseal.identity.tokens import JoinGrants
from voxseal.signaling.deps import Caller, allowed, audit_context, gateway, source_ip
from voxseal.signaling.headers import correlation_id
from voxseal.signaling.rtc import SessionStats

router = APIRouter(tags=["rooms"])

ROOM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class MintJoinToken(BaseModel):
    identity: Annotated[str, Field(min_length=1, max_length=128)]
    grants: Annotated[
        list[Literal["publish", "subscribe", "admin"]], Field(min_length=1, max_length=3)
    ]
    #: seconds; defaults to the configured join-token lifetime
    ttl: Annotated[int | None, Field(default=None, ge=1)] = None


@router.post("/v1/rooms/{room}/tokens", status_code=201)
def mint_join_token(
    room: str,
    body: MintJoinToken,
    request: Request,
    who: Caller = Depends(allowed(Permission.TOKENS_JOIN_MINT)),  # noqa: B008
) -> dict[str, Any]:
    actor = who.principal if who.principal is not None else who.claims
    assert actor is not None
    issued = gateway(request).authenticator.mint_join_token(
        actor,
        room,
        body.identity,
        JoinGrants.from_names(body.grants),
        ttl=body.ttl,
        source_ip=source_ip(request),
        correlation_id=correlation_id(request.scope),
    )
    return {
        "token": issued.token,
        "room": room,
        "identity": body.identity,
        "grants": sorted(set(body.grants)),
        "expires_at": issued.expires_at,
    }


def _hub(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.rtc


@router.get("/v1/rooms")
async def list_rooms(
    request: Request,
    who: Caller = Depends(allowed(Permission.ROOMS_READ)),  # noqa: B008
) -> dict[str, Any]:
    rooms = _hub(request).rooms.snapshot()  # on the event loop, which owns room state
    await audit_context(request, who.name).arecord(
        AuditAction.ROOMS_LIST, target="rooms", count=len(rooms)
    )
    return {"rooms": rooms}


@router.get("/v1/rooms/{room}/stats")
async def room_stats(
    room: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.STATS_READ)),  # noqa: B008
) -> dict[str, Any]:
    hub = _hub(request)
    live = hub.rooms.rooms.get(room)
    if live is None:
        raise NotFound(f"no live room {room!r}")
    await audit_context(request, who.name).arecord(AuditAction.ROOMS_STATS, target=room)
    sessions = []
    for p in list(live.participants.values()):
        sessions.append(
            {
                "participant": p.id,
                "identity": p.identity,
                "key_epoch": p.key_epoch,
                "joined_at": p.joined_at,
                **asdict(hub.stats.get(p.id, SessionStats())),
                "media": await hub.media_stats(p),
            }
        )
    return {"room": room, "sessions": sessions}


@router.get("/v1/stats/stream")
async def stats_stream(
    request: Request,
    interval: Annotated[float, Query(ge=0.2, le=60)] = 5.0,
    duration: Annotated[float | None, Query(gt=0, le=86400)] = None,
    who: Caller = Depends(allowed(Permission.STATS_READ)),  # noqa: B008
) -> StreamingResponse:
    """Per-session stats as NDJSON lines, every ``interval`` seconds, while connected.

    What a monitoring component consumes: ids, grants-free metadata and counters only.
    """
    hub = _hub(request)
    await audit_context(request, who.name).arecord(AuditAction.STATS_STREAM, target="stats")

    async def lines() -> AsyncIterator[bytes]:
        deadline = None if duration is None else asyncio.get_running_loop().time() + duration
        while not await request.is_disconnected():
            for event in await hub.sample(publish=False):
                yield (json.dumps(asdict(event), separators=(",", ":")) + "\n").encode()
            yield b"\n"  # a heartbeat line, so idle streams are seen alive (and closed if not)
            if deadline is not None and asyncio.get_running_loop().time() + interval > deadline:
                return
            await asyncio.sleep(interval)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.delete("/v1/rooms/{room}/participants/{identity}", status_code=204)
async def remove_participant(
    room: str,
    identity: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.ROOMS_ADMIN)),  # noqa: B008
) -> None:
    """Remove a participant; the others are told and rekey, so it hears nothing after."""
    hub = _hub(request)
    try:
        victim, deliveries = hub.rooms.remove_identity(room, identity)
    except NotFound:
        await audit_context(request, who.name).arecord(
            AuditAction.RTC_REMOVE,
            target=identity,
            outcome=Outcome.FAILURE,
            room=room,
            reason="not_in_room",
        )
        raise
    await hub.remove(victim, deliveries, by=who.name)


class RequestAgent(BaseModel):
    #: the data subject whose consents govern what the agent may record or transcribe
    subject_id: Annotated[str | None, Field(default=None, min_length=1, max_length=128)] = None


@router.post("/v1/rooms/{room}/agent", status_code=202)
async def request_agent(
    room: str,
    request: Request,
    body: RequestAgent | None = None,
    who: Caller = Depends(allowed(Permission.ROOMS_ADMIN)),  # noqa: B008
) -> dict[str, Any]:
    """Ask for an AI agent in ``room``: a worker is dispatched now, or when one registers."""
    if not ROOM_NAME.match(room):
        raise InvalidInput("room name must be 1-128 of [A-Za-z0-9._:-]", reason="room_name")
    job = await request.app.state.agents.request(room, body.subject_id if body else None, who.name)
    await audit_context(request, who.name).arecord(
        AuditAction.AGENT_REQUEST, target=room, job=job.id
    )
    return {"job": job.public()}


@router.get("/v1/agents")
async def list_agents(
    request: Request,
    who: Caller = Depends(allowed(Permission.ROOMS_READ)),  # noqa: B008
) -> dict[str, Any]:
    board = request.app.state.agents.board
    await audit_context(request, who.name).arecord(AuditAction.AGENT_LIST, target="agents")
    return {
        "workers": [
            {
                "id": w.id,
                "name": w.name,
                "principal": w.principal,
                "capacity": w.capacity,
                "jobs": sorted(w.jobs),
            }
            for w in board.workers.values()
        ],
        "jobs": [j.public() for j in board.jobs.values()],
    }
