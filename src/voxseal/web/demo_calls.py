"""``POST /v1/demo/call``: the call page's "Start a demo call" button, in ``voxseal demo`` only.

In a real deployment the caller's join token comes from the operator's own backend (its API
key, ``POST /v1/rooms/{room}/tokens``). The demo has no such backend, so this endpoint plays
its part: it acts as the demo's ``demo-backend`` service account — the same principal whose key
``voxseal demo`` prints — to mint a caller token for a fresh room and to dispatch the AI agent
into it for the demo data subject, through exactly the code the REST API uses
(:meth:`Authenticator.mint_join_token`, :meth:`AgentHub.request`), so both leave the same audit
events.

Only :func:`enable_demo_calls` (called by ``voxseal demo``) adds the route: ``voxseal serve``
has no such endpoint (404). Because it needs no credential, it refuses cross-site requests (the
``Origin`` must be the gateway's own), so another web page cannot make a visitor's browser
start calls on a demo gateway.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.errors import NotFound, PermissionDenied, VoxsealError
from voxseal.identity.tokens import JoinGrants
from voxseal.signaling.deps import audit_context, gateway, source_ip
from voxseal.signaling.dispatch import JobState
from voxseal.signaling.headers import correlation_id

DEMO_CALL_PATH = "/v1/demo/call"
#: the caller's identity in a demo room (the agent serves the first non-agent who speaks)
CALLER_IDENTITY = "caller"
#: how long the page has to join with the minted token
DEMO_TOKEN_TTL = 600
#: demo calls whose agent job has not ended, at most: the endpoint needs no credential, so a
#: page (or a script on this machine) clicking in a loop must not queue agent work faster than
#: calls end; an unused call's job ends once the agent gives up waiting for its caller
MAX_LIVE_DEMO_CALLS = 8
ROOM_PREFIX = "demo-"


class TooManyDemoCalls(VoxsealError):
    reason = "too_many_demo_calls"
    http_status = 429


@dataclass(frozen=True)
class DemoCalls:
    #: the service account that mints and dispatches (``voxseal demo``'s backend)
    backend: str
    #: the data subject whose consents the agent checks (granted by ``voxseal demo``)
    subject: str


router = APIRouter(tags=["demo"])


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if not origin or not host:
        return False
    return secrets.compare_digest(origin.lower(), f"https://{host}".lower())


@router.post(DEMO_CALL_PATH, status_code=201)
async def start_demo_call(request: Request) -> dict[str, Any]:
    demo: DemoCalls | None = getattr(request.app.state, "demo_calls", None)
    if demo is None:  # defensive: the route exists only in demo mode
        raise NotFound("not found")
    if not _same_origin(request):
        raise PermissionDenied(
            "demo calls start only from this gateway's own call page", reason="cross_origin"
        )
    live = sum(
        1
        for job in request.app.state.agents.board.jobs.values()
        if job.room.startswith(ROOM_PREFIX) and job.state is not JobState.ENDED
    )
    if live >= MAX_LIVE_DEMO_CALLS:
        raise TooManyDemoCalls(
            f"{live} demo calls are already live; hang one up (or wait a minute) and try again"
        )
    gw = gateway(request)
    backend = await run_in_threadpool(gw.directory.find, demo.backend)
    if backend is None:
        raise NotFound(f"the demo backend {demo.backend!r} does not exist")
    room = f"{ROOM_PREFIX}{secrets.token_hex(6)}"
    issued = await run_in_threadpool(
        gw.authenticator.mint_join_token,
        backend,
        room,
        CALLER_IDENTITY,
        JoinGrants(publish=True, subscribe=True),
        ttl=min(DEMO_TOKEN_TTL, gw.tokens.max_join_ttl),
        source_ip=source_ip(request),
        correlation_id=correlation_id(request.scope),
    )
    job = await request.app.state.agents.request(room, demo.subject, backend.name)
    await audit_context(request, backend.name).arecord(
        AuditAction.AGENT_REQUEST, target=room, job=job.id, demo=True
    )
    return {
        "token": issued.token,
        "room": room,
        "identity": CALLER_IDENTITY,
        "expires_at": issued.expires_at,
        "job": job.public(),
    }


def enable_demo_calls(app: FastAPI, *, backend: str, subject: str) -> None:
    """Turn ``app`` into a demo gateway: the call page shows its button and the route exists."""
    app.state.demo_calls = DemoCalls(backend=backend, subject=subject)
    app.include_router(router)
