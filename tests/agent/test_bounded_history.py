"""A long-lived agent process must not remember every call it has served."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from voxseal.agent import worker as worker_module
from voxseal.agent.worker import AgentWorker, Dispatch


class _Recorder:
    """Stands in for the gateway's WebSocket: only what the worker sends matters here."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def test_worker_keeps_only_the_most_recent_ended_calls(monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "KEEP_ENDED", 5)

    async def run_call(job: Dispatch) -> str:
        return "room_empty"

    worker = AgentWorker("https://127.0.0.1:1", "vxk_unused", run_call)
    ws = _Recorder()

    async def serve_many() -> None:
        for i in range(12):
            await worker._call(ws, Dispatch(f"job-{i}", "room", "token", None))  # type: ignore[arg-type]

    asyncio.run(serve_many())
    assert [job for job, _ in worker.ended] == [f"job-{i}" for i in range(7, 12)]
    assert all(reason == "room_empty" for _, reason in worker.ended)
    # the gateway still heard about every one of them
    assert [m["job"] for m in ws.sent if m["type"] == "ended"] == [f"job-{i}" for i in range(12)]
    assert not worker.calls
