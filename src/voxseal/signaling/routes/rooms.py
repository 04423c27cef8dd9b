"""``/v1/rooms/{room}/tokens``: join tokens for callers and agents, minted by backends."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from voxseal.identity.rbac import Permission
from voxseal.identity.tokens import JoinGrants
from voxseal.signaling.deps import Caller, allowed, gateway, source_ip
from voxseal.signaling.headers import correlation_id

router = APIRouter(tags=["rooms"])


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
