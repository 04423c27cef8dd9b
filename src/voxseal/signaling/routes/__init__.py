"""REST endpoints, one module per resource, and the map of which permission guards each.

The composition root (:mod:`voxseal.app`) mounts :data:`ROUTERS` beside the pages of the
layers above (the call page, the dashboard); :func:`endpoint_permissions` reads any set of
routers, so a test can classify every endpoint of the assembled application.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from voxseal.identity.rbac import Permission
from voxseal.signaling.routes import audit, auth, consents, ops, rooms, users, vault

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    auth.router,
    users.router,
    rooms.router,
    audit.router,
    consents.router,
    vault.router,
)


def _permission(dependant: Dependant) -> Permission | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, "required_permission", None) or _permission(dep)
        if found is not None:
            return Permission(found)
    return None


def endpoint_permissions(
    routers: Iterable[APIRouter] = ROUTERS,
) -> dict[tuple[str, str], Permission | None]:
    """``(method, path) -> permission`` (None: public or self-service) for every documented
    endpoint of ``routers``, by default the REST API's own."""
    table: dict[tuple[str, str], Permission | None] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.methods or ():
                    table[(method, route.path)] = _permission(route.dependant)
    return table
