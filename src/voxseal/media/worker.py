"""An SFU worker process: one :class:`~voxseal.media.sfu.Sfu` driven over JSON lines on stdio.

Why a process: the gateway places rooms on worker processes (one per core) so forwarding scales
past one GIL, and so the forwarding process can be *provably* keyless — :func:`main` calls
:func:`~voxseal.media.sfu.forbid_sframe` before anything else, so SFrame cannot be imported
into it at all. The signaling process keeps tokens, rooms and audit; it sends this worker only
SDP strings and participant ids.

Protocol (one JSON object per line; ``id`` is echoed back)::

    {"id": 1, "op": "add_participant", "participant": "p1", "sdp": "<offer>"}
        -> {"id": 1, "ok": true, "result": {"sdp": "<answer>"}}
    {"id": 2, "op": "subscribe", "subscriber": "p2", "publisher": "p1"}  -> {"mid": "1"}
    {"id": 3, "op": "unsubscribe", "subscriber": "p2", "publisher": "p1"}
    {"id": 4, "op": "remove_participant", "participant": "p1"}
    {"id": 5, "op": "stats", "participant": "p1"}      -> SfuSessionStats as an object
    {"id": 5, "op": "stats_all"}                       -> {"sessions": [SfuSessionStats, ...]}
    {"id": 6, "op": "sample", "publisher": "p1"}       -> {"payloads": ["<hex>", ...]}
    {"id": 7, "op": "keyless"}     -> {"crypto_modules": [], "guard": true}  (self-check)
    {"id": 8, "op": "shutdown"}
    errors: {"id": n, "ok": false, "reason": "<stable code>", "error": "<message>"}

``sample`` returns the last payloads forwarded from a publisher only when the worker was started
with ``--sample N`` (diagnostics and the test that inspects what reaches the SFU); they are SFrame
ciphertext. Run it as ``python -m voxseal.media.worker``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections import defaultdict, deque
from typing import Any

from voxseal.errors import VoxsealError

__all__ = ["main", "serve"]


async def serve(reader: asyncio.StreamReader, write: Any, sample: int = 0) -> None:
    """Answer requests from ``reader`` until EOF or ``shutdown``; ``write(line)`` sends replies."""
    from voxseal.media.sfu import Sfu

    samples: dict[str, deque[bytes]] = defaultdict(lambda: deque(maxlen=max(sample, 1)))

    def observe(publisher: str, payload: bytes) -> None:
        samples[publisher].append(payload)

    sfu = Sfu(on_frame=observe if sample else None)

    async def handle(req: dict[str, Any]) -> Any:
        op = req.get("op")
        if op == "add_participant":
            return {"sdp": await sfu.add_participant(str(req["participant"]), str(req["sdp"]))}
        if op == "subscribe":
            return {"mid": sfu.subscribe(str(req["subscriber"]), str(req["publisher"]))}
        if op == "unsubscribe":
            sfu.unsubscribe(str(req["subscriber"]), str(req["publisher"]))
            return {}
        if op == "remove_participant":
            await sfu.remove_participant(str(req["participant"]))
            return {}
        if op == "stats":
            return dataclasses.asdict(await sfu.stats(str(req["participant"])))
        if op == "stats_all":
            return {"sessions": [dataclasses.asdict(s) for s in await sfu.stats_all()]}
        if op == "keyless":
            from voxseal.media.sfu import sframe_forbidden

            loaded = sorted(m for m in sys.modules if m.startswith("voxseal.crypto"))
            return {"crypto_modules": loaded, "guard": sframe_forbidden()}
        if op == "sample":
            return {"payloads": [p.hex() for p in samples.get(str(req["publisher"]), ())]}
        raise VoxsealError(f"unknown op {op!r}", reason="unknown_op")

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
                write({"id": req.get("id"), "ok": True, "result": {}})
                break
            try:
                write({"id": req.get("id"), "ok": True, "result": await handle(req)})
            except VoxsealError as exc:
                write({"id": req.get("id"), "ok": False, "reason": exc.reason, "error": str(exc)})
            except (KeyError, TypeError) as exc:
                write(
                    {"id": req.get("id"), "ok": False, "reason": "bad_request", "error": repr(exc)}
                )
    finally:
        await sfu.close()


async def _amain(sample: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def write(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    await serve(reader, write, sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxseal.media.worker")
    parser.add_argument(
        "--sample", type=int, default=0, help="keep the last N payloads per publisher"
    )
    args = parser.parse_args(argv)
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()  # before anything else: this process can never hold an SFrame key
    asyncio.run(_amain(args.sample))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
