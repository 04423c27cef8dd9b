"""``/v1/users`` and ``/v1/apikeys``: principals, their roles, and service credentials."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from voxseal.audit.actions import AuditAction
from voxseal.identity.rbac import Permission, Role
from voxseal.signaling.deps import Caller, allowed, audit_context, gateway

router = APIRouter(tags=["users"])

Name = Annotated[str, Field(min_length=1, max_length=64)]


class CreatePrincipal(BaseModel):
    name: Name
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(Role))]
    kind: Literal["human", "service"] = "human"
    password: Annotated[str | None, Field(default=None, max_length=1024, repr=False)] = None


class SetRoles(BaseModel):
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(Role))]


class SetDisabled(BaseModel):
    disabled: bool


class CreateApiKey(BaseModel):
    principal: Name
    label: Annotated[str | None, Field(default=None, max_length=128)] = None


@router.get("/v1/users")
def list_users(
    request: Request,
    who: Caller = Depends(allowed(Permission.USERS_READ)),  # noqa: B008
) -> dict[str, Any]:
    principals = gateway(request).directory.principals()
    audit_context(request, who.name).record(
        AuditAction.USER_LIST, target="users", count=len(principals)
    )
    return {"users": [p.as_dict() for p in principals]}


@router.post("/v1/users", status_code=201)
def create_user(
    body: CreatePrincipal,
    request: Request,
    who: Caller = Depends(allowed(Permission.USERS_WRITE)),  # noqa: B008
) -> dict[str, Any]:
    directory = gateway(request).directory
    if body.kind == "service":
        principal = directory.create_service(body.name, body.roles)
    else:
        principal = directory.create_user(body.name, body.roles, body.password)
    audit_context(request, who.name).record(
        AuditAction.USER_CREATE,
        target=principal.name,
        kind=body.kind,
        roles=sorted(r.value for r in principal.roles),
    )
    return principal.as_dict()


@router.get("/v1/users/{name}")
def get_user(
    name: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.USERS_READ)),  # noqa: B008
) -> dict[str, Any]:
    principal = gateway(request).directory.get(name)
    audit_context(request, who.name).record(AuditAction.USER_READ, target=principal.name)
    return principal.as_dict()


@router.put("/v1/users/{name}/roles")
def set_roles(
    name: str,
    body: SetRoles,
    request: Request,
    who: Caller = Depends(allowed(Permission.ROLES_WRITE)),  # noqa: B008
) -> dict[str, Any]:
    directory = gateway(request).directory
    before = directory.get(name)
    principal = directory.set_roles(name, body.roles)
    audit_context(request, who.name).record(
        AuditAction.USER_ROLES,
        target=principal.name,
        before=sorted(r.value for r in before.roles),
        after=sorted(r.value for r in principal.roles),
    )
    return principal.as_dict()


@router.put("/v1/users/{name}/disabled")
def set_disabled(
    name: str,
    body: SetDisabled,
    request: Request,
    who: Caller = Depends(allowed(Permission.USERS_WRITE)),  # noqa: B008
) -> dict[str, Any]:
    principal = gateway(request).directory.set_disabled(name, body.disabled)
    audit_context(request, who.name).record(
        AuditAction.USER_DISABLE if body.disabled else AuditAction.USER_ENABLE,
        target=principal.name,
    )
    return principal.as_dict()


@router.post("/v1/apikeys", status_code=201)
def create_api_key(
    body: CreateApiKey,
    request: Request,
    who: Caller = Depends(allowed(Permission.APIKEYS_WRITE)),  # noqa: B008
) -> dict[str, Any]:
    """The key is in this response and nowhere else, ever: only its hash is stored."""
    new = gateway(request).directory.create_api_key(body.principal, body.label)
    audit_context(request, who.name).record(
        AuditAction.APIKEY_CREATE, target=body.principal, key_id=new.key_id
    )
    return {"key_id": new.key_id, "principal": body.principal, "api_key": new.key}


@router.get("/v1/apikeys")
def list_api_keys(
    request: Request,
    who: Caller = Depends(allowed(Permission.APIKEYS_READ)),  # noqa: B008
) -> dict[str, Any]:
    keys = gateway(request).directory.list_api_keys()
    audit_context(request, who.name).record(
        AuditAction.APIKEY_LIST, target="apikeys", count=len(keys)
    )
    return {
        "api_keys": [
            {
                "key_id": k.key_id,
                "principal_id": k.principal_id,
                "label": k.label,
                "created_at": k.created_at,
                "last_used_at": k.last_used_at,
                "revoked_at": k.revoked_at,
            }
            for k in keys
        ]
    }


@router.delete("/v1/apikeys/{key_id}", status_code=204)
def revoke_api_key(
    key_id: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.APIKEYS_WRITE)),  # noqa: B008
) -> None:
    gateway(request).directory.revoke_api_key(key_id)
    audit_context(request, who.name).record(AuditAction.APIKEY_REVOKE, target=key_id)
