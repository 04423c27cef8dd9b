"""An SFU worker process: blind SFUs, one per room, driven over JSON lines on stdio.

Why a process: the gateway places rooms on worker processes (one per core,
:class:`~voxseal.media.pool.SfuPool`) so forwarding scales past one GIL, and so the forwarding
process can be *provably* keyless — :func:`main` calls
:func:`~voxseal.media.sfu.forbid_sframe` before anything else, so SFrame cannot be imported
into it at all. The signaling process keeps tokens, rooms and audit; it sends this worker only
SDP strings, room ids and participant ids.

Protocol (one JSON object per line; ``id`` is echoed back; ``room`` is optional and defaults to
``""`` — participant ids need only be unique within a room)::

    {"id": 1, "op": "add_participant", "room": "r", "participant": "p1", "sdp": "<offer>"}
        -> {"id": 1, "ok": true, "result": {"sdp": "<answer>"}}
    {"id": 2, "op": "subscribe", "room": "r", "subscriber": "p2", "publisher": "p1"} -> {"mid": "1"}
    {"id": 3, "op": "unsubscribe", "room": "r", "subscriber": "p2", "publisher": "p1"}
    {"id": 4, "op": "remove_participant", "room": "r", "participant": "p1"}
    {"id": 5, "op": "stats", "room": "r", "participant": "p1"}  -> SfuSessionStats as an object
    {"id": 5, "op": "stats_all", "room": "r"}    -> {"sessions": [SfuSessionStats, ...]}
        (without "room": every session of every room, each with its "room")
    {"id": 6, "op": "wait_connected", "room": "r", "participant": "p1", "timeout": 10}
    {"id": 6, "op": "sample", "publisher": "p1"}       -> {"payloads": ["<hex>", ...]}
    {"id": 7, "op": "keyless"}     -> {"crypto_modules": [], "guard": true}  (self-check)
    {"id": 7, "op": "load"}        -> {"rooms": n, "participants": n, "loop": "uvloop"|"asyncio"}
    {"id": 8, "op": "shutdown"}
    errors: {"id": n, "ok": false, "reason": "<stable code>", "error": "<message>"}

Requests of one room run in order (an ``add_participant`` answer is ready before that room's
next ``subscribe``); requests of different rooms run concurrently, so one room's slow ICE
gathering does not hold up set-up in the others. Replies may therefore come out of order; match
them by ``id``. A room's SFU is closed when its last participant leaves.

``sample`` returns the last payloads forwarded from a publisher only when the worker was started
with ``--sample N`` (diagnostics and the test that inspects what reaches the SFU); they are SFrame
ciphertext. Run it as ``python -m voxseal.media.worker [--uvloop] [--no-fast-path]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from voxseal.errors import VoxsealError

__all__ = ["main", "serve"]


async def serve(
    reader: asyncio.StreamReader,
    write: Callable[[dict[str, Any]], None],
    sample: int = 0,
    *,
    fast_path: bool = True,
) -> None:
    """Answer requests from ``reader`` until EOF or ``shutdown``; ``write(obj)`` sends replies."""
    from voxseal.media.errors import UnknownParticipant
    from voxseal.media.sfu import Sfu, sframe_forbidden

    samples: dict[str, deque[bytes]] = defaultdict(lambda: deque(maxlen=max(sample, 1)))

    def observe(publisher: str, payload: bytes) -> None:
        samples[publisher].append(payload)

    sfus: dict[str, Sfu] = {}
    #: the last request task of each room: the next one of that room waits for it
    tails: dict[str, asyncio.Task[None]] = {}
    running: set[asyncio.Task[None]] = set()

    def room_sfu(room: str, create: bool = False) -> Sfu:
        sfu = sfus.get(room)
        if sfu is None:
            if not create:
                raise UnknownParticipant(f"no media session in room {room!r}")
            sfu = sfus[room] = Sfu(on_frame=observe if sample else None, fast_path=fast_path)
        return sfu

    async def handle(req: dict[str, Any]) -> Any:
        op = req.get("op")
        room = str(req.get("room", ""))
        if op == "add_participant":
            sfu = room_sfu(room, create=True)
            try:
                return {"sdp": await sfu.add_participant(str(req["participant"]), str(req["sdp"]))}
            finally:
                if not sfu.participants and sfus.get(room) is sfu:
                    del sfus[room]
                    await sfu.close()
        if op == "subscribe":
            sub, pub = str(req["subscriber"]), str(req["publisher"])
            return {"mid": room_sfu(room).subscribe(sub, pub)}
        if op == "unsubscribe":
            room_sfu(room).unsubscribe(str(req["subscriber"]), str(req["publisher"]))
            return {}
        if op == "remove_participant":
            held = sfus.get(room)
            if held is not None:
                await held.remove_participant(str(req["participant"]))
                if not held.participants:
                    del sfus[room]
                    await held.close()
            return {}
        if op == "stats":
            return dataclasses.asdict(await room_sfu(room).stats(str(req["participant"])))
        if op == "stats_all":
            if "room" in req:
                held = sfus.get(room)
                sessions = await held.stats_all() if held is not None else []
                return {"sessions": [dataclasses.asdict(s) for s in sessions]}
            return {
                "sessions": [
                    {"room": r, **dataclasses.asdict(s)}
                    for r, sfu in list(sfus.items())
                    for s in await sfu.stats_all()
                ]
            }
        if op == "wait_connected":
            await room_sfu(room).wait_connected(
                str(req["participant"]), float(req.get("timeout", 10.0))
            )
            return {}
        if op == "keyless":
            loaded = sorted(m for m in sys.modules if m.startswith("voxseal.crypto"))
            return {"crypto_modules": loaded, "guard": sframe_forbidden()}
        if op == "load":
            loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
            return {
                "rooms": len(sfus),
                "participants": sum(len(s.participants) for s in sfus.values()),
                "loop": "uvloop" if loop == "uvloop" else "asyncio",
            }
        if op == "sample":
            return {"payloads": [p.hex() for p in samples.get(str(req["publisher"]), ())]}
        raise VoxsealError(f"unknown op {op!r}", reason="unknown_op")

    async def answer(req: dict[str, Any], after: asyncio.Task[None] | None) -> None:
        if after is not None:  # same room: run after it (its outcome was its own reply)
            await asyncio.wait([after])
        try:
            write({"id": req.get("id"), "ok": True, "result": await handle(req)})
        except VoxsealError as exc:
            write({"id": req.get("id"), "ok": False, "reason": exc.reason, "error": str(exc)})
        except (KeyError, TypeError, ValueError) as exc:
            write({"id": req.get("id"), "ok": False, "reason": "bad_request", "error": repr(exc)})

    try:
        while line := await reader.readline():
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("request must be a JSON object")
            except ValueError as exc:
                write({"id": None, "ok": False, "reason": "bad_request", "error": str(exc)})
                continue
            if req.get("op") == "shutdown":
                if running:
                    await asyncio.gather(*running, return_exceptions=True)
                write({"id": req.get("id"), "ok": True, "result": {}})
                break
            room = str(req.get("room", ""))
            task = asyncio.ensure_future(answer(req, tails.get(room)))
            tails[room] = task
            running.add(task)

            def done(t: asyncio.Task[None], room: str = room) -> None:
                running.discard(t)
                if tails.get(room) is t:
                    del tails[room]

            task.add_done_callback(done)
    finally:
        for task in list(running):
            task.cancel()
        for sfu in list(sfus.values()):
            await sfu.close()


async def _amain(sample: int, fast_path: bool) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**22)  # SDP offers with many slots are long lines
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def write(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    await serve(reader, write, sample, fast_path=fast_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxseal.media.worker")
    parser.add_argument(
        "--sample", type=int, default=0, help="keep the last N payloads per publisher"
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop when it is installed (else asyncio)"
    )
    parser.add_argument(
        "--no-fast-path", action="store_true", help="forward through aiortc per packet"
    )
    args = parser.parse_args(argv)
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()  # before anything else: this process can never hold an SFrame key
    coro = _amain(args.sample, not args.no_fast_path)
    if args.uvloop:
        try:
            import uvloop  # a dependency where it has wheels; asyncio serves without it
        except ImportError:
            pass
        else:
            uvloop.run(coro)
            return 0
    asyncio.run(coro)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
