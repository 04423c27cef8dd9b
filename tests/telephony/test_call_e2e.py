"""Issue 7's end-to-end calls: a phone caller reaches the AI agent through the ingress.

Everything is real: a ``voxseal serve`` gateway and a ``voxseal telephony`` ingress in their
own processes on TLS 1.3, an agent worker (webrtcvad, pocketsphinx, the rule-based responder,
espeak-ng) dispatched by the gateway. The "provider" is this test: it signs the webhook as
Twilio (twilio's own RequestValidator) or Vonage (HS256 JWT) does, then speaks the provider's
media protocol frame for frame — Twilio's JSON ``media`` events carrying base64 μ-law of an
espeak-ng WAV, Vonage's binary L16 — paced at 20 ms like a carrier. It must get the agent's
spoken reply back as provider frames, followed by a ``mark`` (Twilio) or ``notify`` (Vonage).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import subprocess
import sys
import uuid
import warnings
import wave
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.agent.helpers import GREETING, transcriber
from tests.harness.gateway import RunningGateway
from tests.harness.ingress import (
    CALLER_NUMBER,
    RunningIngress,
    stream_token_of,
    twilio_connected,
    twilio_media,
    twilio_start,
    twilio_stop,
)
from voxseal.agent import AgentPipeline, EspeakTTS, RuleBasedResponder
from voxseal.agent.runtime import CallRunner
from voxseal.agent.worker import AgentWorker
from voxseal.audio import Resampler
from voxseal.identity.rbac import Role
from voxseal.privacy.consent import ConsentLedger
from voxseal.privacy.policy import PrivacyPolicy
from voxseal.vault.vault import open_vault

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # an independent G.711 implementation (stdlib until 3.13)

pytestmark = pytest.mark.slow

VONAGE_NUMBER = "15551230002"
VOXSEAL = (sys.executable, "-m", "voxseal")


def espeak_wav(text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's own WAV (22.05 kHz), read with the stdlib ``wave`` module."""
    out = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "175", "--stdout", text], capture_output=True, check=True
    )
    with wave.open(io.BytesIO(out.stdout)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16), w.getframerate()


def at_rate(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    r = Resampler(rate_in, rate_out)
    y = np.concatenate([r.push(pcm.astype(np.float64) / 32768), r.flush()])
    return np.clip(np.rint(y * 32768), -32768, 32767).astype(np.int16)


def subject_of(ing: RunningIngress, number: str) -> str:
    """The caller's pseudonymous subject id, as an operator gets it: numbers on stdin."""
    out = subprocess.run(
        [*VOXSEAL, "telephony", "--data-dir", str(ing.data_dir), "--subject-ids"],
        input=f"{number}\n",
        capture_output=True,
        text=True,
        env=ing.env,
        check=True,
    )
    subject = out.stdout.strip()
    assert subject.startswith("tel-") and number.strip("+") not in subject
    return subject


def grant(gw: RunningGateway, backend: str, subject: str) -> None:
    with gw.client(backend) as c:
        for purpose in ("transcription", "recording"):
            r = c.post(
                f"/v1/subjects/{subject}/consents",
                json={
                    "purpose": purpose,
                    "granted": True,
                    "source": "ivr",
                    "legal_basis": "consent",
                },
            )
            assert r.status_code == 201, r.text


async def with_agent(gw: RunningGateway, call: Any) -> Any:
    """Run ``call()`` while an agent worker (agent zone, this process) serves dispatches."""
    g = gw.open()
    try:
        if g.directory.find("agent-tel") is None:
            g.directory.create_service("agent-tel", {Role.AGENT})
        key = g.directory.create_api_key("agent-tel").key
    finally:
        g.close()
    services = gw.open()
    runner = CallRunner(
        gw.base_url,
        ca_file=gw.ca_file,
        ledger=ConsentLedger(services.db, services.audit),
        vault=open_vault(services.db, services.audit, gw.data_dir),
        audit=services.audit,
        policy=PrivacyPolicy(),
        make_pipeline=lambda **kw: AgentPipeline(
            transcriber(), RuleBasedResponder(), EspeakTTS(), **kw
        ),
        actor="agent-tel",
    )
    worker = AgentWorker(gw.base_url, key, runner, name="tel", capacity=2, ca_file=gw.ca_file)
    task = asyncio.create_task(worker.run(reconnect=False))
    try:
        await asyncio.wait_for(worker.registered.wait(), 10)
        return await call()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        services.close()


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    return espeak_wav(GREETING)


def test_twilio_caller_talks_to_the_agent(
    gateway_and_ingress: tuple[RunningGateway, RunningIngress], speech: tuple[np.ndarray, int]
) -> None:
    gw, ing = gateway_and_ingress
    grant(gw, gw.api_key("tel-backend"), subject_of(ing, CALLER_NUMBER))
    pcm, rate = speech
    ulaw = audioop.lin2ulaw(at_rate(pcm, rate, 8000).tobytes(), 2)
    call_sid, stream_sid = "CA" + uuid.uuid4().hex, "MZ" + uuid.uuid4().hex
    r = ing.twilio_webhook(call_sid=call_sid)
    assert r.status_code == 200, r.text
    token = stream_token_of(r.text)

    async def call() -> dict[str, Any]:
        got: dict[str, Any] = {"media": [], "marks": [], "order": [], "other": []}
        ws = await connect(
            ing.wss_url + "/v1/telephony/twilio/stream", ssl=ing.ssl(), max_size=1 << 20
        )
        await ws.send(twilio_connected())
        await ws.send(twilio_start(stream_sid, call_sid, token))
        done = asyncio.Event()

        async def speak() -> None:
            seq, chunk = 2, 1
            silence = b"\xff" * 160
            frames = [ulaw[i : i + 160].ljust(160, b"\xff") for i in range(0, len(ulaw), 160)]
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            # a second of line noise-free silence, the greeting, then silence like a live line
            for payload in [silence] * 50 + frames + [silence] * 2000:
                if done.is_set():
                    return
                await ws.send(twilio_media(stream_sid, seq, chunk, payload))
                seq, chunk = seq + 1, chunk + 1
                await asyncio.sleep(max(0.0, t0 + chunk * 0.02 - loop.time()))

        async def listen() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                got["order"].append(msg["event"])
                if msg["event"] == "media":
                    assert msg["streamSid"] == stream_sid
                    got["media"].append(base64.b64decode(msg["media"]["payload"]))
                elif msg["event"] == "mark":
                    assert msg["streamSid"] == stream_sid
                    got["marks"].append(msg["mark"]["name"])
                    # Twilio echoes a mark once the audio before it has played
                    await ws.send(
                        json.dumps(
                            {
                                "event": "mark",
                                "sequenceNumber": "99999",
                                "streamSid": stream_sid,
                                "mark": {"name": msg["mark"]["name"]},
                            }
                        )
                    )
                    done.set()
                    return
                else:
                    got["other"].append(msg)

        speaker = asyncio.create_task(speak())
        await asyncio.wait_for(listen(), 60)
        speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaker
        await asyncio.sleep(0.5)  # the echoed mark reaches the ingress
        # an event Twilio might add one day: ignored and counted, the call is not hung up
        future = {"event": "futureEvent", "sequenceNumber": "99998", "streamSid": stream_sid}
        await ws.send(json.dumps(future))
        await ws.send(twilio_stop(stream_sid, call_sid, 100000))
        try:
            while True:  # frames already in flight, then the close
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as exc:
            got["close"] = exc.rcvd.code if exc.rcvd else None
        return got

    got = asyncio.run(asyncio.wait_for(with_agent(gw, call), 90))
    assert got["media"], f"no agent audio came back: {got['order'][:20]}"
    assert all(len(p) == 160 for p in got["media"])  # 20 ms of μ-law at 8 kHz each
    reply = np.frombuffer(audioop.ulaw2lin(b"".join(got["media"]), 2), "<i2")
    assert len(reply) >= 8000 // 2 and np.abs(reply.astype(np.int32)).max() > 3000  # a voice
    assert got["order"][-1] == "mark" and got["order"].index("mark") > 0  # media, then a mark
    assert got["marks"] == ["utterance-1"] and not got["other"]
    assert got["close"] == 1000
    start = ing.wait_for_audit("telephony.stream.start", lambda e: e.target == call_sid)
    assert start.details["room"] == f"tel-twilio-{call_sid}" and start.details["job"]
    assert start.details["subject"] == subject_of(ing, CALLER_NUMBER)
    end = ing.wait_for_audit("telephony.stream.end", lambda e: e.target == call_sid)
    assert end.details["marks_played"] == 1 and end.details["frames_out"] >= len(got["media"])
    assert end.details["unknown_events"] == {"futureEvent": 1}
    # the gateway saw the ingress join like any endpoint
    g = gw.open()
    try:
        joins = g.audit.query(action="rtc.join", target=f"tel-twilio-{call_sid}", limit=10)
    finally:
        g.close()
    assert len(joins) >= 2  # the phone caller's bridge and the agent
    assert "5551230001" not in ing.log()  # the caller's number is never logged


def test_vonage_caller_talks_to_the_agent(
    gateway_and_ingress: tuple[RunningGateway, RunningIngress], speech: tuple[np.ndarray, int]
) -> None:
    gw, ing = gateway_and_ingress
    grant(gw, gw.api_key("tel-backend-2"), subject_of(ing, VONAGE_NUMBER))
    pcm, rate = speech
    l16 = at_rate(pcm, rate, 16000).astype("<i2").tobytes()
    call_uuid = str(uuid.uuid4())
    r = ing.vonage_answer(call_uuid=call_uuid, number=VONAGE_NUMBER)
    assert r.status_code == 200, r.text
    endpoint = r.json()[0]["endpoint"][0]

    async def call() -> dict[str, Any]:
        got: dict[str, Any] = {"audio": [], "notify": [], "order": []}
        ws = await connect(endpoint["uri"], ssl=ing.ssl(), max_size=1 << 20)
        await ws.send(
            json.dumps(
                {
                    "event": "websocket:connected",
                    "content-type": endpoint["content-type"],
                    **endpoint["headers"],
                }
            )
        )
        done = asyncio.Event()

        async def speak() -> None:
            silence = bytes(640)
            frames = [l16[i : i + 640].ljust(640, b"\0") for i in range(0, len(l16), 640)]
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            for n, payload in enumerate([silence] * 50 + frames + [silence] * 2000, 1):
                if done.is_set():
                    return
                await ws.send(payload)
                await asyncio.sleep(max(0.0, t0 + n * 0.02 - loop.time()))

        async def listen() -> None:
            async for raw in ws:
                if isinstance(raw, bytes):
                    got["order"].append("audio")
                    got["audio"].append(raw)
                    continue
                msg = json.loads(raw)
                got["order"].append(msg.get("action"))
                if msg.get("action") == "notify":
                    got["notify"].append(msg["payload"])
                    echo = {"event": "websocket:notify", "payload": msg["payload"]}
                    await ws.send(json.dumps(echo))
                    done.set()
                    return

        speaker = asyncio.create_task(speak())
        await asyncio.wait_for(listen(), 60)
        speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await speaker
        await asyncio.sleep(0.5)
        await ws.close()
        return got

    got = asyncio.run(asyncio.wait_for(with_agent(gw, call), 90))
    assert got["audio"], "no agent audio came back"
    assert all(len(f) == 640 for f in got["audio"])  # 20 ms of L16 at 16 kHz each
    reply = np.frombuffer(b"".join(got["audio"]), "<i2")
    assert np.abs(reply.astype(np.int32)).max() > 3000
    assert got["order"][-1] == "notify" and got["notify"] == [{"mark": "utterance-1"}]
    end = ing.wait_for_audit("telephony.stream.end", lambda e: e.target == call_uuid)
    assert end.details["provider"] == "vonage" and end.details["marks_played"] == 1


def test_twilio_caller_interrupting_the_agent_gets_clear(
    gateway_and_ingress: tuple[RunningGateway, RunningIngress], speech: tuple[np.ndarray, int]
) -> None:
    """Barge-in: the caller talks over the agent's reply; the ingress sends Twilio ``clear``."""
    gw, ing = gateway_and_ingress
    number = "+15551230009"
    grant(gw, gw.api_key("tel-backend-3"), subject_of(ing, number))
    pcm, rate = speech
    ulaw = audioop.lin2ulaw(at_rate(pcm, rate, 8000).tobytes(), 2)
    said = [ulaw[i : i + 160].ljust(160, b"\xff") for i in range(0, len(ulaw), 160)]
    call_sid, stream_sid = "CA" + uuid.uuid4().hex, "MZ" + uuid.uuid4().hex
    r = ing.twilio_webhook(call_sid=call_sid, number=number)
    token = stream_token_of(r.text)

    async def call() -> list[str]:
        events: list[str] = []
        ws = await connect(ing.wss_url + "/v1/telephony/twilio/stream", ssl=ing.ssl())
        await ws.send(twilio_start(stream_sid, call_sid, token))
        agent_talking = asyncio.Event()

        async def speak() -> None:
            loop = asyncio.get_running_loop()
            t0, n = loop.time(), 0
            queue = [b"\xff" * 160] * 50 + said
            interrupted = False
            while True:
                if not queue:  # silence until the agent answers; then talk over it, once
                    if agent_talking.is_set() and not interrupted:
                        queue, interrupted = said[:], True
                    else:
                        queue = [b"\xff" * 160]
                n += 1
                await ws.send(twilio_media(stream_sid, n + 1, n, queue.pop(0)))
                await asyncio.sleep(max(0.0, t0 + n * 0.02 - loop.time()))

        speaker = asyncio.create_task(speak())
        try:
            async for raw in ws:
                event = json.loads(raw)["event"]
                events.append(event)
                if event == "media" and events.count("media") == 25:
                    agent_talking.set()  # half a second into the reply
                if event == "clear":
                    break
        finally:
            speaker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await speaker
            await ws.close()
        return events

    events = asyncio.run(asyncio.wait_for(with_agent(gw, call), 90))
    assert events.count("media") >= 25 and events[-1] == "clear", events[-5:]
    end = ing.wait_for_audit("telephony.stream.end", lambda e: e.target == call_sid)
    assert end.details["barge_ins"] >= 1
