"""An SFU in its own process, where SFrame cannot be imported, carries an E2EE call.

This is the issue's "the gateway process never holds an SFrame key" made literal: the worker
calls ``forbid_sframe()`` first, endpoints in this test process talk through it, and the
payloads it forwarded (sampled over its control protocol) are ciphertext that only the
endpoints' key opens.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from voxseal.crypto import sframe
from voxseal.crypto.errors import AuthenticationFailed

from .helpers import dominant_frequency, new_key, run, tone_pair

SUITE = sframe.CipherSuite.AES_128_GCM_SHA256_128


class WorkerClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next = 0

    @classmethod
    async def start(cls, *args: str) -> WorkerClient:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voxseal.media.worker",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._next += 1
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **fields}).encode() + b"\n")
        await self.proc.stdin.drain()
        reply = json.loads(await self.proc.stdout.readline())
        assert reply["id"] == self._next
        return reply

    async def ok(self, op: str, **fields: Any) -> Any:
        reply = await self.call(op, **fields)
        assert reply["ok"], reply
        return reply["result"]

    async def stop(self) -> int:
        if self.proc.returncode is None:
            await self.call("shutdown")
            self.proc.stdin.close()  # type: ignore[union-attr]
        return await asyncio.wait_for(self.proc.wait(), 10)


@pytest.mark.slow
def test_keyless_worker_process_carries_an_e2ee_call() -> None:
    async def scenario() -> None:
        worker = await WorkerClient.start("--sample", "200")
        pair = tone_pair(1.0)
        a, b, heard_a, heard_b = pair.a, pair.b, pair.heard_a, pair.heard_b
        ka = pair.key_a
        try:
            assert await worker.ok("keyless") == {"crypto_modules": [], "guard": True}
            for ep in (a, b):
                answer = await worker.ok(
                    "add_participant", participant=ep.participant_id, sdp=await ep.create_offer()
                )
                await ep.accept_answer(answer["sdp"])
            await worker.ok("subscribe", subscriber="bob", publisher="alice")
            await worker.ok("subscribe", subscriber="alice", publisher="bob")
            refused = await worker.call("subscribe", subscriber="nobody", publisher="alice")
            assert not refused["ok"] and refused["reason"] == "unknown_participant"
            await asyncio.gather(a.wait_connected(), b.wait_connected())
            while a.publishing or b.publishing:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            stats = await worker.ok("stats", participant="alice")
            sample = await worker.ok("sample", publisher="alice")
        finally:
            await a.close()
            await b.close()
            assert await worker.stop() == 0
        assert abs(dominant_frequency(heard_b.pcm("alice")) - 440) < 5
        assert abs(dominant_frequency(heard_a.pcm("bob")) - 660) < 5
        assert stats["srtp_profile"] in ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")
        assert stats["packets_in"] >= 40 and stats["packets_out"] >= 40
        payloads = [bytes.fromhex(h) for h in sample["payloads"]]
        assert len(payloads) == stats["packets_in"]
        wrong = sframe.Receiver(SUITE)
        wrong.add_key(1, new_key())
        right = sframe.Receiver(SUITE)
        right.add_key(1, ka)
        for p in payloads:
            with pytest.raises(AuthenticationFailed):
                wrong.unprotect(p)
            right.unprotect(p)  # opens only with alice's key

    run(scenario(), timeout=45)
