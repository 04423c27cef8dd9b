"""A running ingress: a real ``voxseal telephony`` subprocess (TLS 1.3 on loopback, the dev CA
of its data dir), and Twilio-/Vonage-shaped clients that sign and speak exactly as the
providers do.

``ingress_alone`` and ``gateway_and_ingress`` are fixtures; tests/telephony/conftest.py
registers them by importing them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from twilio.request_validator import RequestValidator

from tests.harness.gateway import (
    CHEAP_PASSWORDS,
    RunningGateway,
    free_port,
    launch,
    start_gateway,
    stop_process,
)
from voxseal.audit import AuditRecord
from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.signaling.tls import client_context

TWILIO_TOKEN = "twilio-auth-token-for-tests-0001"
VONAGE_SECRET = "vonage-signature-secret-for-tests-0002"
SIGNALWIRE_KEY = "PSKsignalwire-signing-key-for-tests-0003"
CALLER_NUMBER = "+15551230001"


@dataclass
class RunningIngress:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "dev-ca.pem"

    @property
    def wss_url(self) -> str:
        return "wss://" + self.base_url.removeprefix("https://")

    def ssl(self) -> ssl.SSLContext:
        return client_context(self.ca_file)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.ssl(), timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def audit(self, action: str, limit: int = 1000) -> list[AuditRecord]:
        gw = Gateway.open(load_settings(env=self.env, overrides={"data_dir": str(self.data_dir)}))
        try:
            return gw.audit.query(action=action, limit=limit)
        finally:
            gw.close()

    def wait_for_audit(self, action: str, predicate: Any, timeout: float = 10) -> AuditRecord:
        deadline = time.monotonic() + timeout
        while True:
            for r in self.audit(action):
                if predicate(r):
                    return r
            if time.monotonic() > deadline:
                raise AssertionError(f"no {action} audit event matched")
            time.sleep(0.2)

    def alive(self) -> bool:
        with self.client() as c:
            return self.proc.poll() is None and c.get("/healthz").status_code == 200

    def stop(self) -> int:
        return stop_process(self.proc)

    # -- what the providers send -----------------------------------------------------------

    def twilio_webhook(
        self,
        *,
        call_sid: str | None = None,
        number: str = CALLER_NUMBER,
        token: str = TWILIO_TOKEN,
        provider: str = "twilio",
        tamper: bool = False,
    ) -> httpx.Response:
        """POST the voice webhook, form-encoded and signed with twilio's own RequestValidator."""
        path = f"/v1/telephony/{provider}/voice"
        url = self.base_url + path
        params = {
            "CallSid": call_sid or "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": number,
            "To": "+15557654321",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        signature = RequestValidator(token).compute_signature(url, params)
        if tamper:
            params["To"] = "+15550000000"
        header = "X-SignalWire-Signature" if provider == "signalwire" else "X-Twilio-Signature"
        with self.client() as c:
            return c.post(path, data=params, headers={header: signature})

    def vonage_answer(
        self,
        *,
        call_uuid: str | None = None,
        number: str = "15551230002",
        secret: str = VONAGE_SECRET,
        payload_hash: str | None = None,
    ) -> httpx.Response:
        """GET the answer webhook with a Vonage signed-webhook JWT (HS256)."""
        query = {
            "uuid": call_uuid or str(uuid.uuid4()),
            "conversation_uuid": "CON-" + str(uuid.uuid4()),
            "from": number,
            "to": "15557654321",
        }
        claims: dict[str, Any] = {
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
            "iss": "Vonage",
            "api_key": "abcd1234",
        }
        if payload_hash is not None:
            claims["payload_hash"] = payload_hash
        signed = jwt.encode(claims, secret, algorithm="HS256")
        with self.client() as c:
            return c.get(
                "/v1/telephony/vonage/answer?" + urlencode(query),
                headers={"Authorization": f"Bearer {signed}"},
            )


def stream_token_of(twiml: str) -> str:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(twiml)
    param = root.find("./Connect/Stream/Parameter[@name='token']")
    assert param is not None, twiml
    return str(param.get("value"))


def twilio_start(stream_sid: str, call_sid: str, token: str | None) -> str:
    """The ``start`` frame exactly as Twilio sends it (counters as strings)."""
    params = {"token": token} if token is not None else {}
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": params,
            },
            "streamSid": stream_sid,
        }
    )


def twilio_connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def twilio_media(stream_sid: str, seq: int, chunk: int, payload: bytes) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(chunk * 20),
                "payload": base64.b64encode(payload).decode(),
            },
            "streamSid": stream_sid,
        }
    )


def twilio_stop(stream_sid: str, call_sid: str, seq: int) -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": str(seq),
            "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid},
            "streamSid": stream_sid,
        }
    )


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def start_ingress(
    data_dir: Path, *, gateway_url: str | None = None, extra_env: dict[str, str] | None = None
) -> RunningIngress:
    port = free_port()
    env = {
        **os.environ,
        **CHEAP_PASSWORDS,
        "VOXSEAL_LOG_LEVEL": "warning",
        "VOXSEAL_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "VOXSEAL_VONAGE_SIGNATURE_SECRET": VONAGE_SECRET,
        "VOXSEAL_SIGNALWIRE_SIGNING_KEY": SIGNALWIRE_KEY,
        **(extra_env or {}),
    }
    env.pop("VOXSEAL_DATA_DIR", None)
    if gateway_url:
        env["VOXSEAL_TELEPHONY_GATEWAY_URL"] = gateway_url
    log_path = data_dir.parent / f"telephony-{port}.log"
    proc = launch("telephony", data_dir, port, env, log_path)
    ingress = RunningIngress(f"https://localhost:{port}", data_dir, env, proc, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"telephony exited early:\n{ingress.log()}")
        if ingress.ca_file.exists():
            try:
                if ingress.alive():
                    return ingress
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    ingress.stop()
    raise RuntimeError(f"telephony did not become healthy:\n{ingress.log()}")


@pytest.fixture(scope="module")
def ingress_alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIngress]:
    """An ingress whose gateway is not running: webhooks and stream checks only."""
    data_dir = tmp_path_factory.mktemp("tel") / "data"
    ing = start_ingress(data_dir, gateway_url=f"https://localhost:{free_port()}")
    try:
        yield ing
    finally:
        ing.stop()


@pytest.fixture(scope="module")
def gateway_and_ingress(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, RunningIngress]]:
    data_dir = tmp_path_factory.mktemp("telgw") / "data"
    gw = start_gateway(data_dir)
    try:
        ing = start_ingress(data_dir, gateway_url=gw.base_url)
        try:
            yield gw, ing
        finally:
            ing.stop()
    finally:
        gw.stop()
