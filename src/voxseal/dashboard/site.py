"""The dashboard's routers (one per page), the table of what each route requires, and
:func:`install`, which serves it on an app.

:func:`page_permissions` reads the permission back from each route's guard, so a test can
hold every route to the API's table; a route without the guard must be in
:data:`PUBLIC_PAGES`.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from voxseal.dashboard.errors import PageRefused
from voxseal.dashboard.guard import PageGuard
from voxseal.dashboard.navigation import PREFIX
from voxseal.dashboard.pages import audit, consents, home, login, rooms, static, users
from voxseal.dashboard.render import on_refused
from voxseal.identity.rbac import Permission

ROUTERS: tuple[APIRouter, ...] = tuple(
    p.router for p in (static, login, home, rooms, audit, consents, users)
)

#: routes without a session guard (the login form and the stylesheet)
PUBLIC_PAGES = frozenset(
    {("GET", f"{PREFIX}/login"), ("POST", f"{PREFIX}/login"), ("GET", f"{PREFIX}/static/{{name}}")}
)


def _routes() -> Iterator[APIRoute]:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield route


def dashboard_routes() -> set[tuple[str, str]]:
    """Every ``(method, path)`` the dashboard serves."""
    return {(method, route.path) for route in _routes() for method in route.methods or ()}


def page_permissions() -> dict[tuple[str, str], Permission | None]:
    """``(method, path) -> permission`` of every route behind the session guard (None: any
    signed-in viewer). Routes without the guard are absent: they must be in
    :data:`PUBLIC_PAGES`, which a test checks."""
    table: dict[tuple[str, str], Permission | None] = {}
    for route in _routes():
        guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, PageGuard)]
        if guards:
            for method in route.methods or ():
                table[(method, route.path)] = guards[0].required_permission
    return table


def install(app: FastAPI) -> None:
    """Serve the dashboard on ``app`` (outside the OpenAPI document: these are pages)."""
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(PageRefused, on_refused)
