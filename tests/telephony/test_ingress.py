"""The ingress process at its edges: signed webhooks, token-gated streams, hostile input.

A real ``voxseal telephony`` subprocess on TLS 1.3; requests are signed with twilio's own
RequestValidator and Vonage-shaped HS256 JWTs. Its gateway is deliberately not running, so a
stream that passes every check ends in 1011 (no room to join) — and the adapter carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.harness.gateway import free_port
from tests.harness.ingress import (
    CALLER_NUMBER,
    SIGNALWIRE_KEY,
    TWILIO_TOKEN,
    VONAGE_SECRET,
    RunningIngress,
    body_hash,
    start_ingress,
    stream_token_of,
    twilio_connected,
    twilio_media,
    twilio_start,
)
from voxseal.cli.telephony import HideQueryStrings

pytestmark = pytest.mark.slow


def run(coro: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def open_stream(ing: RunningIngress, path: str) -> ClientConnection:
    return await connect(ing.wss_url + path, ssl=ing.ssl(), max_size=1 << 22)


async def closed_with(ws: ClientConnection, timeout: float = 15) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as exc:
        rcvd = exc.rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, "")


def twilio_call(ing: RunningIngress, **kw: Any) -> tuple[str, str]:
    call_sid = "CA" + uuid.uuid4().hex
    r = ing.twilio_webhook(call_sid=call_sid, **kw)
    assert r.status_code == 200, r.text
    return call_sid, stream_token_of(r.text)


# -- webhooks ---------------------------------------------------------------------------------


def test_twilio_webhook_signed_by_twilios_validator_gets_twiml(
    ingress_alone: RunningIngress,
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    r = ingress_alone.twilio_webhook(call_sid=call_sid)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert f'<Stream url="{ingress_alone.wss_url}/v1/telephony/twilio/stream">' in r.text
    assert stream_token_of(r.text).count(".") == 2  # a JWT in a <Parameter>
    event = ingress_alone.wait_for_audit("telephony.webhook", lambda e: e.target == call_sid)
    assert event.outcome == "success" and event.details["provider"] == "twilio"
    # the caller's number is personal data: only its keyed pseudonym is audited
    assert event.details["subject"].startswith("tel-")
    assert CALLER_NUMBER not in json.dumps(event.details) and "5551230001" not in str(event)


@pytest.mark.parametrize("case", ["tampered", "wrong_secret", "missing"])
def test_twilio_webhook_bad_signature_is_403_and_audited(
    ingress_alone: RunningIngress, case: str
) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    if case == "missing":
        with ingress_alone.client() as c:
            r = c.post("/v1/telephony/twilio/voice", data={"CallSid": call_sid})
    else:
        r = ingress_alone.twilio_webhook(
            call_sid=call_sid,
            tamper=case == "tampered",
            token="not-the-auth-token" if case == "wrong_secret" else TWILIO_TOKEN,
        )
    assert r.status_code == 403, r.text
    reason = "missing_signature" if case == "missing" else "invalid_signature"
    assert r.json()["error"] == reason and "Stream" not in r.text
    event = ingress_alone.wait_for_audit(
        "telephony.webhook",
        lambda e: e.outcome == "denied" and e.details.get("reason") == reason,
    )
    assert event.details["status"] == 403 and TWILIO_TOKEN not in str(event)


def test_twilio_json_webhook_with_body_sha256(ingress_alone: RunningIngress) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    body = json.dumps({"CallSid": call_sid, "From": CALLER_NUMBER}).encode()
    path = f"/v1/telephony/twilio/voice?bodySHA256={body_hash(body)}"
    validator = RequestValidator(TWILIO_TOKEN)
    signature = validator.compute_signature(ingress_alone.base_url + path, {})
    assert validator.validate(ingress_alone.base_url + path, body.decode(), signature)
    headers = {"X-Twilio-Signature": signature, "content-type": "application/json"}
    with ingress_alone.client() as c:
        r = c.post(path, content=body, headers=headers)
        assert r.status_code == 200, r.text
        other = json.dumps({"CallSid": call_sid, "From": "+15559999999"}).encode()
        r = c.post(path, content=other, headers=headers)  # body swapped under the signature
        assert r.status_code == 403 and r.json()["error"] == "invalid_signature"


def test_signalwire_webhook_uses_its_own_header_and_key(ingress_alone: RunningIngress) -> None:
    call_sid = str(uuid.uuid4()).replace("-", "")
    r = ingress_alone.twilio_webhook(call_sid=call_sid, provider="signalwire", token=SIGNALWIRE_KEY)
    assert r.status_code == 200, r.text
    assert "/v1/telephony/signalwire/stream" in r.text
    # Twilio's secret does not sign SignalWire webhooks
    r = ingress_alone.twilio_webhook(provider="signalwire", token=TWILIO_TOKEN)
    assert r.status_code == 403


def test_vonage_answer_signed_jwt_gets_ncco(ingress_alone: RunningIngress) -> None:
    call_uuid = str(uuid.uuid4())
    r = ingress_alone.vonage_answer(call_uuid=call_uuid)
    assert r.status_code == 200, r.text
    (action,) = r.json()
    endpoint = action["endpoint"][0]
    assert action["action"] == "connect" and endpoint["type"] == "websocket"
    assert endpoint["uri"] == f"{ingress_alone.wss_url}/v1/telephony/vonage/ws"
    assert endpoint["content-type"] == "audio/l16;rate=16000"
    assert endpoint["headers"]["call"] == call_uuid and endpoint["headers"]["token"]
    for bad in (
        ingress_alone.vonage_answer(secret="another-accounts-signature-secret"),
        ingress_alone.vonage_answer(payload_hash=body_hash(b"a body that was not sent")),
    ):
        assert bad.status_code == 403 and bad.json()["error"] == "invalid_signature"
    with ingress_alone.client() as c:
        assert c.get("/v1/telephony/vonage/answer?uuid=x").status_code == 403
    ingress_alone.wait_for_audit(
        "telephony.webhook",
        lambda e: e.outcome == "denied" and e.details["provider"] == "vonage",
    )


def test_oversized_webhook_is_refused(ingress_alone: RunningIngress) -> None:
    with ingress_alone.client() as c:
        r = c.post(
            "/v1/telephony/twilio/voice",
            content=b"CallSid=" + b"A" * 70_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


# -- media streams ----------------------------------------------------------------------------


def test_stream_tokens_are_single_use_bound_and_checked_before_audio(
    ingress_alone: RunningIngress,
) -> None:
    ing = ingress_alone
    call_sid, token = twilio_call(ing)
    other_sid, other_token = twilio_call(ing)
    vonage = ing.vonage_answer().json()[0]["endpoint"][0]["headers"]

    async def attempt(frames: list[str | bytes], path: str = "/v1/telephony/twilio/stream") -> Any:
        ws = await open_stream(ing, path)
        for f in frames:
            await ws.send(f)
        return await closed_with(ws)

    async def scenario() -> dict[str, Any]:
        sid = "MZ" + uuid.uuid4().hex
        out: dict[str, Any] = {}
        # a genuine token for this call: every check passes; the (absent) gateway gives 1011
        out["genuine"] = await attempt([twilio_connected(), twilio_start(sid, call_sid, token)])
        # the same token again (a leaked TwiML log): replayed
        out["replayed"] = await attempt([twilio_connected(), twilio_start(sid, call_sid, token)])
        # another call's token on this call: foreign
        out["other_call"] = await attempt([twilio_start(sid, call_sid, other_token)])
        # a Vonage stream token on the Twilio stream: foreign provider
        out["other_provider"] = await attempt([twilio_start(sid, vonage["call"], vonage["token"])])
        # no token, a forged one
        out["missing"] = await attempt([twilio_start(sid, other_sid, None)])
        forged = token.rsplit(".", 1)[0] + ".AAAA"
        out["forged"] = await attempt([twilio_start(sid, other_sid, forged)])
        # audio before start: refused as a protocol violation, never heard
        out["media_first"] = await attempt([twilio_media(sid, 1, 1, b"\xff" * 160)])
        return out

    out = run(scenario(), timeout=90)
    assert out["genuine"] == (1011, "gateway_unavailable"), out
    assert out["replayed"] == (1008, "stream_token_replayed")
    assert out["other_call"] == (1008, "stream_token_mismatch")
    assert out["other_provider"] == (1008, "stream_token_mismatch")
    assert out["missing"] == (1008, "invalid_stream_token")
    assert out["forged"] == (1008, "invalid_stream_token")
    assert out["media_first"] == (1007, "malformed_frame")
    wanted = {
        "stream_token_replayed",
        "stream_token_mismatch",
        "invalid_stream_token",
        "malformed_frame",
        "gateway_unavailable",
    }
    deadline = time.monotonic() + 10
    while True:
        refused = ing.audit("telephony.stream.refused")
        if wanted <= {r.details["reason"] for r in refused} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted <= {r.details["reason"] for r in refused}
    assert all(r.details["ws_close"] in (1007, 1008, 1009, 1011) for r in refused)
    assert not any(token in str(r) for r in refused)  # tokens are never audited
    assert ing.alive()


HOSTILE: list[tuple[str, list[str | bytes], int, str]] = [
    ("not json", ["{nope"], 1007, "malformed_frame"),
    ("json array", ["[1, 2, 3]"], 1007, "malformed_frame"),
    # an event we do not know is ignored only on an admitted stream: before it, no token
    ("unknown event before start", ['{"event": "hello"}'], 1008, "invalid_stream_token"),
    ("invalid event name", ['{"event": "<hello/>"}'], 1007, "malformed_frame"),
    ("binary frame", [b"\x00\x01\x02"], 1007, "malformed_frame"),
    ("deep nesting", ["[" * 100_000 + "]" * 100_000], 1009, "malformed_frame"),
    ("oversized", ['{"event": "' + "x" * 70_000 + '"}'], 1009, "malformed_frame"),
    (
        "start without format",
        ['{"event":"start","start":{"streamSid":"MZ1"}}'],
        1007,
        "malformed_frame",
    ),
    ("invalid utf-8 text", [b'{"event": "connected", "protocol": "\xff"}'], 1007, ""),
]


@pytest.mark.parametrize(("name", "frames", "code", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_twilio_frames_close_with_the_right_code(
    ingress_alone: RunningIngress, name: str, frames: list[str | bytes], code: int, reason: str
) -> None:
    async def scenario() -> tuple[int | None, str]:
        ws = await open_stream(ingress_alone, "/v1/telephony/twilio/stream")
        for f in frames:
            await ws.send(f, text=True if name == "invalid utf-8 text" else None)
        return await closed_with(ws)

    got = run(scenario())
    assert got[0] == code, (name, got)
    if reason:
        assert got[1] == reason
    assert ingress_alone.alive()


def test_hostile_vonage_frames(ingress_alone: RunningIngress) -> None:
    ing = ingress_alone
    headers = ing.vonage_answer().json()[0]["endpoint"][0]["headers"]

    async def attempt(frames: list[str | bytes]) -> tuple[int | None, str]:
        ws = await open_stream(ing, "/v1/telephony/vonage/ws")
        for f in frames:
            await ws.send(f)
        return await closed_with(ws)

    def connected(**h: str) -> str:
        return json.dumps(
            {"event": "websocket:connected", "content-type": "audio/l16;rate=16000", **h}
        )

    async def scenario() -> dict[str, Any]:
        return {
            "audio_first": await attempt([b"\x00\x00" * 320]),
            "no_token": await attempt([connected(call=headers["call"])]),
            "wrong_call": await attempt([connected(token=headers["token"], call="someone-else")]),
            "bad_rate": await attempt([connected().replace("16000", "44100")]),
            "twilio_token": await attempt(
                [connected(token=twilio_call(ing)[1], call=headers["call"])]
            ),
        }

    out = run(scenario(), timeout=60)
    assert out["audio_first"] == (1007, "malformed_frame")
    assert out["no_token"] == (1008, "invalid_stream_token")
    assert out["wrong_call"] == (1008, "stream_token_mismatch")
    assert out["bad_rate"] == (1007, "malformed_frame")
    assert out["twilio_token"] == (1008, "stream_token_mismatch")
    assert ing.alive()


def test_stream_without_start_times_out(ingress_alone: RunningIngress) -> None:
    async def scenario() -> tuple[int | None, str]:
        ws = await open_stream(ingress_alone, "/v1/telephony/twilio/stream")
        await ws.send(twilio_connected())
        return await closed_with(ws, timeout=20)

    assert run(scenario()) == (1008, "stream_start_timeout")


def test_signalwire_stream_takes_only_signalwire_tokens(ingress_alone: RunningIngress) -> None:
    ing = ingress_alone
    call_id = uuid.uuid4().hex
    r = ing.twilio_webhook(call_sid=call_id, provider="signalwire", token=SIGNALWIRE_KEY)
    sw_token = stream_token_of(r.text)
    tw_sid, tw_token = twilio_call(ing)

    async def attempt(call: str, token: str) -> tuple[int | None, str]:
        ws = await open_stream(ing, "/v1/telephony/signalwire/stream")
        await ws.send(twilio_start(str(uuid.uuid4()), call, token))
        return await closed_with(ws)

    async def scenario() -> list[tuple[int | None, str]]:
        return [await attempt(tw_sid, tw_token), await attempt(call_id, sw_token)]

    foreign, genuine = run(scenario())
    assert foreign == (1008, "stream_token_mismatch")
    assert genuine == (1011, "gateway_unavailable")  # every check passed; no gateway to join


def test_public_base_url_behind_a_proxy_and_the_default_port(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Providers sign the public URL; the ingress listens elsewhere (a proxy in front)."""
    data_dir = tmp_path_factory.mktemp("proxied") / "data"
    public = "https://voice.example.com/phone"
    ing = start_ingress(data_dir, extra_env={"VOXSEAL_TELEPHONY_PUBLIC_BASE_URL": public})
    try:
        validator = RequestValidator(TWILIO_TOKEN)
        params = {"CallSid": "CA" + uuid.uuid4().hex, "From": CALLER_NUMBER}
        with ing.client() as c:
            for signed_url in (
                f"{public}/v1/telephony/twilio/voice",
                "https://voice.example.com:443/phone/v1/telephony/twilio/voice",
            ):
                sig = validator.compute_signature(signed_url, params)
                r = c.post(
                    "/v1/telephony/twilio/voice", data=params, headers={"X-Twilio-Signature": sig}
                )
                assert r.status_code == 200, r.text
                assert (
                    '<Stream url="wss://voice.example.com/phone/v1/telephony/twilio/stream">'
                    in r.text
                )
            # signed for the address the ingress actually listens on: not what Twilio called
            sig = validator.compute_signature(ing.base_url + "/v1/telephony/twilio/voice", params)
            r = c.post(
                "/v1/telephony/twilio/voice", data=params, headers={"X-Twilio-Signature": sig}
            )
            assert r.status_code == 403
    finally:
        ing.stop()


def test_query_strings_are_hidden_from_access_logs() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/v1/telephony/vonage/answer?uuid=u&from=15551230002",
            "1.1",
            200,
        ),
        None,
    )
    assert HideQueryStrings().filter(record)
    assert "15551230002" not in record.getMessage()
    assert "/v1/telephony/vonage/answer?…" in record.getMessage()


def test_the_gateway_cli_never_loads_the_telephony_ingress() -> None:
    code = (
        "import sys, voxseal.cli; "
        "print([m for m in sys.modules if m.partition('.')[2].startswith('telephony')])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_no_provider_configured_is_a_clear_start_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXSEAL_")}
    r = subprocess.run(
        [sys.executable, "-m", "voxseal", "telephony", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2 and "no provider is configured" in r.stderr


def test_vonage_post_answer_is_bound_to_its_body(ingress_alone: RunningIngress) -> None:
    call_uuid = str(uuid.uuid4())
    body = json.dumps({"uuid": call_uuid, "from": "15551230003", "to": "15557654321"}).encode()

    def signed(payload_hash: str) -> str:
        claims = {"iat": int(time.time()), "jti": str(uuid.uuid4()), "payload_hash": payload_hash}
        return "Bearer " + jwt.encode(claims, VONAGE_SECRET, algorithm="HS256")

    with ingress_alone.client() as c:
        ok = c.post(
            "/v1/telephony/vonage/answer",
            content=body,
            headers={"authorization": signed(body_hash(body)), "content-type": "application/json"},
        )
        assert ok.status_code == 200 and ok.json()[0]["endpoint"][0]["headers"]["call"] == call_uuid
        swapped = body.replace(b"15551230003", b"15559999999")
        bad = c.post(
            "/v1/telephony/vonage/answer",
            content=swapped,
            headers={"authorization": signed(body_hash(body)), "content-type": "application/json"},
        )
        assert bad.status_code == 403 and bad.json()["error"] == "invalid_signature"


def test_unauthenticated_sockets_cannot_pile_up(tmp_path: Path) -> None:
    """Sockets that have not redeemed a stream token are capped; a redeemed one frees its slot."""
    ing = start_ingress(
        tmp_path / "data",
        gateway_url=f"https://localhost:{free_port()}",
        extra_env={"VOXSEAL_TELEPHONY_MAX_UNADMITTED_STREAMS": "2"},
    )
    try:

        async def scenario() -> dict[str, Any]:
            idle = [await open_stream(ing, "/v1/telephony/twilio/stream") for _ in range(2)]
            await asyncio.sleep(0.3)  # both are being served, waiting for their start frame
            over = await asyncio.gather(
                *(open_stream(ing, "/v1/telephony/vonage/ws") for _ in range(5))
            )
            refusals = await asyncio.gather(*(closed_with(ws) for ws in over))
            refused = refusals[0] if len(set(refusals)) == 1 else refusals
            await idle[0].close()
            for _ in range(50):  # the server frees the slot once it sees the close
                fourth = await open_stream(ing, "/v1/telephony/twilio/stream")
                # with its slot free again it gets as far as the token check
                await fourth.send(twilio_start("MZ" + "1" * 32, "CA" + "1" * 32, "not-a-token"))
                checked = await closed_with(fourth)
                if checked[0] != 1013:
                    break
                await asyncio.sleep(0.1)
            await idle[1].close()
            return {"refused": refused, "checked": checked}

        out = run(scenario())
        assert out["refused"] == (1013, "too_many_unadmitted_streams")
        assert out["checked"] == (1008, "invalid_stream_token")
        overflow = [
            r
            for r in ing.audit("telephony.stream.refused")
            if r.details["reason"] == "too_many_unadmitted_streams"
        ]
        # audited, but not one durable write per socket of a flood
        assert 1 <= len(overflow) <= 2 and sum(r.details["refused"] for r in overflow) <= 5
        assert ing.alive()
    finally:
        ing.stop()
