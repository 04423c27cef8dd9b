"""``voxseal demo``: one command gives a running gateway and credentials that work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from tests.harness.gateway import CHEAP_PASSWORDS, free_port

from voxseal.signaling.tls import client_context


def test_demo_serves_and_its_credentials_log_in(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxseal", "demo", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **CHEAP_PASSWORDS, "VOXSEAL_LOG_LEVEL": "warning"},
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        out = "".join(lines)
        password = re.search(r"password: (\S+)", out).group(1)  # type: ignore[union-attr]
        uri = re.search(r"(otpauth://\S+)", out).group(1)  # type: ignore[union-attr]
        api_key = re.search(r"(vxk_\S+)", out).group(1)  # type: ignore[union-attr]
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        ca = data_dir / "tls" / "dev-ca.pem"
        with httpx.Client(base_url=f"https://localhost:{port}", verify=client_context(ca)) as c:
            for _ in range(50):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            first = c.post("/v1/auth/login", json={"username": "demo-admin", "password": password})
            challenge = first.json()["challenge"]
            done = c.post(
                "/v1/auth/mfa", json={"challenge": challenge, "code": pyotp.TOTP(secret).now()}
            )
            assert done.status_code == 200, done.text
            minted = c.post(
                "/v1/rooms/demo/tokens",
                headers={"authorization": f"Bearer {api_key}"},
                json={"identity": "caller-1", "grants": ["publish", "subscribe"]},
            )
            assert minted.status_code == 201, minted.text
            # the demo started an AI agent worker in its own process, and it registered
            workers: list[dict[str, object]] = []
            for _ in range(300):
                listed = c.get("/v1/agents", headers={"authorization": f"Bearer {api_key}"})
                workers = listed.json()["workers"]
                if workers:
                    break
                time.sleep(0.1)
            assert [w["name"] for w in workers] == ["demo"]
            assert "examples/call_agent.py" in out
            # the printed web pages are served on this origin (the dashboard asks to sign in)
            assert f"https://127.0.0.1:{port}/call" in out
            assert f"https://127.0.0.1:{port}/admin" in out
            assert c.get("/call").status_code == 200
            admin = c.get("/admin", follow_redirects=True)
            assert admin.status_code == 200 and "Authenticator code" in admin.text
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
        try:
            code = proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0
    verify = subprocess.run(
        [sys.executable, "-m", "voxseal", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert "0 after the last checkpoint" in verify.stdout  # shutdown signed a checkpoint
