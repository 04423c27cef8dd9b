"""The browser call page, in real Debian chromium, calling the real AI agent of ``voxseal demo``.

Everything is the shipped thing: ``python -m voxseal demo`` (gateway, blind SFU workers, and the
agent worker process it starts), the committed built assets, and chromium with a fake
microphone that plays espeak-ng speech (a greeting, then a card number). The page's "Start a
demo call" button mints the token and dispatches the agent; the test then checks what a person
would check on the page — E2EE on, a safety number, the redacted transcript, the agent's voice
arriving — and, independently of the page, that what the SFU forwarded from the browser was
SFrame ciphertext: a third participant (the Python SDK, subscribe-only) receives the browser's
frames from the SFU, and every one of them authenticates under the browser's sender key. The
same participant's safety number, computed in Python, must equal the one the page shows for it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.agent.helpers import CARD_PHRASE, GREETING, silence, speech
from tests.harness.browser import ROOT, launch_chromium, serve_directory
from tests.harness.gateway import CHEAP_PASSWORDS, free_port, start_gateway
from voxseal.crypto import sframe
from voxseal.sdk import Audio, RoomClient
from voxseal.signaling.tls import client_context
from voxseal.web.assets import STATIC_DIR, call_assets

ARTIFACTS = ROOT / "test-artifacts"
PLACEHOLDER = re.compile(r"\[(CARD|ACCOUNT|PHONE|SSN|EMAIL|DOB|ADDRESS|NAME)\]")
#: the card number, as digits or as the words espeak-ng said: neither may reach the page
SPOKEN_DIGITS = re.compile(r"\b(?:(?:one|four|for)\W+){4,}", re.IGNORECASE)
DIGIT_RUN = re.compile(r"\d{4,}")
SAFETY_DIGITS = re.compile(r"^\d{5}( \d{5}){11}$")


@dataclass
class DemoGateway:
    base_url: str
    call_url: str
    ca_file: Path
    api_key: str
    output: str
    proc: subprocess.Popen[bytes]

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(
            base_url=self.base_url, verify=client_context(self.ca_file), headers=headers
        )


def _demo_output(log: Path, proc: subprocess.Popen[bytes], until: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = log.read_text(errors="replace") if log.exists() else ""
        if until in out:
            return out
        if proc.poll() is not None:
            raise RuntimeError(f"voxseal demo exited early:\n{out}")
        time.sleep(0.1)
    raise RuntimeError(f"voxseal demo did not print {until!r}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    """``voxseal demo`` as a newcomer runs it, with its agent worker registered."""
    port = free_port()
    root = tmp_path_factory.mktemp("demo")
    log = root / "demo.log"
    env = {**os.environ, **CHEAP_PASSWORDS, "VOXSEAL_LOG_LEVEL": "warning"}
    env.pop("VOXSEAL_DATA_DIR", None)
    with open(log, "wb") as out:
        cmd = [sys.executable, "-m", "voxseal", "demo", "--data-dir", str(root / "data")]
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        text = _demo_output(log, proc, "Ctrl-C stops", 60)
        key = re.search(r"(vxk_\S+)", text)
        url = re.search(r"(https://\S+/call)\b", text)
        assert key and url, text
        gw = DemoGateway(
            f"https://localhost:{port}",
            url.group(1),
            root / "data" / "tls" / "dev-ca.pem",
            key.group(1),
            text,
            proc,
        )
        deadline = time.monotonic() + 60
        registered = False
        while time.monotonic() < deadline and not registered:
            try:
                with gw.client(gw.api_key) as c:
                    registered = bool(c.get("/v1/agents").json().get("workers"))
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        if not registered:
            raise RuntimeError(f"the demo's agent never registered:\n{log.read_text()}")
        yield gw
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def caller_wav(path: Path) -> Path:
    """What the fake microphone plays (chromium loops it): a greeting, then a card number.

    espeak-ng runs through asyncio; Playwright's sync API owns this thread's event loop, so the
    speech is made on a thread of its own.
    """
    spoken: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: spoken.extend([speech(GREETING), speech(CARD_PHRASE)]))
    worker.start()
    worker.join(60)
    greeting, card = spoken
    pcm = np.concatenate([silence(3.0), greeting, silence(1.5), card, silence(6.0)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(pcm.astype(np.int16).tobytes())
    return path


def fake_microphone(wav: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]


class Monitor(threading.Thread):
    """A subscribe-only Python SDK participant: what the SFU forwards to it, it must open.

    Runs its own event loop in a thread (Playwright's sync API owns the test thread's).
    """

    def __init__(self, gw: DemoGateway, room: str, seconds: float) -> None:
        super().__init__(name="sfu-monitor", daemon=True)
        self.gw, self.room, self.seconds = gw, room, seconds
        self.joined = threading.Event()
        #: the monitor stays in the room until the test has read the page
        self.release = threading.Event()
        self.result: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._watch(), self.seconds + 180))
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.joined.set()

    async def _watch(self) -> None:
        def mint() -> str:
            with self.gw.client(self.gw.api_key) as c:
                r = c.post(
                    f"/v1/rooms/{self.room}/tokens",
                    json={"identity": "monitor", "grants": ["subscribe"]},
                )
                assert r.status_code == 201, r.text
                return str(r.json()["token"])

        token = await asyncio.to_thread(mint)
        room = await RoomClient.connect(
            self.gw.base_url, token, ca_file=self.gw.ca_file, audio=Audio(receive_slots=4)
        )
        try:
            await room.wait_keyed("caller", timeout=20)
            self.result["safety"] = room.safety_number("caller").digits
            self.joined.set()
            caller = room.participant_id("caller")
            # frames already in flight when the key arrived may predate it: start counting after
            await asyncio.sleep(1.0)
            before = await room.media_stats()
            base = dict(before.receive.per_participant)
            rejected = before.receive.rejected
            await asyncio.sleep(self.seconds)
            after = await room.media_stats()
            self.result.update(
                caller_frames=after.receive.per_participant.get(caller, 0) - base.get(caller, 0),
                rejected=after.receive.rejected - rejected,
                decode_errors=after.receive.decode_errors,
                srtp_profile=after.srtp_profile,
            )
            await asyncio.to_thread(self.release.wait, 60)
        finally:
            await room.leave()


def page_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const q = (id) => document.getElementById(id);
          return {
            e2ee: q('e2ee-state').dataset.state || '',
            reason: q('e2ee-reason').textContent,
            room: q('room').textContent,
            connection: q('connection').textContent,
            problems: q('problem-list').innerText,
            peers: [...document.querySelectorAll('#peers li[data-participant]')].map((li) => ({
              name: li.querySelector('.peer-name')?.textContent || '',
              safety: li.querySelector('.safety-digits')?.textContent || '',
            })),
            transcript: [...document.querySelectorAll('#transcript li')].map((li) => ({
              speaker: li.dataset.speaker, text: li.querySelector('.text').textContent,
            })),
            sent: { ...q('q-sent').dataset },
            received: { ...q('q-received').dataset },
            audioEnergy: Number(q('q-audio').dataset.energy || 0),
            rtt: q('q-rtt').textContent,
            srtp: q('q-srtp').textContent,
          };
        }"""
    )


def answered_redacted(state: dict[str, Any]) -> bool:
    """The caller said something the redactor replaced, and the agent answered after it."""
    lines = state["transcript"]
    said = [
        i for i, t in enumerate(lines) if t["speaker"] == "caller" and PLACEHOLDER.search(t["text"])
    ]
    return bool(said) and any(t["speaker"] == "agent" for t in lines[said[0] + 1 :])


def wait_for(page: Any, check: Any, what: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = page_state(page)
        if check(state):
            return state
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; the page shows {state}")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("api", ["RTCRtpScriptTransform", "encoded insertable streams"])
def test_call_the_agent_from_the_browser(
    demo: DemoGateway, playwright_session: Any, tmp_path: Path, api: str
) -> None:
    assert demo.call_url.startswith("https://127.0.0.1:") and "dev-ca.pem" in demo.output
    browser = launch_chromium(playwright_session, fake_microphone(caller_wav(tmp_path / "c.wav")))
    try:
        context = browser.new_context(ignore_https_errors=True)  # the dev CA, trusted for tests
        if api != "RTCRtpScriptTransform":
            # Chromium's older API (it still has both): the page must fall back to it
            context.add_init_script("delete window.RTCRtpScriptTransform;")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(demo.call_url)
        page.get_by_role("button", name="Start a demo call with the AI agent").click()

        state = wait_for(page, lambda s: s["e2ee"] == "on", "E2EE on", 30)
        assert "agent:demo" in state["reason"] and api in state["reason"]
        state = wait_for(
            page,
            lambda s: any(SAFETY_DIGITS.match(p["safety"]) for p in s["peers"]),
            "the agent's safety number",
            15,
        )
        room = state["room"]
        assert room.startswith("demo-")

        # independently of the page: what the SFU forwards from the browser is SFrame
        monitor = Monitor(demo, room, seconds=4.0)
        monitor.start()
        assert monitor.joined.wait(40), "the monitor never keyed with the browser"
        assert monitor.error is None, monitor.error

        state = wait_for(
            page,
            answered_redacted,
            "a redacted caller line and the agent's answer in the live transcript",
            90,
        )
        # the Python participant's safety number is the one the browser shows for it
        state = wait_for(
            page,
            lambda s: any(p["name"] == "monitor" and p["safety"] for p in s["peers"]),
            "the monitor's safety number on the page",
            15,
        )
        shown = next(p["safety"] for p in state["peers"] if p["name"] == "monitor")
        monitor.release.set()
        monitor.join(60)
        assert monitor.error is None, monitor.error
        result = monitor.result
        assert shown == result["safety"]
        assert result["caller_frames"] > 100, result  # ~50 frames/s from the browser
        assert result["rejected"] == 0, result  # none failed to authenticate: all SFrame
        assert result["decode_errors"] == 0, result  # and inside, real Opus
        assert "AEAD" in str(result["srtp_profile"]), result

        # the monitor left: the browser starts a new key epoch (the leaver cannot read what
        # follows), and the agent still understands the caller under the new key
        said = sum(t["speaker"] == "caller" for t in state["transcript"])
        state = wait_for(
            page,
            lambda s: s["e2ee"] == "on" and "epoch 2" in s["reason"],
            "a rekey after the monitor left",
            15,
        )
        state = wait_for(
            page,
            # two more: the first may have started before the rekey, the second did not
            lambda s: sum(t["speaker"] == "caller" for t in s["transcript"]) >= said + 2,
            "caller lines transcribed under the new key",
            60,
        )

        text = " ".join(t["text"] for t in state["transcript"])
        assert not SPOKEN_DIGITS.search(text) and not DIGIT_RUN.search(text), text
        # the agent's voice reached the page and decrypted in the receive transform
        assert int(state["received"]["decrypted"]) > 100, state
        assert int(state["received"]["authFailures"]) == 0, state
        # and was decoded and played: real sound, not silence (getStats totalAudioEnergy)
        state = wait_for(page, lambda s: s["audioEnergy"] > 0.01, "the agent's voice played", 10)
        # the browser encrypted what it sent; its key reached the worker before media flowed
        # (keys are agreed before the offer), so no frame had to be held back
        assert int(state["sent"]["encrypted"]) > 100, state
        assert int(state["sent"]["heldBack"]) == 0, state
        assert state["rtt"].endswith("ms") and "AEAD" in state["srtp"], state
        assert not errors, errors

        ARTIFACTS.mkdir(exist_ok=True)
        shot = (
            "call-page.png" if api == "RTCRtpScriptTransform" else "call-page-encoded-streams.png"
        )
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        page.get_by_role("button", name="Hang up").click()
        wait_for(page, lambda s: s["e2ee"] == "off", "hang-up", 10)
        context.close()
    finally:
        browser.close()
    with demo.client() as c:
        assert c.get("/healthz").json()["blind_relay"] is True  # the gateway holds no key


@pytest.mark.browser
@pytest.mark.slow
def test_a_browser_without_encoded_transforms_sends_nothing(
    demo: DemoGateway, playwright_session: Any, tmp_path: Path
) -> None:
    browser = launch_chromium(playwright_session, fake_microphone(caller_wav(tmp_path / "c.wav")))
    try:
        context = browser.new_context(ignore_https_errors=True)
        # an older browser: neither RTCRtpScriptTransform nor encoded insertable streams
        context.add_init_script(
            "delete window.RTCRtpScriptTransform;"
            "delete RTCRtpSender.prototype.createEncodedStreams;"
            "delete RTCRtpReceiver.prototype.createEncodedStreams;"
        )
        page = context.new_page()
        sockets: list[str] = []
        posts: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(demo.call_url)
        page.get_by_role("button", name="Start a demo call with the AI agent").click()
        state = wait_for(page, lambda s: "Not started" in s["problems"], "the refusal", 10)
        assert state["e2ee"] == "off"
        assert "Encoded Transform" in state["reason"]
        page.wait_for_timeout(1000)
        assert sockets == [] and posts == []  # no token minted, no signaling, no media
        page.fill("#token", "a.b.c")
        page.get_by_role("button", name="Join with this token").click()
        page.wait_for_timeout(500)
        assert sockets == []
        context.close()
    finally:
        browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_join_with_a_token_in_the_fragment_and_refuse_a_bad_one(
    demo: DemoGateway, playwright_session: Any, tmp_path: Path
) -> None:
    """The non-demo way in: a token from the operator's backend, in ``#token=``."""
    with demo.client(demo.api_key) as c:
        minted = c.post(
            "/v1/rooms/fragment-room/tokens",
            json={"identity": "visitor", "grants": ["publish", "subscribe"]},
        )
        assert minted.status_code == 201, minted.text
        token = minted.json()["token"]
    browser = launch_chromium(playwright_session, fake_microphone(caller_wav(tmp_path / "c.wav")))
    try:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(demo.call_url.replace("/call", f"/call#token={token}"))
        assert page.input_value("#token") == token
        assert token not in page.url  # gone from the address bar and history
        page.get_by_role("button", name="Join with this token").click()
        state = wait_for(page, lambda s: "alone" in s["reason"], "joined, alone", 20)
        assert state["room"] == "fragment-room" and state["e2ee"] == "off"
        assert not any(token in url for url in requested)  # the fragment never left the page
        page.get_by_role("button", name="Hang up").click()

        # a token the gateway refuses: said plainly, with the close code's meaning
        bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        page.goto(demo.call_url)
        page.fill("#token", bad)
        page.get_by_role("button", name="Join with this token").click()
        state = wait_for(page, lambda s: "not admitted" in s["connection"], "the refusal", 20)
        assert "join token" in state["connection"]
        assert state["e2ee"] == "off"
        context.close()
    finally:
        browser.close()


WORKER_HARNESS = """async ({ side, worker, before, keys, after }) => {
  // the shipped worker, fed through the encoded-streams message path with synthetic frames
  const w = new Worker(worker);
  let stats = null;
  w.onmessage = (e) => { if (e.data.stats) stats = e.data.stats; };
  const out = [];
  let push;
  const readable = new ReadableStream({ start(c) { push = c; } });
  const writable = new WritableStream({ write(frame) { out.push(frame.data); } });
  w.postMessage({ stream: { readable, writable, side } }, [readable, writable]);
  const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16))).buffer;
  const settle = async (n) => {
    const t0 = Date.now();
    while (!(stats && stats[side === "send" ? "send" : "receive"].frames >= n)) {
      if (Date.now() - t0 > 10000) throw new Error("worker stalled");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (const f of before) push.enqueue({ data: hex(f) });
  await settle(before.length);
  for (const k of keys) {
    w.postMessage({ keys: { ...k, kid: BigInt(k.kid), baseKey: new Uint8Array(hex(k.baseKey)) } });
  }
  for (const f of after) push.enqueue({ data: hex(f) });
  await settle(before.length + after.length);
  await new Promise((r) => setTimeout(r, 1100)); // one more stats report
  w.terminate();
  const toHex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return { out: out.map(toHex), stats };
}"""


@pytest.mark.browser
def test_the_worker_holds_audio_back_until_keyed_and_speaks_python_sframe(
    playwright_session: Any,
) -> None:
    """The media worker's contract, against the Python SFrame implementation.

    Send: frames before a sender key are dropped (never forwarded in clear); after it, each
    frame is SFrame that Python's Receiver opens to the original bytes. Receive: Python's
    frames open; a forged one and a replayed one are dropped and counted, never passed on.
    """
    suite, kid, key = sframe.CipherSuite.AES_128_GCM_SHA256_128, 0x2A, os.urandom(16)
    clear = [os.urandom(60 + i) for i in range(6)]
    worker = "/" + call_assets().worker
    browser = launch_chromium(playwright_session)
    try:
        with serve_directory(STATIC_DIR) as base:
            page = browser.new_page()
            page.goto(base + "/call/")
            sender_key = {"type": "sender", "suite": int(suite), "kid": kid, "epoch": 1}
            sent = page.evaluate(
                WORKER_HARNESS,
                {
                    "side": "send",
                    "worker": worker,
                    "before": [f.hex() for f in clear[:3]],
                    "keys": [{**sender_key, "baseKey": key.hex()}],
                    "after": [f.hex() for f in clear[3:]],
                },
            )
            assert len(sent["out"]) == 3, sent  # the three frames before the key: dropped
            assert sent["stats"]["send"]["heldBack"] == 3
            receiver = sframe.Receiver(suite)
            receiver.add_key(kid, key)
            frames = [bytes.fromhex(f) for f in sent["out"]]
            assert [receiver.unprotect(f) for f in frames] == clear[3:]
            assert all(sframe.decode_header(f)[0] == kid for f in frames)

            python = sframe.Sender(suite, kid, key)
            good = [python.protect(f) for f in clear[:4]]
            forged = bytearray(good[1])
            forged[-1] ^= 1
            add = {"type": "receiver_add", "suite": int(suite), "pid": "p1", "kid": kid}
            received = page.evaluate(
                WORKER_HARNESS,
                {
                    "side": "receive",
                    "worker": worker,
                    "before": [],
                    "keys": [{**add, "baseKey": key.hex()}],
                    "after": [g.hex() for g in (good[0], bytes(forged), good[1], good[1])]
                    + [good[2].hex(), good[3].hex()],
                },
            )
            assert [bytes.fromhex(f) for f in received["out"]] == clear[:4]
            r = received["stats"]["receive"]
            assert (r["decrypted"], r["auth_failures"], r["replays"]) == (4, 1, 1), r
    finally:
        browser.close()


@pytest.mark.slow  # the demo gateway and its agent take ~10 s to start
def test_the_page_and_its_assets_over_https(demo: DemoGateway) -> None:
    with demo.client() as c:
        page = c.get("/call")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        for directive in (
            "default-src 'none'",
            "script-src 'self'",
            "worker-src 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ):
            assert directive in csp
        assert "unsafe" not in csp
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
        assert 'id="demo-call"' in page.text
        assets = re.findall(r'(/static/call/[\w.-]+)"', page.text)
        kinds = {}
        for path in assets:
            r = c.get(path)
            assert r.status_code == 200, path
            assert "immutable" in r.headers["cache-control"]
            kinds[path.rsplit(".", 1)[1]] = r.headers["content-type"]
            again = c.get(path, headers={"if-none-match": r.headers["etag"]})
            assert again.status_code == 304
        assert kinds == {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
        missing = c.get("/static/call/nope.js")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
        assert c.get("/static/call/manifest.json").status_code == 404
        assert c.get("/static/call/..%2F..%2F__init__.py").status_code == 404
        # the API keeps its own CSP
        assert c.get("/healthz").headers["content-security-policy"].startswith("default-src 'self'")


@pytest.mark.slow  # the demo gateway and its agent take ~10 s to start
def test_demo_calls_refuse_other_origins(demo: DemoGateway) -> None:
    with demo.client() as c:
        assert c.post("/v1/demo/call").status_code == 403  # no Origin: not from the page
        evil = c.post("/v1/demo/call", headers={"origin": "https://evil.example"})
        assert evil.status_code == 403 and evil.json()["error"] == "cross_origin"
        ok = c.post("/v1/demo/call", headers={"origin": demo.base_url})
        assert ok.status_code == 201, ok.text
        body = ok.json()
        assert body["identity"] == "caller" and body["room"].startswith("demo-")
        assert body["job"]["room"] == body["room"]


def test_without_demo_mode_there_is_no_demo_endpoint(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data")
    try:
        with gw.client() as c:
            assert c.post("/v1/demo/call", headers={"origin": gw.base_url}).status_code == 404
            page = c.get("/call")
            assert page.status_code == 200
            assert 'data-demo="false"' in page.text and 'id="demo-call"' not in page.text
            assert 'id="token-form"' in page.text
    finally:
        gw.stop()
