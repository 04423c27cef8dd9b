"""The HTTPS edge: TLS 1.3 only, the development CA, operator certificates, security headers."""

from __future__ import annotations

import shutil
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from tests.harness.gateway import RunningGateway, start_gateway

from voxseal.signaling.devca import ensure_dev_certificates
from voxseal.signaling.headers import SECURITY_HEADERS
from voxseal.signaling.tls import client_context


def _port(gw: RunningGateway) -> int:
    return int(gw.base_url.rsplit(":", 1)[1])


def test_tls13_is_negotiated(gateway_server: RunningGateway) -> None:
    ctx = client_context(gateway_server.ca_file)
    with (
        socket.create_connection(("127.0.0.1", _port(gateway_server))) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.3"


def test_tls12_client_is_refused(gateway_server: RunningGateway) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(gateway_server.ca_file)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", _port(gateway_server))) as raw,
        pytest.raises((ssl.SSLError, ConnectionResetError)),
    ):
        ctx.wrap_socket(raw, server_hostname="localhost")


def test_openssl_s_client_tls12_is_refused(gateway_server: RunningGateway) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is installed by .ci/run"
    addr = f"127.0.0.1:{_port(gateway_server)}"
    refused = subprocess.run(
        [openssl, "s_client", "-tls1_2", "-connect", addr, "-CAfile", str(gateway_server.ca_file)],
        input=b"",
        capture_output=True,
        timeout=20,
    )
    out = refused.stdout.decode(errors="replace")
    assert refused.returncode != 0
    assert "Cipher is (NONE)" in out or "no peer certificate" in out
    accepted = subprocess.run(
        [openssl, "s_client", "-tls1_3", "-connect", addr, "-CAfile", str(gateway_server.ca_file)],
        input=b"",
        capture_output=True,
        timeout=20,
    )
    out = accepted.stdout.decode(errors="replace")
    assert "TLSv1.3" in out
    assert "Verify return code: 0 (ok)" in out


def test_dev_ca_files_and_names(gateway_server: RunningGateway) -> None:
    tls_dir = gateway_server.data_dir / "tls"
    for key in ("dev-ca.key", "server.key"):
        assert stat.S_IMODE((tls_dir / key).stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert (
        "must trust" in gateway_server.log() and str(gateway_server.ca_file) in gateway_server.log()
    )
    for key in ("audit-signing.key", "token-signing.key", "secrets.key"):
        path = gateway_server.data_dir / "keys" / key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_ca_is_reused_and_refuses_loose_key_permissions(tmp_path: Path) -> None:
    first = ensure_dev_certificates(tmp_path / "tls")
    again = ensure_dev_certificates(tmp_path / "tls")
    assert first.created and not again.created
    assert first.server_cert.read_bytes() == again.server_cert.read_bytes()
    (tmp_path / "tls" / "dev-ca.key").chmod(0o644)
    from voxseal.errors import ConfigError

    with pytest.raises(ConfigError, match="accessible by others"):
        ensure_dev_certificates(tmp_path / "tls")


def test_operator_certificates_are_used(tmp_path: Path) -> None:
    own = ensure_dev_certificates(tmp_path / "operator")
    data_dir = tmp_path / "data"
    gw = start_gateway(
        data_dir,
        extra_env={
            "VOXSEAL_TLS_CERT_FILE": str(own.server_cert),
            "VOXSEAL_TLS_KEY_FILE": str(own.server_key),
        },
        trusted_ca=own.ca_cert,
    )
    try:
        assert not (data_dir / "tls").exists()  # no dev CA when the operator brings one
        ctx = client_context(own.ca_cert)
        with (
            socket.create_connection(("127.0.0.1", _port(gw))) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == "TLSv1.3"
    finally:
        gw.stop()


def test_security_headers_on_every_response(gateway_server: RunningGateway) -> None:
    with gateway_server.client() as c:
        responses = [
            c.get("/healthz"),  # 200
            c.get("/v1/users"),  # 401
            c.get("/no/such/thing"),  # 404
            c.post("/v1/auth/login", json={"username": ""}),  # 422
            c.get("/openapi.json"),
        ]
    assert [r.status_code for r in responses] == [200, 401, 404, 422, 200]
    for r in responses:
        for name, value in SECURITY_HEADERS:
            assert r.headers.get(name.decode()) == value.decode(), (r.url, name)
        assert r.headers["x-request-id"]
        assert "server" not in r.headers


def test_request_id_is_kept_only_when_well_formed(gateway_server: RunningGateway) -> None:
    with gateway_server.client() as c:
        kept = c.get("/healthz", headers={"x-request-id": "client-abc-123456"})
        replaced = c.get("/healthz", headers={"x-request-id": "evil\tvalue with spaces"})
    assert kept.headers["x-request-id"] == "client-abc-123456"
    assert replaced.headers["x-request-id"] != "evil\tvalue with spaces"
    assert len(replaced.headers["x-request-id"]) == 32


def test_openapi_lists_the_api(gateway_server: RunningGateway) -> None:
    with gateway_server.client() as c:
        doc = c.get("/openapi.json").json()
    for path in (
        "/healthz",
        "/v1/auth/login",
        "/v1/auth/mfa",
        "/v1/users",
        "/v1/rooms/{room}/tokens",
        "/v1/audit",
    ):
        assert path in doc["paths"], path
