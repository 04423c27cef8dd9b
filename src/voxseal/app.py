"""The composition root: the gateway's ASGI application, assembled from every layer.

Nothing below this module knows what sits beside it: the REST routers, room signaling
(``/v1/rtc``), agent dispatch (``/v1/agents``), the call page and the admin dashboard are each
built by their own package and mounted here, and the schemas of the components this process
runs beyond the gateway's services (the dashboard's sessions) are handed to the store here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from voxseal import __version__
from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext
from voxseal.dashboard import install as install_dashboard
from voxseal.dashboard.schema import MIGRATIONS as DASHBOARD_SCHEMA
from voxseal.gateway import Gateway
from voxseal.media.pool import close_default_pool
from voxseal.privacy.consent import ConsentLedger
from voxseal.signaling.agents import AgentHub
from voxseal.signaling.agents import router as agents_router
from voxseal.signaling.errors import install_error_handlers
from voxseal.signaling.headers import SecurityHeaders
from voxseal.signaling.protocol import Close
from voxseal.signaling.routes import ROUTERS
from voxseal.signaling.rtc import RtcHub
from voxseal.signaling.rtc import router as rtc_router
from voxseal.web import router as web_router

log = logging.getLogger("voxseal.signaling")

#: every endpoint in the OpenAPI document: the REST API, then the call page and its assets
DOCUMENTED_ROUTERS: tuple[APIRouter, ...] = (*ROUTERS, web_router)

#: how often expired revocations, MFA challenges and lockout counters are purged
HOUSEKEEPING_INTERVAL = 3600.0


async def housekeeping(gw: Gateway, interval: float = HOUSEKEEPING_INTERVAL) -> None:
    """Purge rows that no longer protect anything; any node may do it, at any time."""
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await run_in_threadpool(gw.authenticator.purge_expired)
            log.info("housekeeping purged %s", purged)
        except Exception:
            log.exception("housekeeping failed; will retry")


def create_app(gw: Gateway, *, close_on_shutdown: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        audit = AuditContext(gw.audit, "system")
        await audit.arecord(AuditAction.SERVER_START, version=__version__)
        sweeper = asyncio.create_task(housekeeping(gw))
        sampler = asyncio.create_task(app.state.rtc.sample_forever())
        dispatch_sweeper = asyncio.create_task(app.state.agents.sweep_forever())
        yield
        sampler.cancel()
        dispatch_sweeper.cancel()
        for pid in list(app.state.rtc.sockets):
            await app.state.rtc.close(pid, Close.GOING_AWAY, "server shutting down")
        await close_default_pool()  # the keyless SFU worker processes
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await audit.arecord(AuditAction.SERVER_STOP)
        if close_on_shutdown:
            await run_in_threadpool(gw.close)  # drains the audit queue, signs a checkpoint

    app = FastAPI(
        title="voxseal",
        version=__version__,
        summary="Secure real-time voice gateway for AI calls",
        lifespan=lifespan,
        docs_url=None,  # no third-party CDN scripts on the gateway's origin
        redoc_url=None,
    )
    gw.db.migrate([DASHBOARD_SCHEMA])  # the pages' sessions; the gateway's own are migrated
    app.state.gateway = gw
    app.state.vault = gw.vault
    app.state.rtc = RtcHub(gw)
    app.state.agents = AgentHub(gw, app.state.rtc.rooms)
    app.state.rtc.on_join = app.state.agents.participant_joined
    app.state.consents = ConsentLedger(gw.db, gw.audit)
    install_error_handlers(app)

    for router in DOCUMENTED_ROUTERS:
        app.include_router(router)
    app.include_router(rtc_router)
    app.include_router(agents_router)
    install_dashboard(app)  # /admin: HTML pages, outside the OpenAPI document
    app.add_middleware(SecurityHeaders)
    return app
