"""REST endpoints, one module per resource, and the map of which permission guards each."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from voxseal.identity.rbac import Permission
from voxseal.signaling.routes import audit, auth, consents, ops, rooms, users, vault
from voxseal.web import router as web_router

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    auth.router,
    users.router,
    rooms.router,
    audit.router,
    consents.router,
    vault.router,
    web_router,
)


def _permission(dependant: Dependant) -> Permission | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, "required_permission", None) or _permission(dep)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


def endpoint_permissions() -> dict[tuple[str, str], Permission | None]:
    """``(method, path) -> permission`` for every endpoint (None: public or self-service)."""
    table: dict[tuple[str, str], Permission | None] = {}
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in route.methods:
                    table[(method, route.path)] = _permission(route.dependant)
    return table
