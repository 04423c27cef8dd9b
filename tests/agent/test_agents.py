"""Agent dispatch against a real gateway: workers register with agent API keys, rooms ask for an
agent, a worker joins the room through the SDK with E2EE; crashed calls and dead workers do not
lose the call."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.harness.gateway import RunningGateway
from tests.harness.rooms import run, token
from voxseal.agent.worker import AgentWorker, Dispatch, RegistrationRefused
from voxseal.identity.rbac import Role
from voxseal.sdk import RoomClient


def agent_key(gw: RunningGateway, name: str) -> str:
    g = gw.open()
    try:
        if g.directory.find(name) is None:
            g.directory.create_service(name, {Role.AGENT})
        return g.directory.create_api_key(name).key
    finally:
        g.close()


def request_agent(gw: RunningGateway, backend_key: str, room: str) -> dict:  # type: ignore[type-arg]
    with gw.client(backend_key) as c:
        r = c.post(f"/v1/rooms/{room}/agent", json={"subject_id": "subject-1"})
        assert r.status_code == 202, r.text
        return r.json()["job"]  # type: ignore[no-any-return]


def joining_agent(gw: RunningGateway, joined: list[str]):  # type: ignore[no-untyped-def]
    """A real call runner: join with E2EE, stay while anyone else is there."""

    async def run_call(job: Dispatch) -> str:
        room = await RoomClient.connect(gw.base_url, job.token, ca_file=gw.ca_file)
        joined.append(job.room)
        try:
            while any(not p["identity"].startswith("agent:") for p in room.participants.values()):
                await asyncio.sleep(0.05)
            return "room_empty"
        finally:
            await room.leave()

    return run_call


def test_dispatch_join_and_redispatch_when_a_worker_dies(gateway_server: RunningGateway) -> None:
    backend = gateway_server.api_key("dispatch-backend")
    key = agent_key(gateway_server, "agent-pool")

    async def scenario() -> None:
        joined_a: list[str] = []
        joined_b: list[str] = []
        a = AgentWorker(
            gateway_server.base_url,
            key,
            joining_agent(gateway_server, joined_a),
            name="a",
            capacity=2,
            ca_file=gateway_server.ca_file,
        )
        task_a = asyncio.create_task(a.run(reconnect=False))
        await asyncio.wait_for(a.registered.wait(), 10)

        caller = await RoomClient.connect(
            gateway_server.base_url,
            token(gateway_server, "help-1", "caller", "publish", "subscribe"),
            ca_file=gateway_server.ca_file,
        )
        job = await asyncio.to_thread(request_agent, gateway_server, backend, "help-1")
        assert job["state"] in ("assigned", "pending", "running")
        await caller.wait_keyed("agent:a")
        assert joined_a == ["help-1"]
        safety = caller.safety_number("agent:a")
        assert len(safety.digits.split()) == 12

        # worker b comes up; worker a dies mid-call: the call moves to b
        b = AgentWorker(
            gateway_server.base_url,
            key,
            joining_agent(gateway_server, joined_b),
            name="b",
            capacity=2,
            ca_file=gateway_server.ca_file,
        )
        task_b = asyncio.create_task(b.run(reconnect=False))
        await asyncio.wait_for(b.registered.wait(), 10)
        task_a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        await caller.wait_keyed("agent:b", timeout=15)
        assert joined_b == ["help-1"]

        with gateway_server.client(backend) as c:
            board = (await asyncio.to_thread(c.get, "/v1/agents")).json()
        mine = next(j for j in board["jobs"] if j["room"] == "help-1")
        assert mine["attempts"] == 2 and mine["worker"] == b.worker_id

        await caller.leave()
        for _ in range(100):
            if b.ended:
                break
            await asyncio.sleep(0.05)
        assert b.ended == [(job["id"], "room_empty")]
        task_b.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task_b

    run(scenario())


def test_a_crashed_call_does_not_take_the_worker_down(gateway_server: RunningGateway) -> None:
    backend = gateway_server.api_key("crash-backend")
    key = agent_key(gateway_server, "agent-crashy")
    calls: list[str] = []

    async def flaky(job: Dispatch) -> str:
        calls.append(job.room)
        if len(calls) == 1:
            raise RuntimeError("the model fell over")
        return "done"

    async def scenario() -> None:
        w = AgentWorker(
            gateway_server.base_url, key, flaky, name="crashy", ca_file=gateway_server.ca_file
        )
        task = asyncio.create_task(w.run(reconnect=False))
        await asyncio.wait_for(w.registered.wait(), 10)
        first = await asyncio.to_thread(request_agent, gateway_server, backend, "crash-1")
        for _ in range(100):
            if w.ended:
                break
            await asyncio.sleep(0.05)
        assert w.ended == [(first["id"], "crashed:RuntimeError")]
        second = await asyncio.to_thread(request_agent, gateway_server, backend, "crash-2")
        for _ in range(100):
            if len(w.ended) == 2:
                break
            await asyncio.sleep(0.05)
        assert w.ended[1] == (second["id"], "done") and not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run(scenario())
    g = gateway_server.open()
    try:
        actions = [r.action for r in g.audit.query(target="crash-1", limit=100)]
    finally:
        g.close()
    assert "agent.request" in actions and "agent.dispatch" in actions and "agent.job" in actions


def test_only_agent_accounts_may_register(gateway_server: RunningGateway) -> None:
    backend = gateway_server.api_key("not-an-agent")

    async def never(job: Dispatch) -> str:
        raise AssertionError("no job expected")

    async def scenario() -> None:
        for key, reason in (
            (backend, "not_an_agent"),
            ("vxk_0123456789abcdef_" + "A" * 43, "invalid_api_key"),
        ):
            w = AgentWorker(gateway_server.base_url, key, never, ca_file=gateway_server.ca_file)
            with pytest.raises(RegistrationRefused, match=reason):
                await w.run(reconnect=False)

    run(scenario())
