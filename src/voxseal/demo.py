"""``voxseal demo``: the gateway on embedded defaults, ready to try in one command.

On first run it creates, in the data dir, a demo administrator with a random password and a
confirmed TOTP second factor (the otpauth URI and QR code are printed so you can add it to an
authenticator app) and a ``demo-backend`` service account with an API key. Credentials are
printed once, on the run that creates them, and never stored in clear. Then it serves HTTPS
until Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext
from voxseal.config import Settings
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.identity.totp import TOTP, b32decode_secret
from voxseal.privacy.consent import ConsentLedger, Purpose
from voxseal.web import enable_demo_calls

DEMO_ADMIN = "demo-admin"
DEMO_BACKEND = "demo-backend"
#: the data subject of demo calls; its transcription and recording consents are granted
DEMO_SUBJECT = "demo-caller"


def bootstrap(gw: Gateway, out: TextIO) -> str:
    """Create the demo principals once; later runs reuse them (credentials shown only once)."""
    directory = gw.directory
    base = gw.settings.public_base_url
    audit = AuditContext(gw.audit, "demo")
    if directory.find(DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(18)
        directory.create_user(DEMO_ADMIN, {Role.ADMIN, Role.AUDITOR}, password)
        enrolment = directory.begin_totp_enrolment(DEMO_ADMIN)
        totp = TOTP(
            b32decode_secret(enrolment.secret_b32),
            algorithm=enrolment.algorithm,
            digits=enrolment.digits,
            period=enrolment.period,
        )
        # confirm with the previous step's code so the code on your app now is still unused
        recovery = directory.confirm_totp_enrolment(
            DEMO_ADMIN, totp.code_at(time.time() - enrolment.period)
        )
        audit.record(AuditAction.USER_CREATE, target=DEMO_ADMIN, roles=["admin", "auditor"])
        audit.record(AuditAction.MFA_ENROL_CONFIRM, target=DEMO_ADMIN)
        print("A demo administrator was created (shown once; only hashes are stored):", file=out)
        print(f"  username: {DEMO_ADMIN}\n  password: {password}", file=out)
        print("  TOTP: add this to an authenticator app (scan or paste the URI):", file=out)
        print(enrolment.qr(), file=out)
        print(f"  {enrolment.uri}", file=out)
        print(f"  recovery codes: {' '.join(recovery)}\n", file=out)
    if directory.find(DEMO_BACKEND) is None:
        directory.create_service(DEMO_BACKEND, {Role.BACKEND})
    # a fresh demo key each run (the previous one is revoked): keys are never stored in clear
    for old in directory.list_api_keys(DEMO_BACKEND):
        if old.active:
            directory.revoke_api_key(old.key_id)
    key = directory.create_api_key(DEMO_BACKEND, "demo")
    audit.record(AuditAction.APIKEY_CREATE, target=DEMO_BACKEND, key_id=key.key_id)
    ledger = ConsentLedger(gw.db, gw.audit)
    for purpose in (Purpose.TRANSCRIPTION, Purpose.RECORDING):
        if not ledger.is_granted(DEMO_SUBJECT, purpose):
            ledger.record(
                DEMO_SUBJECT, purpose, True, source="demo", legal_basis="consent", actor="demo"
            )
    print(f"A backend API key for {DEMO_BACKEND} (this run's):\n  {key.key}\n", file=out)
    print("Mint a join token with it:", file=out)
    print(
        f"  curl --cacert {gw.settings.dev_ca_dir / 'dev-ca.pem'} -X POST "
        f"{base}/v1/rooms/demo/tokens -H 'Authorization: Bearer {key.key}' "
        "-H 'content-type: application/json' "
        '-d \'{"identity": "caller-1", "grants": ["publish", "subscribe"]}\'\n',
        file=out,
    )
    return key.key


def start_agent(settings: Settings, ca: Path | None, out: TextIO) -> subprocess.Popen[bytes] | None:
    """The agent worker in its own process (the agent zone: it holds SFrame keys; we must not)."""
    if shutil.which("espeak-ng") is None:
        print(
            "The AI agent is not started: espeak-ng (its text-to-speech) is missing;"
            " install it with `apt-get install espeak-ng`.",
            file=out,
        )
        return None
    cmd = [sys.executable, "-m", "voxseal", "agent", "--data-dir", str(settings.data_dir)]
    cmd += ["--name", "demo", "--url", settings.public_base_url]
    if ca is not None:
        cmd += ["--ca", str(ca)]
    # the same settings as the gateway (HIPAA mode, database): the config file and environment
    config = os.environ.get("VOXSEAL_CONFIG") or str(settings.data_dir / "voxseal.toml")
    if Path(config).is_file():
        cmd += ["--config", config]
    return subprocess.Popen(cmd)


def _web_origin(settings: Settings) -> str:
    """Where a browser reaches the server: its listening address (the dev CA covers it)."""
    host = settings.host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if not host or (ip is not None and ip.is_unspecified):  # listening everywhere: loopback
        host = "127.0.0.1"
    elif ip is not None and ip.version == 6:
        host = f"[{host}]"
    return f"https://{host}:{settings.port}"


def call_page_url(settings: Settings) -> str:
    """The browser call page."""
    return _web_origin(settings) + "/call"


def admin_url(settings: Settings) -> str:
    """The admin dashboard, on the same origin as the call page (one CA trust covers both)."""
    return _web_origin(settings) + "/admin"


def print_call_page(settings: Settings, ca: Path | None, out: TextIO) -> None:
    print("Call the AI agent from your browser (microphone, end-to-end encrypted):", file=out)
    print(f"  {call_page_url(settings)}", file=out)
    if ca is not None:
        print(
            f"  First trust the development CA {ca} (name-constrained to localhost and 127.0.0.1,\n"
            "  so it cannot vouch for any other site):\n"
            "    Chromium: Settings > Privacy and security > Security > Manage certificates >\n"
            "      Authorities > Import, tick 'Trust this certificate for identifying websites'\n"
            "    Firefox:  Settings > Privacy & Security > Certificates > View Certificates >\n"
            "      Authorities > Import, tick 'Trust this CA to identify websites'",
            file=out,
        )
    print(
        f"See the call in the admin dashboard (sign in as {DEMO_ADMIN} with the password shown\n"
        "on the first run and a code from your authenticator app):",
        file=out,
    )
    print(f"  {admin_url(settings)}", file=out)
    print(file=out)


def run_demo(settings: Settings, out: TextIO) -> int:
    from voxseal.app import create_app
    from voxseal.signaling.server import resolve_certificates, serve

    certs = resolve_certificates(settings)
    gw = Gateway.open(settings)
    key = bootstrap(gw, out)
    base = settings.public_base_url
    if certs.dev_ca is not None:
        print(f"Trust the development CA: {certs.dev_ca}", file=out)
    print(f"Log in:  curl --cacert {certs.dev_ca} {base}/v1/auth/login \\", file=out)
    print(
        f"           -H 'content-type: application/json' "
        f'-d \'{{"username": "{DEMO_ADMIN}", "password": "…"}}\'',
        file=out,
    )
    print(f"Verify the audit log: voxseal audit verify --data-dir {settings.data_dir}", file=out)
    print(
        "\nCall the AI agent from Python (speaks, prints the redacted transcript and reply):",
        file=out,
    )
    print(
        f"  python examples/call_agent.py --url {base} --ca {certs.dev_ca} --api-key {key} \\\n"
        '    --say "hello, I would like to pay my bill" \\\n'
        '    --say "the card number is four one one one one one one one one one one one one one'
        ' one one"',
        file=out,
    )
    print(f"  (or --wav FILE.wav; the agent answers data subject {DEMO_SUBJECT!r})\n", file=out)
    agent = start_agent(settings, certs.dev_ca, out)
    print_call_page(settings, certs.dev_ca, out)
    app = create_app(gw)
    # the page's "Start a demo call" button: mints as demo-backend, for the consented subject
    enable_demo_calls(app, backend=DEMO_BACKEND, subject=DEMO_SUBJECT)
    print(f"voxseal demo: serving {base} (TLS 1.3 only); Ctrl-C stops", file=out, flush=True)
    try:
        serve(app, settings, certs)
    finally:
        if agent is not None:
            agent.terminate()
            try:
                agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                agent.kill()
    return 0
