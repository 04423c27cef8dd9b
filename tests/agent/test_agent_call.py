"""Issue 5's end-to-end call: a caller speaks a card number to the AI agent through the gateway.

Everything is real: espeak-ng speaks the caller's WAV, the SDK publishes it E2EE through the
blind SFU, the agent worker (dispatched by the gateway) decrypts it, webrtcvad segments it,
pocketsphinx transcribes it on-prem, the redactor replaces the card number, the responder (the
real rule-based one, remembering what it was given) answers, espeak-ng speaks the reply back.
The transcript and the silenced recording go to the vault as ciphertext; with consent
withdrawn nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.agent.helpers import CARD_PHRASE, DIGIT_WORDS, GREETING, silence, speech, transcriber
from tests.harness.gateway import RunningGateway
from tests.harness.rooms import token
from voxseal.agent import AgentPipeline, EspeakTTS, RuleBasedResponder
from voxseal.agent.runtime import CallRunner
from voxseal.agent.worker import AgentWorker
from voxseal.identity.rbac import Role
from voxseal.media.audio import pcm_frames
from voxseal.privacy import RedactedText
from voxseal.privacy.consent import ConsentLedger
from voxseal.privacy.policy import PrivacyPolicy
from voxseal.sdk import Audio, RoomClient
from voxseal.vault.vault import open_vault

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(coro: Any, timeout: float) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class RecordingResponder(RuleBasedResponder):
    """The real rule-based responder, remembering exactly what the 'LLM' was given."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    async def respond(self, history, text):  # type: ignore[no-untyped-def]
        self.seen.append(text)
        return await super().respond(history, text)


def consent(gw: RunningGateway, key: str, subject: str, purpose: str, granted: bool) -> None:
    with gw.client(key) as c:
        r = c.post(
            f"/v1/subjects/{subject}/consents",
            json={
                "purpose": purpose,
                "granted": granted,
                "source": "ivr",
                "legal_basis": "consent",
            },
        )
        assert r.status_code == 201, r.text


def caller_speech() -> np.ndarray:
    """A greeting, then the card number (espeak-ng; made outside the event loop)."""
    return np.concatenate([speech(GREETING), silence(1.5), speech(CARD_PHRASE), silence(6.0)])


async def call_the_agent(
    gw: RunningGateway,
    room: str,
    subject: str,
    backend: str,
    said: np.ndarray,
    during: tuple[float, Any] | None = None,
) -> dict[str, Any]:
    """``during``: (seconds into the call, a blocking callable) — e.g. withdraw consent."""
    g = gw.open()
    directory_key = None
    try:
        if g.directory.find("agent-e2e") is None:
            g.directory.create_service("agent-e2e", {Role.AGENT})
        directory_key = g.directory.create_api_key("agent-e2e").key
    finally:
        g.close()
    services = gw.open()  # the agent zone's own connection to the store (vault, consents)
    vault = open_vault(services.db, services.audit, gw.data_dir)
    responder = RecordingResponder()
    runner = CallRunner(
        gw.base_url,
        ca_file=gw.ca_file,
        ledger=ConsentLedger(services.db, services.audit),
        vault=vault,
        audit=services.audit,
        policy=PrivacyPolicy(),
        make_pipeline=lambda **kw: AgentPipeline(transcriber(), responder, EspeakTTS(), **kw),
        actor="agent-e2e",
    )
    worker = AgentWorker(gw.base_url, directory_key, runner, name="e2e", ca_file=gw.ca_file)
    task = asyncio.create_task(worker.run(reconnect=False))
    heard: list[np.ndarray] = []
    try:
        await asyncio.wait_for(worker.registered.wait(), 10)

        def request() -> dict[str, Any]:
            with gw.client(backend) as c:
                r = c.post(f"/v1/rooms/{room}/agent", json={"subject_id": subject})
                assert r.status_code == 202, r.text
                return r.json()["job"]  # type: ignore[no-any-return]

        job = await asyncio.to_thread(request)
        caller = await RoomClient.connect(
            gw.base_url,
            token(gw, room, "caller", "publish", "subscribe"),
            ca_file=gw.ca_file,
            audio=Audio(
                pcm_frames([said]),
                2,
                lambda who, pcm: heard.append(pcm) if who.startswith("agent:") else None,
            ),
        )
        await caller.wait_keyed("agent:e2e", timeout=20)
        live: list[dict[str, Any]] = []

        async def transcripts() -> None:
            async for event in caller.events():
                if event["type"] == "data":
                    live.append(event)

        reader = asyncio.create_task(transcripts())
        if during is not None:
            await asyncio.sleep(during[0])
            await asyncio.to_thread(during[1])
            await asyncio.sleep(len(said) / 48000 + 1.0 - during[0])
        else:
            await asyncio.sleep(len(said) / 48000 + 1.0)
        reader.cancel()
        await caller.leave()
        for _ in range(400):
            if worker.ended:
                break
            await asyncio.sleep(0.05)
        assert worker.ended and worker.ended[0][0] == job["id"], worker.ended
        outcome = runner.outcomes[job["id"]]
        return {
            "outcome": outcome,
            "vault": vault,
            "responder": responder,
            "heard": heard,
            "live": live,
            "services": services,
        }
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_card_number_call_is_transcribed_redacted_and_stored_encrypted(
    gateway_server: RunningGateway,
) -> None:
    backend = gateway_server.api_key("e2e-backend")
    for purpose in ("recording", "transcription"):
        consent(gateway_server, backend, "subject-e2e", purpose, True)

    result = run(
        call_the_agent(gateway_server, "call-e2e", "subject-e2e", backend, caller_speech()),
        timeout=120,
    )
    outcome, vault, responder, services = (
        result["outcome"],
        result["vault"],
        result["responder"],
        result["services"],
    )
    try:
        # the agent answered, and its voice came back through the call
        reply = np.concatenate(result["heard"]) if result["heard"] else np.zeros(1, np.int16)
        assert np.abs(reply.astype(np.int32)).max() > 1000, (
            "no agent reply audio reached the caller"
        )
        # the language model saw redacted text only
        assert responder.seen and all(isinstance(t, RedactedText) for t in responder.seen)
        assert any("[CARD]" in t.text for t in responder.seen)  # type: ignore[attr-defined]
        assert not any(DIGIT_WORDS & set(re.findall(r"[a-z]+", t.text)) for t in responder.seen)  # type: ignore[attr-defined]

        transcript = vault.get(
            outcome.transcript_id, actor="test-supervisor", roles={Role.SUPERVISOR}
        )
        body = json.loads(transcript.data)
        text = " ".join(u["text"] for u in body["utterances"])
        assert "[CARD]" in text and not DIGIT_WORDS & set(re.findall(r"[a-z]+", text.lower()))

        recording = vault.get(
            outcome.recording_id, actor="test-supervisor", roles={Role.SUPERVISOR}
        )
        with wave.open(io.BytesIO(recording.data)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert len(pcm) > 48000 * 3
        # the spoken card number is silenced in the stored recording (PCI-style)
        assert recording.metadata["silenced_spans"] >= 1
        assert recording.metadata["silenced_seconds"] > 2.0
        start = round(recording.metadata["longest_silenced_start"] * 48000)
        end = round(recording.metadata["longest_silenced_end"] * 48000)
        assert end - start > 48000 * 2 and not pcm[start:end].any()  # digits: all zero
        assert np.abs(pcm[: max(0, start - 4800)].astype(np.int32)).max() > 1000  # voice kept
        # ciphertext at rest: neither the WAV nor the transcript is in the database file
        db_bytes = (gateway_server.data_dir / "voxseal.db").read_bytes()
        wal = gateway_server.data_dir / "voxseal.db-wal"
        if wal.exists():
            db_bytes += wal.read_bytes()
        assert recording.data[44 : 44 + 4096] not in db_bytes
        assert b"[CARD]" not in db_bytes
        actions = {r.action for r in services.audit.query(target="call-e2e", limit=500)}
        assert {"agent.request", "agent.dispatch", "agent.call.start", "agent.call.end"} <= actions
        assert outcome.latencies, "no agent turn was timed"
        # the caller saw the redacted transcript live, sent end to end by the agent
        live = [e["data"] for e in result["live"] if e["from"] == "agent:e2e"]
        assert any(d["speaker"] == "caller" and "[CARD]" in d["text"] for d in live), live
        assert any(d["speaker"] == "agent" for d in live)
    finally:
        services.close()


def test_without_consent_nothing_is_stored_or_transcribed(gateway_server: RunningGateway) -> None:
    backend = gateway_server.api_key("e2e-backend-2")
    consent(gateway_server, backend, "subject-no", "transcription", True)
    consent(gateway_server, backend, "subject-no", "transcription", False)  # withdrawn

    result = run(
        call_the_agent(gateway_server, "call-no-consent", "subject-no", backend, caller_speech()),
        timeout=120,
    )
    outcome, responder, services = result["outcome"], result["responder"], result["services"]
    try:
        assert outcome.transcript_id is None and outcome.recording_id is None
        assert outcome.utterances == 0 and responder.seen == []
    finally:
        services.close()


def test_voxseal_agent_process_answers_a_call(gateway_server: RunningGateway) -> None:
    """`voxseal agent` as its own process: registers, is dispatched, answers, stops on SIGTERM."""
    import signal
    import subprocess
    import sys

    backend = gateway_server.api_key("e2e-backend-3")
    for purpose in ("recording", "transcription"):
        consent(gateway_server, backend, "subject-proc", purpose, True)
    env = {**gateway_server.env, "VOXSEAL_PUBLIC_BASE_URL": gateway_server.base_url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voxseal",
            "agent",
            "--data-dir",
            str(gateway_server.data_dir),
            "--name",
            "proc",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "voxseal agent: agent-proc serving" in line, line
        for _ in range(100):  # registered?
            with gateway_server.client(backend) as c:
                workers = c.get("/v1/agents").json()["workers"]
            if any(w["name"] == "proc" for w in workers):
                break
            time.sleep(0.1)
        # the README's example is the caller
        reply = gateway_server.data_dir.parent / "reply.wav"
        example = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "call_agent.py"),
                "--url", gateway_server.base_url,
                "--ca", str(gateway_server.ca_file),
                "--api-key", backend,
                "--room", "call-proc",
                "--subject", "subject-proc",
                "--agent", "proc",
                "--say", GREETING,
                "--say", CARD_PHRASE,
                "--save-reply", str(reply),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert example.returncode == 0, example.stdout + example.stderr
        lines = example.stdout.splitlines()
        assert any(ln.startswith("[caller]") and "[CARD]" in ln for ln in lines), example.stdout
        assert any(ln.startswith("[agent]") for ln in lines), example.stdout
        assert not DIGIT_WORDS & set(re.findall(r"[a-z]+", " ".join(lines).lower()))
        assert "safety number with the agent" in example.stdout and reply.exists()
        with wave.open(str(reply)) as w:
            voice = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert np.abs(voice.astype(np.int32)).max() > 1000, "no agent voice reached the caller"
        g = gateway_server.open()
        try:
            for _ in range(100):
                ended = g.audit.query(action="agent.call.end", target="call-proc", limit=10)
                if ended:
                    break
                time.sleep(0.1)
            assert ended and ended[-1].details["transcript"], "no transcript stored"
            stored = g.vault.get(
                ended[-1].details["transcript"], actor="t", roles={Role.SUPERVISOR}
            )
            assert "[CARD]" in stored.data.decode()
        finally:
            g.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "vxk_" not in out


def test_consent_withdrawn_during_the_call_stops_processing(gateway_server: RunningGateway) -> None:
    """Withdrawn after the greeting: the card utterance is never transcribed, nothing stored."""
    backend = gateway_server.api_key("e2e-backend-4")
    for purpose in ("recording", "transcription"):
        consent(gateway_server, backend, "subject-mid", purpose, True)
    greeting = len(speech(GREETING)) / 48000

    def withdraw() -> None:
        for purpose in ("recording", "transcription"):
            consent(gateway_server, backend, "subject-mid", purpose, False)

    # withdraw once the greeting is over, 1 s before the card number starts
    result = run(
        call_the_agent(
            gateway_server,
            "call-mid",
            "subject-mid",
            backend,
            caller_speech(),
            (greeting + 0.5, withdraw),
        ),
        timeout=120,
    )
    outcome, responder, services = result["outcome"], result["responder"], result["services"]
    try:
        seen = [t.text for t in responder.seen]  # type: ignore[attr-defined]
        assert len(seen) == 1 and "[CARD]" not in seen[0], seen  # the greeting only
        assert outcome.transcript_id is None and outcome.recording_id is None
        withdrawals = services.audit.query(action="consent.withdraw", limit=100)
        assert sum(1 for r in withdrawals if r.target == "subject-mid") == 2
    finally:
        services.close()
