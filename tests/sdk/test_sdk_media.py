"""Voice through the whole gateway: SDK clients with real aiortc peers, DTLS-SRTP to the blind
SFU inside the `voxseal serve` process, SFrame end to end with keys agreed over signaling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.harness.gateway import RunningGateway
from tests.harness.rooms import run, token
from tests.media.helpers import AudioLog, dominant_frequency
from voxseal.errors import PermissionDenied
from voxseal.identity.rbac import Role
from voxseal.media.audio import pcm_frames, tone
from voxseal.sdk import Audio, RoomClient

pytestmark = pytest.mark.slow


def tone_source(freq: float, seconds: float = 30.0) -> AsyncIterator[np.ndarray]:
    return pcm_frames([tone(freq, seconds)])


async def connect(
    gw: RunningGateway, who: str, grants: tuple[str, ...], audio: Audio
) -> RoomClient:
    return await RoomClient.connect(
        gw.base_url, token(gw, "voice-room", who, *grants), ca_file=gw.ca_file, audio=audio
    )


def test_voice_flows_end_to_end_through_the_blind_gateway(gateway_server: RunningGateway) -> None:
    with gateway_server.client() as c:
        assert c.get("/healthz").json()["blind_relay"] is True  # the gateway cannot load SFrame
    admin = gateway_server.token_for("media-admin", {Role.ADMIN})

    async def scenario() -> None:
        heard = {name: AudioLog() for name in ("caller", "agent", "listener", "mute")}
        both = ("publish", "subscribe")
        caller = await connect(
            gateway_server, "caller", both, Audio(tone_source(440), 3, heard["caller"])
        )
        agent = await connect(
            gateway_server, "agent", both, Audio(tone_source(660), 3, heard["agent"])
        )
        # subscribe-only: hears everyone, publishes nothing
        listener = await connect(
            gateway_server, "listener", ("subscribe",), Audio(None, 3, heard["listener"])
        )
        # publish-only: its slots stay empty, it hears nothing
        mute = await connect(
            gateway_server, "mute", ("publish",), Audio(tone_source(880), 3, heard["mute"])
        )
        for a, b in (
            (caller, "agent"),
            (agent, "caller"),
            (listener, "caller"),
            (listener, "agent"),
        ):
            await a.wait_keyed(b)
        await asyncio.sleep(2.5)

        assert abs(dominant_frequency(heard["caller"].pcm("agent")) - 660) < 10
        assert abs(dominant_frequency(heard["agent"].pcm("caller")) - 440) < 10
        assert abs(dominant_frequency(heard["listener"].pcm("caller")) - 440) < 10
        assert abs(dominant_frequency(heard["listener"].pcm("mute")) - 880) < 10
        assert not heard["mute"].frames  # no subscribe grant: nothing arrives
        assert "listener" not in heard["caller"].frames  # it never published

        stats = await caller.media_stats()
        assert stats.srtp_profile in ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")
        assert stats.srtp_rtp_failures == 0 and caller.rejected_frames == {}

        def room_stats() -> dict:  # type: ignore[type-arg]
            with gateway_server.client(admin) as c:
                return c.get("/v1/rooms/voice-room/stats").json()  # type: ignore[no-any-return]

        sessions = {s["identity"]: s for s in (await asyncio.to_thread(room_stats))["sessions"]}
        assert sessions["caller"]["media"]["packets_in"] > 50
        assert sessions["caller"]["media"]["srtp_profile"].startswith("SRTP_AEAD")
        assert sessions["mute"]["media"]["packets_out"] == 0
        assert sessions["listener"]["media"]["packets_in"] == 0

        # the monitoring stream: NDJSON lines of per-session stats (ids and counters only)
        def stream() -> list[dict]:  # type: ignore[type-arg]
            with gateway_server.client(admin) as c:
                r = c.get("/v1/stats/stream", params={"duration": 1.0, "interval": 0.5})
                return [json.loads(line) for line in r.text.splitlines() if line.strip()]

        events = await asyncio.to_thread(stream)
        mine = [e for e in events if e["room"] == "voice-room" and e["identity"] == "caller"]
        assert mine and mine[-1]["media"]["packets_in"] > 0
        assert "payload" not in json.dumps(events)

        # receivers report their SFrame counters (the SFU cannot see them): all decrypted
        for _ in range(80):
            sessions = {s["identity"]: s for s in (await asyncio.to_thread(room_stats))["sessions"]}
            if sessions["listener"]["reported"]:
                break
            await asyncio.sleep(0.1)
        reported = sessions["listener"]["reported"]
        assert reported["frames_decrypted"] > 50
        assert reported["auth_failures"] == reported["replays"] == reported["unknown_key"] == 0

        # the agent leaves: the caller rekeys; the listener still hears it under the new epoch
        epoch = caller.session.epoch
        before = len(heard["listener"].frames["caller"])
        await agent.leave()
        for _ in range(100):
            if caller.session.epoch > epoch:
                break
            await asyncio.sleep(0.05)
        assert caller.session.epoch == epoch + 1
        await asyncio.sleep(1.0)
        assert len(heard["listener"].frames["caller"]) > before + 20
        for c in (caller, listener, mute):
            await c.leave()

    run(scenario())


def test_publishing_without_the_grant_is_refused(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        with pytest.raises(PermissionDenied, match="publish grant"):
            await connect(gateway_server, "sneaky", ("subscribe",), Audio(tone_source(500), 1))

    run(scenario())
