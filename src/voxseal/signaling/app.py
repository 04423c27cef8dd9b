"""The gateway's ASGI application: REST admin API now, room signaling as it lands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from voxseal import __version__
from voxseal.gateway import Gateway
from voxseal.signaling.errors import install_error_handlers
from voxseal.signaling.headers import SecurityHeaders
from voxseal.signaling.routes import ROUTERS


def create_app(gw: Gateway, *, close_on_shutdown: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(gw.record, "server.start", actor="system", version=__version__)
        yield
        await run_in_threadpool(gw.record, "server.stop", actor="system")
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
    app.state.gateway = gw
    install_error_handlers(app)

    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders)
    return app
