"""``/v1/auth``: password login, the TOTP step, logout, and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from voxseal.identity.auth import token_response
from voxseal.signaling.deps import Caller, caller, gateway, source_ip
from voxseal.signaling.headers import correlation_id

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=1024, repr=False)]


class MFARequest(BaseModel):
    challenge: Annotated[str, Field(min_length=1, max_length=256, repr=False)]
    code: Annotated[str, Field(min_length=6, max_length=64, repr=False)]


@router.post("/login")
def login(body: LoginRequest, request: Request) -> dict[str, Any]:
    """``{"access_token": …}`` or ``{"mfa_required": true, "challenge": …}``."""
    result = gateway(request).authenticator.login(
        body.username,
        body.password,
        source_ip(request),
        correlation_id=correlation_id(request.scope),
    )
    return result.as_response()


@router.post("/mfa")
def mfa(body: MFARequest, request: Request) -> dict[str, Any]:
    """Complete a login with a TOTP code or a recovery code."""
    token = gateway(request).authenticator.complete_mfa(
        body.challenge, body.code, source_ip(request), correlation_id=correlation_id(request.scope)
    )
    return token_response(token)


@router.post("/logout", status_code=204)
def logout(request: Request, who: Caller = Depends(caller)) -> None:  # noqa: B008
    """Revoke the presented access token everywhere (API keys are revoked by an admin)."""
    if who.claims is not None:
        gateway(request).authenticator.logout(
            who.claims, source_ip(request), correlation_id=correlation_id(request.scope)
        )


@router.get("/me")
def me(who: Caller = Depends(caller)) -> dict[str, Any]:  # noqa: B008
    return {
        "name": who.name,
        "roles": sorted(r.value for r in who.roles),
        "scope": sorted(who.scope),
        "expires_at": who.claims.expires_at if who.claims else None,
        "credential": "access_token" if who.claims else "api_key",
    }
