"""Room signaling over real WSS (TLS 1.3): admission by join token, opaque E2EE relay between
participants, rekey announcements, removal, and typed refusals with close codes."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.harness.gateway import RunningGateway, start_gateway
from tests.harness.rooms import close_code, identity_key, join, refused, run, token, wss
from websockets.asyncio.client import connect

from voxseal.crypto import Identity, Receiver, Sender, open_bundle, seal_bundle
from voxseal.crypto.keys import PublicIdentity
from voxseal.identity.rbac import Role
from voxseal.identity.tokens import JoinGrants, TokenAuthority
from voxseal.signaling.protocol import Close
from voxseal.signaling.tls import client_context


def test_two_participants_exchange_sealed_keys_and_talk(gateway_server: RunningGateway) -> None:
    """Alice seals her SFrame key for Bob; the gateway relays it blind; Bob decrypts her frames."""

    async def scenario() -> None:
        alice = await join(gateway_server, "e2ee-room", "alice")
        bob = await join(gateway_server, "e2ee-room", "bob")
        seen = await alice.next("participant_joined")
        assert seen["participant"]["identity"] == "bob"
        bob_public = PublicIdentity.decode(base64.b64decode(seen["participant"]["identity_doc"]))
        assert bob_public.did == bob.ident.did
        # bob saw alice in the participant list on joining
        listed = {p["identity"]: p for p in bob.joined["participants"]}
        alice_public = PublicIdentity.decode(base64.b64decode(listed["alice"]["identity_doc"]))

        base_key = bytes(range(16))
        bundle = seal_bundle(
            alice.ident,
            bob_public,
            room_id="e2ee-room",
            epoch=1,
            kid=1,
            cipher_suite=4,
            base_key=base_key,
            expires_at=int(time.time()) + 600,
        )
        payload = base64.b64encode(bundle).decode()
        await alice.send(type="e2ee", to=bob.id, payload=payload)
        got = await bob.next("e2ee")
        assert got["from"] == alice.id and got["payload"] == payload
        key = open_bundle(
            base64.b64decode(got["payload"]),
            recipient=bob.ident,
            sender=alice_public,
            room_id="e2ee-room",
            now=time.time(),
        )
        receiver = Receiver(4)
        receiver.add_key(key.kid, key.base_key)
        frame = Sender(4, 1, base_key).protect(b"opus frame bytes")
        assert receiver.unprotect(frame) == b"opus frame bytes"

        # relaying to someone outside the room is refused, without closing the session
        await alice.send(type="e2ee", to="PA_999_deadbeef", payload="x")
        err = await alice.next("error")
        assert err["reason"] == "not_in_room"
        await alice.send(type="ping", t=1)
        assert (await alice.next("pong"))["t"] == 1

        # a rekey announcement reaches the others
        await alice.send(type="key_epoch", epoch=2)
        assert (await bob.next("key_epoch")) == {"type": "key_epoch", "id": alice.id, "epoch": 2}
        await alice.send(type="key_epoch", epoch=1)
        assert (await alice.next("error"))["reason"] == "stale_epoch"

        await bob.send(type="leave")
        left = await alice.next("participant_left")
        assert left == {"type": "participant_left", "id": bob.id, "reason": "left"}
        await alice.ws.close()

    run(scenario())
    g = gateway_server.open()
    try:
        records = g.audit.query(target="e2ee-room", limit=1000)
        actions = [r.action for r in records]
        assert actions.count("rtc.join") >= 2 and "rtc.rekey" in actions and "rtc.leave" in actions
        assert any(
            r.action == "rtc.refused" and r.details["reason"] == "not_in_room" for r in records
        )
        # the opaque payloads never reach the audit log
        dump = json.dumps([r.as_dict() for r in g.audit.query(limit=1000)])
        assert "identity_doc" not in dump and "payload" not in dump
    finally:
        g.close()


def test_room_admin_removes_a_participant(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        sup = await join(gateway_server, "ops-room", "supervisor-1", "subscribe", "admin")
        caller = await join(gateway_server, "ops-room", "caller-1")
        agent = await join(gateway_server, "ops-room", "agent-1")
        await caller.send(type="remove", participant=agent.id)
        assert (await caller.next("error"))["reason"] == "no_admin_grant"
        await sup.send(type="remove", participant=caller.id)
        assert await close_code(caller) == Close.REMOVED
        left = await agent.next("participant_left")
        assert left["id"] == caller.id and left["reason"] == "removed"
        for p in (sup, agent):
            await p.ws.close()

    run(scenario())


def test_rest_removal_needs_rooms_admin(gateway_server: RunningGateway) -> None:
    backend_key = gateway_server.api_key("rooms-backend")

    async def scenario() -> None:
        target = await join(gateway_server, "rest-room", "victim")
        other = await join(gateway_server, "rest-room", "stays")
        caller_token = gateway_server.token_for("plain-caller", {Role.CALLER})

        def delete(cred: str) -> int:
            with gateway_server.client(cred) as c:
                return c.delete("/v1/rooms/rest-room/participants/victim").status_code

        assert await asyncio.to_thread(delete, caller_token) == 403
        with gateway_server.client(backend_key) as c:
            rooms = (await asyncio.to_thread(c.get, "/v1/rooms")).json()["rooms"]
        listed = next(r for r in rooms if r["room"] == "rest-room")
        assert {p["identity"] for p in listed["participants"]} == {"victim", "stays"}
        assert await asyncio.to_thread(delete, backend_key) == 204
        assert await close_code(target) == Close.REMOVED
        assert (await other.next("participant_left"))["reason"] == "removed"
        assert await asyncio.to_thread(delete, backend_key) == 404
        await other.ws.close()

    run(scenario())


def test_same_identity_replaces_the_old_connection(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        first = await join(gateway_server, "dup-room", "dana")
        watcher = await join(gateway_server, "dup-room", "watcher")
        second = await join(gateway_server, "dup-room", "dana")
        assert await close_code(first) == Close.REPLACED
        assert (await watcher.next("participant_left"))["reason"] == "replaced"
        assert (await watcher.next("participant_joined"))["participant"]["id"] == second.id
        for p in (watcher, second):
            await p.ws.close()

    run(scenario())


def _join_msg(gw: RunningGateway, **over: Any) -> str:
    msg = {
        "type": "join",
        "token": token(gw, "r", "someone", "publish"),
        "identity_key": identity_key(Identity.generate()),
    }
    msg.update(over)
    return json.dumps(msg)


@pytest.mark.parametrize(
    ("make_first", "code", "reason"),
    [
        (lambda gw: _join_msg(gw, token="not-a-token"), Close.UNAUTHENTICATED, "token_invalid"),
        (lambda gw: _join_msg(gw, token=None), Close.UNAUTHENTICATED, "missing_token"),
        (lambda gw: "{not json", Close.PROTOCOL_ERROR, "protocol_error"),
        (lambda gw: json.dumps({"type": "e2ee"}), Close.PROTOCOL_ERROR, "protocol_error"),
        (lambda gw: json.dumps([1, 2]), Close.PROTOCOL_ERROR, "protocol_error"),
        (lambda gw: _join_msg(gw, protocol=99), Close.PROTOCOL_ERROR, "protocol_error"),
        (
            lambda gw: _join_msg(gw, identity_key={"did": "x", "doc": "y"}),
            Close.PROTOCOL_ERROR,
            "bad_identity_key",
        ),
        (lambda gw: b"\x00binary", Close.UNSUPPORTED_DATA, "protocol_error"),
        (lambda gw: "x" * 70_000, Close.TOO_LARGE, "protocol_error"),
    ],
    ids=[
        "bad-token",
        "no-token",
        "bad-json",
        "not-join",
        "not-object",
        "version",
        "bad-did",
        "binary",
        "too-large",
    ],
)
def test_bad_admission_is_refused_with_close_code(
    gateway_server: RunningGateway,
    make_first: Callable[[RunningGateway], str | bytes],
    code: int,
    reason: str,
) -> None:
    got_code, error = run(refused(gateway_server, make_first(gateway_server)))
    assert got_code == code
    assert error is not None and error["reason"] == reason


def test_expired_and_revoked_join_tokens(gateway_server: RunningGateway) -> None:
    g = gateway_server.open()
    try:
        past = TokenAuthority(g.tokens._key, "voxseal", clock=lambda: time.time() - 3600)
        issued = past.issue_join("r", "late", JoinGrants(publish=True), ttl=60)
        revoked = g.tokens.issue_join("r", "gone", JoinGrants(publish=True))
        g.tokens.revoke(revoked.claims)
    finally:
        g.close()
    for tok, reason in ((issued.token, "token_expired"), (revoked.token, "token_revoked")):
        msg = json.dumps(
            {"type": "join", "token": tok, "identity_key": identity_key(Identity.generate())}
        )
        got_code, error = run(refused(gateway_server, msg))
        assert got_code == Close.UNAUTHENTICATED and error and error["reason"] == reason


def test_token_in_query_string_is_accepted(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        tok = token(gateway_server, "q-room", "querier", "subscribe")
        async with connect(
            f"{wss(gateway_server)}?token={tok}", ssl=client_context(gateway_server.ca_file)
        ) as ws:
            await ws.send(
                json.dumps({"type": "join", "identity_key": identity_key(Identity.generate())})
            )
            assert json.loads(await ws.recv())["type"] == "joined"

    run(scenario())


def test_unknown_message_type_closes_with_protocol_error(gateway_server: RunningGateway) -> None:
    async def scenario() -> None:
        p = await join(gateway_server, "proto-room", "prober")
        await p.send(type="launch_missiles")
        assert (await p.next("error"))["reason"] == "protocol_error"
        assert await close_code(p) == Close.PROTOCOL_ERROR

    run(scenario())


def test_stats_endpoint_reports_sessions(gateway_server: RunningGateway) -> None:
    from voxseal.identity.rbac import Role

    admin = gateway_server.token_for("stats-admin", {Role.ADMIN})

    async def scenario() -> None:
        a = await join(gateway_server, "stats-room", "s1")
        b = await join(gateway_server, "stats-room", "s2")
        await a.send(type="e2ee", to=b.id, payload="opaque")
        await b.next("e2ee")
        await a.send(type="key_epoch", epoch=3)
        await b.next("key_epoch")
        with gateway_server.client(admin) as c:
            stats = (await asyncio.to_thread(c.get, "/v1/rooms/stats-room/stats")).json()
            missing = await asyncio.to_thread(c.get, "/v1/rooms/nope/stats")
        assert missing.status_code == 404
        s1 = next(s for s in stats["sessions"] if s["identity"] == "s1")
        assert s1["e2ee_relayed"] == 1 and s1["key_epoch"] == 3 and s1["key_epochs"] == 1
        for p in (a, b):
            await p.ws.close()

    run(scenario())


def test_a_full_room_refuses_with_4503(gateway_server: RunningGateway) -> None:
    from voxseal.media.rooms import DEFAULT_MAX_PARTICIPANTS

    async def scenario() -> None:
        peers = [
            await join(gateway_server, "full-room", f"p{i}", "subscribe")
            for i in range(DEFAULT_MAX_PARTICIPANTS)
        ]
        first = json.dumps(
            {
                "type": "join",
                "token": token(gateway_server, "full-room", "one-too-many", "subscribe"),
                "identity_key": identity_key(Identity.generate()),
            }
        )
        code, error = await refused(gateway_server, first)
        assert code == Close.ROOM_FULL and error and error["reason"] == "room_full"
        for p in peers:
            await p.ws.close()

    run(scenario())


def test_tokens_in_urls_never_reach_the_logs(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", extra_env={"VOXSEAL_LOG_LEVEL": "info"})
    try:
        tok = token(gw, "log-room", "logger", "subscribe")

        async def scenario() -> None:
            url = f"{wss(gw)}?token={tok}"
            async with connect(url, ssl=client_context(gw.ca_file)) as ws:
                await ws.send(
                    json.dumps({"type": "join", "identity_key": identity_key(Identity.generate())})
                )
                assert json.loads(await ws.recv())["type"] == "joined"

        run(scenario())
        with gw.client() as c:
            c.get(f"/healthz?token={tok}")
    finally:
        gw.stop()
    log = gw.log()
    assert "/v1/rtc?token=***" in log and "/healthz?token=***" in log
    assert tok not in log and tok.split(".")[2] not in log
