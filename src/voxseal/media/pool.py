"""Rooms placed on keyless SFU worker processes: the SFU as the gateway uses it at scale.

Why: one Python process forwards on one core. :class:`SfuPool` runs several
:mod:`voxseal.media.worker` processes (one per core by default; each calls ``forbid_sframe()``
before anything else, so no SFrame key can ever be loaded where media is forwarded) and places
each room on the least-loaded worker when its first participant arrives. A room lives on one
worker: its participants' sessions forward to each other inside one process, no hop between
workers.

:class:`PooledSfu` is one room's handle with the same API as :class:`~voxseal.media.sfu.Sfu`
(``participants``, ``add_participant``, ``subscribe``, ``unsubscribe``, ``remove_participant``,
``stats``, ``stats_all``, ``watch``, ``wait_connected``, ``close``), so a gateway that creates
``Sfu()`` per room can create ``PooledSfu()`` instead; with no pool given it uses one default
pool per event loop, started lazily. ``subscribe`` stays synchronous as in :class:`Sfu`: the
handle mirrors which receive slots each participant offered and which are bound, refuses with
the same typed errors (:class:`UnknownParticipant`, :class:`NoReceiveSlot`) locally, and sends the
command in order on the worker's pipe (the worker runs one room's requests in order). Creating a
handle costs nothing — no worker is touched until ``add_participant`` — because callers such as
``dict.setdefault(room, PooledSfu())`` build one they may discard.

If a worker dies, its pending requests fail with ``MediaError(reason="worker_lost")`` and its
rooms' handles refuse further requests; the other workers are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from voxseal.errors import VoxsealError
from voxseal.media.errors import (
    MediaError,
    NegotiationFailed,
    NoReceiveSlot,
    UnknownParticipant,
)
from voxseal.media.peer import offered_directions
from voxseal.media.sfu import SfuSessionStats, bind_slot

__all__ = ["PooledSfu", "SfuPool"]

logger = logging.getLogger(__name__)

_ERRORS: dict[str, type[VoxsealError]] = {
    "unknown_participant": UnknownParticipant,
    "no_receive_slot": NoReceiveSlot,
    "negotiation_failed": NegotiationFailed,
}


def _error(reply: dict[str, Any]) -> VoxsealError:
    reason = str(reply.get("reason", "media_error"))
    cls = _ERRORS.get(reason, MediaError)
    return cls(str(reply.get("error", reason)), reason=reason)


class _Worker:
    """One worker process and its request/reply bookkeeping (replies matched by id)."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.participants = 0
        self.rooms = 0
        self.alive = True
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue
                fut = self.pending.pop(reply.get("id"), None)
                if fut is None or fut.done():
                    continue
                if reply.get("ok"):
                    fut.set_result(reply.get("result"))
                else:
                    fut.set_exception(_error(reply))
        finally:
            self.alive = False
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(MediaError("SFU worker exited", reason="worker_lost"))
            self.pending.clear()

    def send(self, op: str, **fields: Any) -> asyncio.Future[Any]:
        """Queue one request (in order on the pipe); the future resolves with its reply."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.alive or self.proc.stdin is None:
            fut.set_exception(MediaError("SFU worker exited", reason="worker_lost"))
            return fut
        self.next_id += 1
        self.pending[self.next_id] = fut
        line = json.dumps({"id": self.next_id, "op": op, **fields}).encode() + b"\n"
        self.proc.stdin.write(line)
        return fut

    async def call(self, op: str, **fields: Any) -> Any:
        fut = self.send(op, **fields)
        assert self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            await self.proc.stdin.drain()
        return await fut


class SfuPool:
    """Keyless SFU worker processes with rooms placed on the least-loaded one."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        fast_path: bool = True,
        use_uvloop: bool = True,
        sample: int = 0,
        python: str = sys.executable,
    ) -> None:
        """``use_uvloop`` runs workers on uvloop *if it is installed* (a dependency on platforms
        with wheels; ~15-20 % less CPU per forwarded packet than asyncio in the relay bench);
        ``sample`` keeps the last N payloads per publisher in each worker (diagnostics)."""
        self.size = workers or os.cpu_count() or 1
        self._args = ["-m", "voxseal.media.worker"]
        if use_uvloop:
            self._args.append("--uvloop")
        if not fast_path:
            self._args.append("--no-fast-path")
        if sample:
            self._args += ["--sample", str(sample)]
        self._python = python
        self._workers: list[_Worker] = []
        self._starting: asyncio.Task[None] | None = None
        self._rooms: dict[str, _Worker] = {}

    async def start(self) -> SfuPool:
        """Start the workers (idempotent; also done lazily by the first placement)."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)
        return self

    async def _start(self) -> None:
        src = str(Path(__file__).resolve().parents[2])  # works without an installed package
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        procs = await asyncio.gather(
            *(
                asyncio.create_subprocess_exec(
                    self._python,
                    *self._args,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, "PYTHONPATH": path},
                    limit=2**22,
                )
                for _ in range(self.size)
            )
        )
        self._workers = [_Worker(i, p) for i, p in enumerate(procs)]

    @property
    def worker_pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    def room(self, room_id: str) -> PooledSfu:
        """A handle on ``room_id`` (placed on a worker when its first participant arrives)."""
        return PooledSfu(room_id, pool=self)

    async def _place(self, room_id: str) -> _Worker:
        await self.start()
        worker = self._rooms.get(room_id)
        if worker is not None and worker.alive:
            return worker
        alive = [w for w in self._workers if w.alive]
        if not alive:
            raise MediaError("no SFU worker is running", reason="worker_lost")
        worker = min(alive, key=lambda w: (w.participants, w.rooms, w.index))
        worker.rooms += 1
        self._rooms[room_id] = worker
        return worker

    def _release(self, room_id: str) -> None:
        worker = self._rooms.pop(room_id, None)
        if worker is not None:
            worker.rooms -= 1

    async def call(self, worker_index: int, op: str, **fields: Any) -> Any:
        """Send one raw control request to a worker (diagnostics: ``keyless``, ``load``)."""
        await self.start()
        return await self._workers[worker_index].call(op, **fields)

    async def close(self) -> None:
        """Shut every worker down (their sessions close; peers see DTLS close_notify)."""
        if self._starting is None:
            return
        await self.start()
        for worker in self._workers:
            if worker.alive:
                with contextlib.suppress(MediaError, ConnectionError):
                    await asyncio.wait_for(worker.call("shutdown"), 10)
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), 10)
            except TimeoutError:
                worker.proc.kill()
                await worker.proc.wait()
            worker.reader.cancel()
        self._rooms.clear()

    async def __aenter__(self) -> SfuPool:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_default_pools: dict[int, SfuPool] = {}


def default_pool() -> SfuPool:
    """The pool of the running event loop (one per loop: worker pipes belong to a loop)."""
    loop = asyncio.get_running_loop()
    pool = _default_pools.get(id(loop))
    if pool is None:
        pool = _default_pools[id(loop)] = SfuPool()
    return pool


async def close_default_pool() -> None:
    """Stop the running loop's SFU workers, if any were started (server shutdown)."""
    pool = _default_pools.pop(id(asyncio.get_running_loop()), None)
    if pool is not None:
        await pool.close()


class _Mirror:
    """What the handle knows of one participant: its receive slots and who is bound to them."""

    __slots__ = ("slot_owner", "slots")

    def __init__(self, slots: Sequence[str]) -> None:
        self.slots = list(slots)
        self.slot_owner: dict[str, str] = {}


class PooledSfu:
    """One room on an :class:`SfuPool` worker, with the API of :class:`~voxseal.media.sfu.Sfu`."""

    def __init__(self, room_id: str | None = None, *, pool: SfuPool | None = None) -> None:
        self.room_id = room_id if room_id is not None else f"room-{id(self):x}"
        self._pool = pool
        self._worker: _Worker | None = None
        self._mirror: dict[str, _Mirror] = {}

    @property
    def participants(self) -> list[str]:
        return list(self._mirror)

    @property
    def worker_pid(self) -> int | None:
        """The worker process forwarding this room (None before the first participant)."""
        return self._worker.proc.pid if self._worker is not None else None

    def _session(self, participant_id: str) -> _Mirror:
        try:
            return self._mirror[participant_id]
        except KeyError:
            raise UnknownParticipant(f"no media session for {participant_id!r}") from None

    def _send(self, op: str, **fields: Any) -> asyncio.Future[Any]:
        if self._worker is None:
            raise UnknownParticipant("this room has no media session")
        return self._worker.send(op, room=self.room_id, **fields)

    async def _call(self, op: str, **fields: Any) -> Any:
        fut = self._send(op, **fields)
        assert self._worker is not None and self._worker.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            await self._worker.proc.stdin.drain()
        return await fut

    # --- sessions ------------------------------------------------------------------------------

    async def add_participant(self, participant_id: str, offer_sdp: str) -> str:
        if participant_id in self._mirror:
            raise NegotiationFailed(f"{participant_id!r} already has a media session")
        directions = offered_directions(offer_sdp)  # refuses junk before a worker sees it
        if self._worker is None:
            self._worker = await (self._pool or default_pool())._place(self.room_id)
        mirror = _Mirror([m for m, d in directions.items() if d in ("recvonly", "sendrecv")])
        self._mirror[participant_id] = mirror  # reserve the id while the worker answers
        self._worker.participants += 1
        try:
            result = await self._call("add_participant", participant=participant_id, sdp=offer_sdp)
        except BaseException:
            self._drop(participant_id)
            raise
        return str(result["sdp"])

    def _drop(self, participant_id: str) -> None:
        if self._mirror.pop(participant_id, None) is not None and self._worker is not None:
            self._worker.participants -= 1
        for other in self._mirror.values():
            for mid, owner in list(other.slot_owner.items()):
                if owner == participant_id:
                    del other.slot_owner[mid]
        if not self._mirror and self._worker is not None:
            (self._pool or default_pool())._release(self.room_id)
            self._worker = None

    async def wait_connected(self, participant_id: str, timeout: float = 10.0) -> None:
        self._session(participant_id)
        await self._call("wait_connected", participant=participant_id, timeout=timeout)

    async def remove_participant(self, participant_id: str) -> None:
        if participant_id not in self._mirror:
            return
        worker = self._worker
        self._drop(participant_id)
        if worker is not None:
            await worker.call("remove_participant", room=self.room_id, participant=participant_id)

    async def close(self) -> None:
        for participant_id in list(self._mirror):
            await self.remove_participant(participant_id)

    # --- subscriptions -------------------------------------------------------------------------

    def subscribe(self, subscriber_id: str, publisher_id: str) -> str:
        """As :meth:`Sfu.subscribe`; validated here, carried out in order by the worker."""
        if subscriber_id == publisher_id:
            raise MediaError("a participant does not subscribe to itself", reason="self_subscribe")
        subscriber = self._session(subscriber_id)
        self._session(publisher_id)
        free, new = bind_slot(subscriber.slots, subscriber.slot_owner, subscriber_id, publisher_id)
        if not new:
            return free
        self._background(self._send("subscribe", subscriber=subscriber_id, publisher=publisher_id))
        return free

    def unsubscribe(self, subscriber_id: str, publisher_id: str) -> None:
        subscriber = self._session(subscriber_id)
        for mid, owner in list(subscriber.slot_owner.items()):
            if owner == publisher_id:
                del subscriber.slot_owner[mid]
        self._background(
            self._send("unsubscribe", subscriber=subscriber_id, publisher=publisher_id)
        )

    @staticmethod
    def _background(fut: asyncio.Future[Any]) -> None:
        def done(f: asyncio.Future[Any]) -> None:
            if not f.cancelled() and f.exception() is not None:
                logger.warning("SFU worker refused a subscription change: %s", f.exception())

        fut.add_done_callback(done)

    # --- stats ---------------------------------------------------------------------------------

    async def stats(self, participant_id: str) -> SfuSessionStats:
        self._session(participant_id)
        return SfuSessionStats(**await self._call("stats", participant=participant_id))

    async def stats_all(self) -> list[SfuSessionStats]:
        if self._worker is None:
            return []
        reply = await self._call("stats_all")
        return [SfuSessionStats(**s) for s in reply["sessions"]]

    async def watch(self, interval: float = 1.0) -> AsyncIterator[list[SfuSessionStats]]:
        while True:
            yield await self.stats_all()
            await asyncio.sleep(interval)
