"""``POST /v1/demo/call`` needs no credential, so it is bounded: live demo calls are capped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.harness.gateway import CHEAP_PASSWORDS
from voxseal.app import create_app
from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.signaling.dispatch import JobState
from voxseal.web.demo_calls import MAX_LIVE_DEMO_CALLS, enable_demo_calls

ORIGIN = {"origin": "https://testserver"}


@pytest.fixture
def demo_app(data_dir: Path) -> Iterator[tuple[Gateway, TestClient]]:
    gw = Gateway.open(load_settings(env=CHEAP_PASSWORDS, overrides={"data_dir": str(data_dir)}))
    try:
        gw.directory.create_service("demo-backend", {Role.BACKEND})
        app = create_app(gw, close_on_shutdown=False)
        enable_demo_calls(app, backend="demo-backend", subject="demo-subject")
        yield gw, TestClient(app, base_url="https://testserver")
    finally:
        gw.close()


def test_live_demo_calls_are_capped_and_an_ended_one_frees_a_place(
    demo_app: tuple[Gateway, TestClient],
) -> None:
    _gw, client = demo_app
    board = client.app.state.agents.board  # type: ignore[attr-defined]
    rooms = []
    for _ in range(MAX_LIVE_DEMO_CALLS):  # no agent worker here: each job stays pending
        r = client.post("/v1/demo/call", headers=ORIGIN)
        assert r.status_code == 201, r.text
        rooms.append(r.json()["room"])
    refused = client.post("/v1/demo/call", headers=ORIGIN)
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_demo_calls"
    job = next(j for j in board.jobs.values() if j.room == rooms[0])
    job.state, job.end_reason = JobState.ENDED, "nobody_came"  # as the agent reports it
    assert client.post("/v1/demo/call", headers=ORIGIN).status_code == 201
