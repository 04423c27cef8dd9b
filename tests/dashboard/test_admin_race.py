"""Two administrators demoting each other at the same moment must not leave none.

In-process (the app on an ASGI transport) so the test can widen the window between the
directory's "is another admin left?" check and the change deterministically: a hook on the
check sleeps after it has read the administrators, inside the critical section. Without the
directory's transaction around check and change both requests pass their check during that
sleep and both demotions are made (tried: the test then fails with no admin left).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.dashboard.helpers import csrf_in
from tests.harness.gateway import CHEAP_PASSWORDS, PASSWORD
from voxseal.app import create_app
from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.identity.directory import Directory
from voxseal.identity.rbac import Role


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXSEAL_")}
    settings = load_settings(
        env={**env, **CHEAP_PASSWORDS}, overrides={"data_dir": str(tmp_path / "data")}
    )
    g = Gateway.open(settings)
    try:
        yield g
    finally:
        g.close()


def admin(gw: Gateway, name: str) -> str:
    gw.directory.create_user(name, {Role.ADMIN}, PASSWORD)
    enrolment = gw.directory.begin_totp_enrolment(name)
    gw.directory.confirm_totp_enrolment(name, pyotp.TOTP(enrolment.secret_b32).at(time.time() - 30))
    return enrolment.secret_b32


async def sign_in(client: httpx.AsyncClient, name: str, secret: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    form = await client.get("/admin/login")
    r = await client.post(
        "/admin/login",
        data={
            "username": name,
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_in(form.text),
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
    return csrf_in((await client.get("/admin")).text)


def test_two_admins_demoting_each_other_at_once_leave_one(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {name: admin(gw, name) for name in ("race-a", "race-b")}
    original = Directory._keep_an_admin
    checks: list[tuple[float, float]] = []

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            time.sleep(0.5)  # the check has read the admins; the change has not been made
            checks.append((started, time.monotonic()))

    monkeypatch.setattr(Directory, "_keep_an_admin", slow_check)
    app = create_app(gw, close_on_shutdown=False)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="https://localhost") as a,
            httpx.AsyncClient(transport=transport, base_url="https://localhost") as b,
        ):
            ta = await sign_in(a, "race-a", secrets["race-a"])
            tb = await sign_in(b, "race-b", secrets["race-b"])
            results = await asyncio.gather(
                a.post("/admin/users/race-b/roles", data={"roles": "auditor", "csrf_token": ta}),
                b.post("/admin/users/race-a/roles", data={"roles": "auditor", "csrf_token": tb}),
            )
            return list(results)

    results = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [r.status_code for r in results] == [303, 303]
    admins = [p.name for p in gw.directory.principals() if Role.ADMIN in p.roles and not p.disabled]
    assert len(admins) == 1, admins
    refused = [
        r
        for r in gw.audit.query(action="http.refused", limit=100)
        if r.details.get("reason") == "last_admin"
    ]
    assert len(refused) == 1
    # both demotions reached the check, and the second check began only after the first
    # one's change: the rule's critical section held
    assert len(checks) == 2, checks
    (_, first_done), (second_started, _) = sorted(checks)
    assert second_started >= first_done
