"""Who is calling: every protected endpoint depends on :func:`caller` and names a permission.

A bearer credential is either an access token (a signed JWT from ``/v1/auth/login``) or an API
key (``vxk_…``, for service accounts). Both end up as a :class:`Caller` whose roles and scope
are checked against the one RBAC table; nothing is trusted for where it comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voxseal.audit.events import AuditContext
from voxseal.errors import AuthError
from voxseal.gateway import Gateway
from voxseal.identity import rbac
from voxseal.identity.apikeys import parse_key
from voxseal.identity.directory import Principal
from voxseal.identity.rbac import Permission, Role
from voxseal.identity.tokens import FULL_SCOPE, AccessClaims
from voxseal.signaling.headers import correlation_id

_bearer = HTTPBearer(auto_error=False, description="access token or vxk_ API key")


@dataclass(frozen=True)
class Caller:
    name: str
    roles: frozenset[Role]
    scope: frozenset[str]
    #: the verified access token, or None when the caller used an API key
    claims: AccessClaims | None
    principal: Principal | None = None

    def require(self, permission: Permission) -> None:
        if self.claims is not None:
            self.claims.require(permission)
        else:
            rbac.require(self.roles, permission)


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def source_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer token or API key is required", reason="missing_credentials")
    gw = gateway(request)
    secret = credentials.credentials
    rid = correlation_id(request.scope)
    if parse_key(secret) is not None:
        principal = gw.authenticator.authenticate_api_key(
            secret, source_ip(request), correlation_id=rid
        )
        who = Caller(principal.name, principal.roles, frozenset({FULL_SCOPE}), None, principal)
    else:
        claims = gw.authenticator.authenticate_token(secret, source_ip(request), correlation_id=rid)
        who = Caller(claims.subject, claims.roles, claims.scope, claims)
    request.state.caller = who
    return who


def audit_context(request: Request, actor: str | None) -> AuditContext:
    """Events for this request: its source address and correlation id, ``actor`` acting."""
    return AuditContext(
        gateway(request).audit, actor, source_ip(request), correlation_id(request.scope)
    )


def allowed(permission: Permission) -> Callable[..., Caller]:
    """A dependency: the authenticated caller, refused with 403 unless granted ``permission``."""

    def check(request: Request, who: Caller = Depends(caller)) -> Caller:  # noqa: B008
        who.require(permission)
        return who

    check.required_permission = permission  # type: ignore[attr-defined]
    return check
