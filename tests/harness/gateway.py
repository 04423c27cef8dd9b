"""A running gateway: ``python -m voxseal serve`` in a child process, real TLS 1.3 on loopback,
the dev CA it creates, and a real store (SQLite file or a PostgreSQL schema).

``gateway_server`` is a fixture; a folder's conftest.py registers it by importing it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest

from voxseal.config import Settings, load_settings
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.signaling.tls import client_context

PASSWORD = "correct horse battery staple"

#: cheap argon2 so logins stay fast in tests; production keeps the defaults
CHEAP_PASSWORDS = {
    "VOXSEAL_PASSWORDS_TIME_COST": "1",
    "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
    "VOXSEAL_PASSWORDS_PARALLELISM": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningGateway:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    totp_secrets: dict[str, str] = field(default_factory=dict)
    trusted_ca: Path | None = None

    @property
    def ca_file(self) -> Path:
        return self.trusted_ca or self.data_dir / "tls" / "dev-ca.pem"

    def settings(self) -> Settings:
        return load_settings(env=self.env, overrides={"data_dir": str(self.data_dir)})

    def open(self) -> Gateway:
        """The same services in the test process (another node on the same store)."""
        return Gateway.open(self.settings())

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.base_url, verify=client_context(self.ca_file), headers=headers, timeout=20
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def add_principal(self, name: str, roles: set[Role], *, service: bool = False) -> None:
        """Create a principal; humans needing MFA get a confirmed TOTP (secret kept here)."""
        gw = self.open()
        try:
            if service:
                gw.directory.create_service(name, roles)
                return
            principal = gw.directory.create_user(name, roles, PASSWORD)
            if principal.mfa_required:
                enrolment = gw.directory.begin_totp_enrolment(name)
                otp = pyotp.TOTP(enrolment.secret_b32)
                gw.directory.confirm_totp_enrolment(name, otp.at(time.time() - 30))
                self.totp_secrets[name] = enrolment.secret_b32
        finally:
            gw.close()

    def api_key(self, name: str) -> str:
        gw = self.open()
        try:
            if gw.directory.find(name) is None:
                gw.directory.create_service(name, {Role.BACKEND})
            return gw.directory.create_api_key(name).key
        finally:
            gw.close()

    def login(self, name: str) -> str:
        """Log in over HTTPS (with a pyotp code when MFA applies); returns the access token."""
        with self.client() as c:
            r = c.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            body = r.json()
            if body.get("mfa_required"):
                code = pyotp.TOTP(self.totp_secrets[name]).now()
                r = c.post("/v1/auth/mfa", json={"challenge": body["challenge"], "code": code})
                assert r.status_code == 200, r.text
                body = r.json()
            return str(body["access_token"])

    def token_for(self, name: str, roles: set[Role]) -> str:
        """A credential for a new principal holding ``roles``: token, or API key for services."""
        service = bool(roles) and all(r in {Role.AGENT, Role.BACKEND} for r in roles)
        self.add_principal(name, roles, service=service)
        if service:
            gw = self.open()
            try:
                return gw.directory.create_api_key(name).key
            finally:
                gw.close()
        return self.login(name)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop_process(self.proc, sig)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal a server process, give it 15 s to shut down cleanly, then kill it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def launch(
    command: str, data_dir: Path, port: int, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``voxseal COMMAND`` as its own process on ``port``, its output kept in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "voxseal", command),
                *("--data-dir", str(data_dir), "--port", str(port)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def start_gateway(
    data_dir: Path,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    trusted_ca: Path | None = None,
) -> RunningGateway:
    port = free_port()
    env = {
        **os.environ,
        **CHEAP_PASSWORDS,
        "VOXSEAL_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    env.pop("VOXSEAL_DATA_DIR", None)
    if database_url:
        env["VOXSEAL_DATABASE_URL"] = database_url
    log_path = data_dir.parent / f"server-{port}.log"
    proc = launch("serve", data_dir, port, env, log_path)
    gw = RunningGateway(
        f"https://localhost:{port}", data_dir, env, proc, log_path, trusted_ca=trusted_ca
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{gw.log()}")
        if gw.ca_file.exists():
            try:
                with gw.client() as c:
                    if c.get("/healthz").status_code == 200:
                        return gw
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    gw.stop(signal.SIGKILL)
    raise RuntimeError(f"gateway did not become healthy:\n{gw.log()}")


@pytest.fixture(scope="module")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """One SQLite-backed gateway per test module."""
    data_dir = tmp_path_factory.mktemp("gw") / "data"
    gw = start_gateway(data_dir)
    try:
        yield gw
    finally:
        gw.stop()


__all__ = [
    "CHEAP_PASSWORDS",
    "PASSWORD",
    "RunningGateway",
    "free_port",
    "gateway_server",
    "start_gateway",
]
