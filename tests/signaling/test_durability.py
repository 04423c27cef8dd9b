"""kill -9 of the server right after a request returns loses no acknowledged audit event."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.harness.gateway import start_gateway


@pytest.mark.slow
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill9_loses_no_acknowledged_event(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    db_url = request.getfixturevalue("pg_url") if database == "postgresql" else None
    gw = start_gateway(tmp_path / "data", db_url)
    key = gw.api_key("durable-backend")
    acknowledged: list[str] = []
    try:
        with gw.client(key) as c:
            for i in range(60):
                r = c.post(
                    "/v1/rooms/durable/tokens",
                    json={"identity": f"caller-{i}", "grants": ["publish"]},
                )
                assert r.status_code == 201
                acknowledged.append(f"caller-{i}")
        # no shutdown hook runs: no final checkpoint, no flush, no goodbye
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(timeout=10)
    finally:
        gw.stop(signal.SIGKILL)
    after = gw.open()
    try:
        issued = after.audit.query(action="token.issue", limit=1000)
        targets = {r.target for r in issued if r.outcome == "success"}
        assert set(acknowledged) <= targets
        report = after.verify_audit()
        assert report.ok, report.problem
        assert report.records_checked >= len(acknowledged)
    finally:
        after.close()
