"""``/admin``: who you are signed in as, what your roles allow, and when the session ends."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from voxseal.dashboard.guard import Viewer, page
from voxseal.dashboard.navigation import PREFIX
from voxseal.dashboard.render import render
from voxseal.dashboard.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from voxseal.identity.rbac import ROLE_PERMISSIONS

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("")
async def home(request: Request, viewer: Viewer = Depends(page())) -> Response:  # noqa: B008
    session = viewer.session
    return render(
        request,
        viewer,
        "home.html",
        title="Overview",
        roles=sorted(r.value for r in viewer.caller.roles),
        permissions=sorted(
            {p.value for r in viewer.caller.roles for p in ROLE_PERMISSIONS.get(r, ())}
        ),
        idle_minutes=int(IDLE_TIMEOUT // 60),
        absolute_hours=int(ABSOLUTE_TIMEOUT // 3600),
        expires_at=session.expires_at,
    )
