"""``/admin/rooms``: live rooms, one room's sessions, and removing a participant — through
the API's own room endpoints."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from voxseal.dashboard.forms import read_form, text_field
from voxseal.dashboard.guard import Viewer, page
from voxseal.dashboard.navigation import AUDIT_READ, PREFIX, ROOMS_READ, ROOMS_REMOVE, STATS_READ
from voxseal.dashboard.render import redirect, render
from voxseal.errors import NotFound
from voxseal.signaling.errors import audit_refusal
from voxseal.signaling.routes import rooms as rooms_api

_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/rooms")
async def rooms_page(
    request: Request,
    viewer: Viewer = Depends(page(ROOMS_READ)),  # noqa: B008
) -> Response:
    listing = await rooms_api.list_rooms(request, viewer.caller)
    return render(
        request,
        viewer,
        "rooms.html",
        title="Live rooms",
        rooms=listing["rooms"],
        can_stats=viewer.can(STATS_READ),
    )


@router.get("/rooms/{room}")
async def room_page(
    room: str,
    request: Request,
    viewer: Viewer = Depends(page(STATS_READ)),  # noqa: B008
) -> Response:
    stats: dict[str, Any] | None = None
    if _ROOM.match(room):
        try:
            stats = await rooms_api.room_stats(room, request, viewer.caller)
        except NotFound:
            stats = None
    if stats is None:
        return render(
            request, viewer, "room.html", 404, title=f"Room {room}", room=room, sessions=None
        )
    return render(
        request,
        viewer,
        "room.html",
        title=f"Room {room}",
        room=room,
        sessions=stats["sessions"],
        can_remove=viewer.can(ROOMS_REMOVE),
        can_audit=viewer.can(AUDIT_READ),
    )


@router.post("/rooms/{room}/remove")
async def remove_participant(
    room: str,
    request: Request,
    viewer: Viewer = Depends(page(ROOMS_REMOVE)),  # noqa: B008
) -> Response:
    """The API's removal (close 4410, the others rekey, ``rtc.remove`` audited)."""
    form = await read_form(request)
    identity = text_field(form, "identity", 128)
    back = f"{PREFIX}/rooms/{quote(room, safe='')}" if _ROOM.match(room) else f"{PREFIX}/rooms"
    if identity is None or not _ROOM.match(room):
        await audit_refusal(request, 422, "invalid_input")
        return redirect(back, "Choose a participant to remove.")
    try:
        await rooms_api.remove_participant(room, identity, request, viewer.caller)
    except NotFound:  # audited by the API function as a failed rtc.remove
        return redirect(back, f"{identity} is not in room {room} (any more).")
    return redirect(
        back, f"Removed {identity} from {room}. The remaining participants start a new key epoch."
    )
