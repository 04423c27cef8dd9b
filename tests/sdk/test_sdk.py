"""The Python SDK against a real gateway: keys agreed automatically, safety numbers that match,
a rekey when someone leaves (the leaver cannot read what follows), late joiners get only current
keys, and clear exceptions instead of silent failure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.harness.gateway import RunningGateway
from tests.harness.rooms import join, run, token
from voxseal.crypto.errors import UnknownKey
from voxseal.errors import VoxsealError
from voxseal.sdk import E2EEError, JoinRefused, RoomClient


async def connect(gw: RunningGateway, room: str, who: str, *grants: str, **kw: Any) -> RoomClient:
    return await RoomClient.connect(
        gw.base_url,
        token(gw, room, who, *(grants or ("publish", "subscribe"))),
        ca_file=gw.ca_file,
        **kw,
    )


def test_two_clients_key_each_other_and_a_third_joins_and_leaves(
    gateway_server: RunningGateway,
) -> None:
    async def scenario() -> None:
        caller = await connect(gateway_server, "sdk-room", "caller")
        agent = await connect(gateway_server, "sdk-room", "agent")
        await caller.wait_keyed("agent")
        await agent.wait_keyed("caller")

        # the same safety number on both sides, digits and emoji
        a, b = caller.safety_number("agent"), agent.safety_number("caller")
        assert a.digits == b.digits and a.emoji == b.emoji and len(a.digits.split()) == 12

        frame = caller.protect(b"hello agent")
        pid, plain = agent.unprotect(frame)
        assert plain == b"hello agent" and pid == caller.me["id"]
        assert caller.e2ee_state["participants"]["agent"]["keyed"] is True

        # a third participant joins late: it gets the current keys, and can read from now on
        epoch_before = caller.session.epoch
        third = await connect(gateway_server, "sdk-room", "supervisor")
        await third.wait_keyed("caller")
        assert caller.session.epoch == epoch_before  # a join is not a new epoch by default
        assert third.unprotect(caller.protect(b"to all"))[1] == b"to all"

        # the third leaves: caller and agent rekey, and its receiver cannot read what follows
        await third.leave()
        await caller.next_event("participant_left")
        for _ in range(50):
            if (
                caller.session.epoch > epoch_before
                and agent.e2ee_state["participants"]["caller"]["their_epoch"] > epoch_before
            ):
                break
            await asyncio.sleep(0.05)
        assert caller.session.epoch == epoch_before + 1
        after = caller.protect(b"secret after leave")
        assert agent.unprotect(after)[1] == b"secret after leave"
        with pytest.raises(UnknownKey):
            third.session.receiver.unprotect(after)

        await caller.leave()
        await agent.leave()

    run(scenario())


def test_refused_token_and_full_room_are_exceptions(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        with pytest.raises(JoinRefused) as info:
            await RoomClient.connect(
                gateway_server.base_url, "garbage", ca_file=gateway_server.ca_file
            )
        assert info.value.reason == "token_invalid" and info.value.close_code == 4401
        with pytest.raises(JoinRefused) as info:
            await RoomClient.connect(
                "https://localhost:1", "x", ca_file=gateway_server.ca_file, timeout=3
            )
        assert info.value.reason == "unreachable"
        with pytest.raises(VoxsealError, match="https:// or wss://") as bad:
            await RoomClient.connect("http://localhost:1", "x")
        assert bad.value.reason == "bad_url"

    run(scenario())


def test_forged_key_bundle_is_an_e2ee_error_not_silence(gateway_server: RunningGateway) -> None:
    """A peer sending a garbage 'sealed key' is reported; wait_keyed fails rather than hang."""

    async def scenario() -> None:
        honest = await connect(gateway_server, "forge-room", "honest")
        mallory = await connect(gateway_server, "forge-room", "mallory")
        await honest.wait_keyed("mallory")
        await mallory._ws.send(
            json.dumps({"type": "e2ee", "to": honest.me["id"], "payload": "AAAA"})
        )
        event = await honest.next_event("e2ee_error")
        assert event["participant"] == mallory.me["id"]
        assert honest.session.failures
        # a raw participant that never sends its sender key: E2EE with it is never "ready"
        silent = await join(gateway_server, "forge-room", "silent")
        with pytest.raises(E2EEError, match="not established"):
            await honest.wait_keyed("silent", timeout=1)
        await silent.ws.close()
        for c in (honest, mallory):
            await c.leave()

    run(scenario())


def test_removed_participant_cannot_read_after_the_rekey(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        sup = await connect(gateway_server, "rm-room", "supervisor", "subscribe", "admin")
        caller = await connect(gateway_server, "rm-room", "caller")
        intruder = await connect(gateway_server, "rm-room", "intruder")
        await intruder.wait_keyed("caller")
        epoch = caller.session.epoch
        assert intruder.unprotect(caller.protect(b"before"))[1] == b"before"
        await sup.remove("intruder")
        await caller.next_event("participant_left")
        assert caller.session.epoch == epoch + 1
        for _ in range(100):  # the supervisor gets the new epoch's key
            if sup.e2ee_state["participants"]["caller"]["their_epoch"] == epoch + 1:
                break
            await asyncio.sleep(0.02)
        after = caller.protect(b"after removal")
        assert sup.unprotect(after)[1] == b"after removal"
        with pytest.raises(UnknownKey):
            intruder.session.receiver.unprotect(after)
        for _ in range(100):
            if intruder.closed is not None:
                break
            await asyncio.sleep(0.02)
        assert intruder.closed is not None and intruder.closed.close_code == 4410
        for c in (sup, caller):
            await c.leave()

    run(scenario())
