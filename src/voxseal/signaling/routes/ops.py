"""``/healthz``: liveness and store reachability, no authentication, nothing worth stealing."""

from __future__ import annotations

from fastapi import APIRouter, Request

from voxseal import __version__
from voxseal.media.sfu import sframe_forbidden
from voxseal.signaling.deps import gateway

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, object]:
    gateway(request).db.query_one("SELECT 1")
    # blind: this process refuses to load SFrame, so it cannot hold a media key
    return {"status": "ok", "version": __version__, "blind_relay": sframe_forbidden()}
