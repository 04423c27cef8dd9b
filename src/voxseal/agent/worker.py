"""The agent worker: registers with the gateway, takes dispatched calls, runs each in isolation.

A worker holds one WSS connection to ``/v1/agents`` (authenticated with an ``agent`` service
account's API key) and runs up to ``capacity`` calls at once, each as its own task: a call that
crashes is reported ``ended`` with the error's class and the worker carries on. If the
connection drops the worker reconnects with back-off; the gateway has meanwhile given its
calls to other workers, so nothing waits on a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voxseal.errors import VoxsealError
from voxseal.sdk.client import rtc_url
from voxseal.signaling import protocol
from voxseal.signaling.protocol import Accepted, Channel, Ended, Refusal, Register, Registered
from voxseal.signaling.tls import client_context

log = logging.getLogger("voxseal.agent")

#: how many ended calls a worker remembers (for its owner's inspection)
KEEP_ENDED = 256


@dataclass(frozen=True)
class Dispatch:
    """One call to take: the room, a join token minted for us, whose data it is."""

    job: str
    room: str
    token: str
    subject_id: str | None

    def __repr__(self) -> str:  # the token is a bearer credential
        return f"Dispatch(job={self.job!r}, room={self.room!r}, subject_id={self.subject_id!r})"


CallRunner = Callable[[Dispatch], Awaitable[str]]
"""Runs one call to its end; returns why it ended (e.g. ``"room_empty"``)."""


class RegistrationRefused(VoxsealError):
    reason = "agent_registration_refused"


def agents_url(base: str) -> str:
    return rtc_url(base).removesuffix("/v1/rtc") + "/v1/agents"


class AgentWorker:
    def __init__(
        self,
        url: str,
        api_key: str,
        run_call: CallRunner,
        *,
        name: str = "agent",
        capacity: int = 4,
        ca_file: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = agents_url(url)
        self._api_key = api_key
        self._run_call = run_call
        self.name = name
        self.capacity = capacity
        self._ssl = ssl_context or client_context(ca_file)
        self.calls: dict[str, asyncio.Task[None]] = {}
        self.worker_id: str | None = None
        self.registered = asyncio.Event()
        #: the most recent calls' (job, reason), newest last; bounded so a long-lived worker
        #: does not grow with every call it has ever served
        self.ended: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"AgentWorker({self.name!r}, capacity={self.capacity}, calls={len(self.calls)})"

    async def run(self, *, reconnect: bool = True) -> None:
        """Serve until cancelled; reconnect with back-off (1 s … 30 s) if the gateway goes."""
        delay = 1.0
        while True:
            try:
                await self._session()
                delay = 1.0
            except RegistrationRefused:
                raise
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                log.warning(
                    "gateway connection lost (%s); retrying in %.0fs", type(exc).__name__, delay
                )
            self.registered.clear()
            if not reconnect:
                return
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)

    async def _session(self) -> None:
        async with connect(self.url, ssl=self._ssl, max_size=1 << 20) as ws:
            await ws.send(Register(self._api_key, self.name, self.capacity).encode())
            first = protocol.parse_message(
                await asyncio.wait_for(ws.recv(), 15), Channel.AGENT_SERVER
            )
            if isinstance(first, Refusal):
                raise RegistrationRefused(
                    f"the gateway refused this worker: {first.reason}: {first.detail}"
                )
            if not isinstance(first, Registered):
                raise RegistrationRefused(f"the gateway answered {first.type.value!r}")
            self.worker_id = first.worker
            self.registered.set()
            log.info("registered as %s (capacity %d)", self.worker_id, self.capacity)
            try:
                async for raw in ws:
                    try:
                        msg = protocol.parse_message(raw, Channel.AGENT_SERVER)
                    except protocol.MessageError as exc:
                        log.warning("ignored a gateway message: %s", exc.reason)
                        continue
                    if isinstance(msg, protocol.Dispatch):
                        await self._take(ws, msg)
                    elif isinstance(msg, Refusal):
                        log.warning("gateway: %s (%s)", msg.detail, msg.reason)
            finally:
                # the gateway requeues our calls when we go; stop them here too
                for task in list(self.calls.values()):
                    task.cancel()

    async def _take(self, ws: ClientConnection, msg: protocol.Dispatch) -> None:
        job = Dispatch(msg.job, msg.room, msg.token, msg.subject_id)
        if len(self.calls) >= self.capacity:
            await ws.send(protocol.Rejected(job.job).encode())
            return
        await ws.send(Accepted(job.job).encode())
        self.calls[job.job] = asyncio.create_task(self._call(ws, job), name=f"call-{job.job}")

    async def _call(self, ws: ClientConnection, job: Dispatch) -> None:
        reason = "ended"
        try:
            reason = await self._run_call(job)
        except asyncio.CancelledError:
            reason = "worker_stopped"
            raise
        except VoxsealError as exc:
            reason = exc.reason
            log.warning("call %s ended: %s", job.job, exc)
        except Exception as exc:  # a crashed call must not take the worker down
            reason = f"crashed:{type(exc).__name__}"
            log.exception("call %s crashed", job.job)
        finally:
            self.calls.pop(job.job, None)
            self.ended.append((job.job, reason))
            del self.ended[:-KEEP_ENDED]
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.send(Ended(job.job, reason).encode())
