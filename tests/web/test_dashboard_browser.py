"""The admin dashboard in headless Debian chromium, over the gateway's TLS 1.3, during a real call.

Three SDK clients (real aiortc peers, SFrame end to end) talk in a room. An administrator signs
in with password + a TOTP code computed by pyotp from the enrolment secret, sees the room, its
participants, their media stats and E2EE key epochs, and the call's audit trail marked
verified; a supervisor removes a participant and the remaining ones' key epochs move on.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyotp
import pytest

from tests.harness.browser import ROOT, launch_chromium
from tests.harness.gateway import PASSWORD, RunningGateway, start_gateway
from voxseal.identity.rbac import Role
from voxseal.media.audio import pcm_frames, tone
from voxseal.sdk import Audio, RoomClient

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOM = "dash-call"
PEOPLE = {"alice": 440.0, "bob": 660.0, "carol": 880.0}
ARTIFACTS = ROOT / "test-artifacts"


class LiveCall:
    """SDK clients in a room, on an event loop in a background thread (Playwright's sync API
    owns the test thread)."""

    def __init__(self, gw: RunningGateway, api_key: str) -> None:
        self.gw = gw
        self.api_key = api_key
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="call", daemon=True)
        self.thread.start()
        self.clients: dict[str, RoomClient] = {}
        self.heard: dict[str, list[np.ndarray]] = {name: [] for name in PEOPLE}

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _mint(self, identity: str) -> str:
        with self.gw.client(self.api_key) as c:
            r = c.post(
                f"/v1/rooms/{ROOM}/tokens",
                json={"identity": identity, "grants": ["publish", "subscribe"]},
            )
            assert r.status_code == 201, r.text
            return str(r.json()["token"])

    async def _start(self) -> None:
        for name, hz in PEOPLE.items():
            audio = Audio(
                pcm_frames([tone(hz, 120)]),
                receive_slots=3,
                on_audio=lambda who, pcm, me=name: self.heard[me].append(pcm),
            )
            self.clients[name] = await RoomClient.connect(
                self.gw.base_url, self._mint(name), ca_file=self.gw.ca_file, audio=audio
            )
        for a in PEOPLE:
            for b in PEOPLE:
                if a != b:
                    await self.clients[a].wait_keyed(b, timeout=20)

    def start(self) -> None:
        self.run(self._start())

    def epoch(self, name: str) -> int:
        return int(self.clients[name].session.epoch)

    async def _stop(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.leave(), 5)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self._stop(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[RunningGateway]:
    g = start_gateway(tmp_path / "data")
    try:
        yield g
    finally:
        g.stop()


def sign_in(
    browser: Any, gw: RunningGateway, name: str, code: str, *, javascript: bool = True
) -> Any:
    """A fresh browser profile signed in through the login form; returns its page."""
    from playwright.sync_api import expect

    context = browser.new_context(
        ignore_https_errors=True,
        viewport={"width": 1280, "height": 900},
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.goto(f"{gw.base_url}/admin/rooms")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(page.get_by_text(f"Signed in as {name}").first).to_be_visible()
    return page


def epochs_on_page(page: Any) -> dict[str, int]:
    """Each participant's key epoch as the room page shows it."""
    out = {}
    for section in page.locator("section.session").all():
        who = section.get_by_role("heading").inner_text().strip()
        out[who] = int(section.locator("dd.epoch").inner_text())
    return out


def test_dashboard_shows_a_live_call_and_a_supervisor_removal(
    gw: RunningGateway, playwright_session: Any
) -> None:
    from playwright.sync_api import expect

    gw.add_principal("dash-admin", {Role.ADMIN})
    gw.add_principal("dash-supervisor", {Role.SUPERVISOR})
    call = LiveCall(gw, gw.api_key("dash-backend"))
    browser = launch_chromium(playwright_session)
    console_errors: list[str] = []
    try:
        call.start()
        time.sleep(1.5)  # some media through the SFU, so the counters move

        admin = sign_in(browser, gw, "dash-admin", pyotp.TOTP(gw.totp_secrets["dash-admin"]).now())
        admin.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        # live rooms: the call with its three participants
        admin.get_by_role("navigation").get_by_role("link", name="Live rooms").click()
        row = admin.get_by_role("row", name=re.compile(ROOM))
        for name in PEOPLE:
            expect(row).to_contain_text(name)
        expect(row.get_by_role("cell").nth(0)).to_have_text("3")

        # per-session media stats and E2EE epochs
        admin.get_by_role("link", name=ROOM).click()
        expect(admin.get_by_role("heading", name=f"Room {ROOM}")).to_be_visible()
        for name in PEOPLE:
            section = admin.locator("section.session", has=admin.get_by_role("heading", name=name))
            expect(section).to_contain_text("SRTP profile")
            expect(section).to_contain_text(re.compile(r"SRTP_AEAD_AES_(128|256)_GCM"))
            expect(section).to_contain_text("connected")
            packets = section.get_by_role("row").filter(has_text="Packets in / out")
            counts = [int(n) for n in re.findall(r"\d+", packets.inner_text())]
            assert counts[-2] > 0 and counts[-1] > 0, counts  # published and received frames
        before = epochs_on_page(admin)
        assert set(before) == set(PEOPLE)
        for name in PEOPLE:
            assert before[name] == call.epoch(name), (name, before, call.epoch(name))

        # the call's audit trail: the joins, each verified against the hash chain
        admin.get_by_role("link", name="Audit trail of this room").click()
        expect(admin.locator("#verification")).to_contain_text("Chain verified")
        joins = admin.get_by_role("row").filter(has_text="rtc.join")
        expect(joins).to_have_count(3)
        for name in PEOPLE:
            join = joins.filter(has_text=name)
            expect(join).to_have_count(1)
            expect(join.get_by_role("cell").last).to_contain_text("verified")
        ARTIFACTS.mkdir(exist_ok=True)
        admin.screenshot(path=str(ARTIFACTS / "dashboard-audit-trail.png"), full_page=True)

        # a supervisor (not the admin) removes carol, with scripting off (the dashboard has
        # none: plain forms); the others rekey
        sup = sign_in(
            browser,
            gw,
            "dash-supervisor",
            pyotp.TOTP(gw.totp_secrets["dash-supervisor"]).now(),
            javascript=False,
        )
        expect(sup.get_by_role("navigation").get_by_role("link", name="Audit log")).to_have_count(
            0
        )  # not their view
        sup.goto(f"{gw.base_url}/admin/rooms/{ROOM}")
        sup.get_by_role("button", name="Remove carol from the room").click()
        expect(sup.get_by_role("status")).to_contain_text("Removed carol")
        deadline = time.monotonic() + 20
        after = epochs_on_page(sup)
        while time.monotonic() < deadline and not (
            "carol" not in after and all(after.get(n, -1) > before[n] for n in ("alice", "bob"))
        ):
            time.sleep(0.5)
            sup.reload()
            after = epochs_on_page(sup)
        assert "carol" not in after, after
        assert after["alice"] > before["alice"] and after["bob"] > before["bob"], (before, after)
        sup.screenshot(path=str(ARTIFACTS / "dashboard-after-removal.png"), full_page=True)

        # and the admin sees the removal and the rekeys in the audit trail, verified
        admin.goto(f"{gw.base_url}/admin/audit?target=carol&action=rtc.remove")
        removal = admin.get_by_role("row").filter(has_text="rtc.remove")
        expect(removal).to_have_count(1)
        expect(removal).to_contain_text("dash-supervisor")
        expect(removal.get_by_role("cell").last).to_contain_text("verified")
        admin.goto(f"{gw.base_url}/admin/audit?target={ROOM}&action=rtc.rekey")
        expect(admin.get_by_role("row").filter(has_text="rtc.rekey").first).to_be_visible()
        expect(admin.locator("#verification")).to_contain_text("Chain verified")
        admin.screenshot(path=str(ARTIFACTS / "dashboard-rekey-audit.png"), full_page=True)
        assert not console_errors, console_errors  # e.g. no CSP violation on any page
    finally:
        browser.close()
        call.stop()
