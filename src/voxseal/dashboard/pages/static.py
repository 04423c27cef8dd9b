"""``/admin/static/dashboard.css``: the one stylesheet (no inline styles anywhere)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter
from fastapi.responses import Response

from voxseal.dashboard.navigation import PREFIX
from voxseal.dashboard.render import PACKAGE_DIR

STYLESHEET = "dashboard.css"
_CSS = (PACKAGE_DIR / "static" / STYLESHEET).read_bytes()
_ETAG = hashlib.sha256(_CSS).hexdigest()[:16]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/static/{name}")
def stylesheet(name: str) -> Response:
    if name != STYLESHEET:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(_CSS, media_type="text/css", headers={"etag": f'"{_ETAG}"'})
