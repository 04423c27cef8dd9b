"""The command line as a newcomer uses it: a real ``voxseal`` process per command, one data dir.

The README's walkthrough: create an admin, enrol TOTP (the code comes from pyotp, as from an
authenticator app), create a backend API key, mint a join token, verify and export the audit
log — then tamper with the log and watch ``audit verify`` fail naming the record.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pyotp
import pytest

PASSWORD = "correct horse battery staple"


def voxseal(
    data_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "VOXSEAL_PASSWORDS_TIME_COST": "1",
        "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
        "VOXSEAL_PASSWORDS_PARALLELISM": "1",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "voxseal", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_newcomer_walkthrough(data_dir: Path) -> None:
    r = voxseal(
        data_dir,
        "user",
        "add",
        "root",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert "mfa-enroll" in r.stdout  # admins must enrol MFA, and are told how

    r = voxseal(data_dir, "user", "mfa-enroll", "root")
    assert r.returncode == 0, r.stderr
    uri = next(line for line in r.stdout.splitlines() if line.startswith("otpauth://"))
    assert "█" in r.stdout or "▀" in r.stdout or "▄" in r.stdout  # a terminal QR code
    query = parse_qs(urlsplit(uri).query)
    assert query["issuer"] == ["voxseal"]
    secret = query["secret"][0]
    assert PASSWORD not in r.stdout

    bad = voxseal(data_dir, "user", "mfa-confirm", "root", "123456")
    assert bad.returncode == 2 and "invalid" in bad.stderr.lower()
    code = pyotp.TOTP(secret).at(time.time() - 30)  # the previous step: now's code stays free
    ok = voxseal(data_dir, "user", "mfa-confirm", "root", code)
    assert ok.returncode == 0, ok.stderr
    recovery = [line.strip() for line in ok.stdout.splitlines() if line.startswith("  ")]
    assert len(recovery) == 10 and len(set(recovery)) == 10

    r = voxseal(data_dir, "user", "list", "--json")
    users = {u["name"]: u for u in json.loads(r.stdout)}
    assert users["root"]["mfa"] == "confirmed" and users["root"]["roles"] == ["admin"]

    r = voxseal(data_dir, "apikey", "create", "shop-backend")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"vxk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", r.stdout.strip())
    assert "shown once" in r.stderr

    r = voxseal(
        data_dir,
        "token",
        "issue",
        "--room",
        "r1",
        "--identity",
        "ann",
        "--grant",
        "publish",
        "--ttl",
        "10m",
    )
    assert r.returncode == 0, r.stderr
    claims = jwt.decode(r.stdout.strip(), options={"verify_signature": False})
    assert (
        claims["room"] == "r1" and claims["grants"]["publish"] and not claims["grants"]["subscribe"]
    )
    assert claims["exp"] - claims["iat"] == 600

    r = voxseal(data_dir, "audit", "verify")
    assert r.returncode == 0, r.stderr
    assert "intact" in r.stdout

    for fmt, check in (
        ("jsonl", lambda line: json.loads(line)["action"]),
        ("cef", lambda line: line.startswith("CEF:0|voxseal|voxseal|")),
        ("syslog", lambda line: re.match(r"^<\d+>1 \S+ \S+ voxseal ", line)),
    ):
        r = voxseal(data_dir, "audit", "export", "--format", fmt)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines and all(check(line) for line in lines), fmt
        assert PASSWORD not in r.stdout and secret not in r.stdout

    # tamper with one record directly in the database, as its owner could (dropping the
    # append-only trigger first): verify names the record and fails
    db = sqlite3.connect(data_dir / "voxseal.db")
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    db.commit()
    db.close()
    r = voxseal(data_dir, "audit", "verify")
    assert r.returncode == 1
    assert "record 3" in r.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "x", "--role", "caller", "--password-stdin"), "short\n", "password"),
        (("user", "add", "x", "--role", "caller", "--password-stdin"), "", "no password"),
        (("user", "set-roles", "ghost", "--role", "caller"), "", "ghost"),
        (("token", "issue", "--room", "bad room", "--identity", "i"), "", "room"),
        (("token", "issue", "--room", "r", "--identity", "i", "--ttl", "soon"), "", "--ttl"),
        (("token", "issue", "--room", "r", "--identity", "i", "--ttl", "30d"), "", "ttl"),
        (("user", "mfa-enroll", "ghost"), "", "ghost"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(
    data_dir: Path, args: tuple[str, ...], stdin: str, message: str
) -> None:
    r = voxseal(data_dir, *args, stdin=stdin)
    assert r.returncode == 2
    assert r.stderr.startswith("voxseal: ")
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_configuration_is_named(data_dir: Path) -> None:
    r = voxseal(data_dir, "user", "list", env={"VOXSEAL_LOCKOUT_THRESHOLD": "many"})
    assert r.returncode == 2
    assert "configuration error" in r.stderr and "lockout.threshold" in r.stderr


def test_usage_errors_exit_2(data_dir: Path) -> None:
    r = voxseal(data_dir, "user", "add", "x", "--role", "emperor")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_duplicate_user_is_refused(data_dir: Path) -> None:
    first = voxseal(
        data_dir,
        "user",
        "add",
        "dup",
        "--role",
        "caller",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert first.returncode == 0
    again = voxseal(
        data_dir,
        "user",
        "add",
        "dup",
        "--role",
        "caller",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 2 and "exists" in again.stderr.lower()


def test_the_gateway_cli_never_loads_sframe() -> None:
    """`voxseal serve` forbids SFrame in its process; importing the CLI must not load it."""
    code = (
        "import sys, voxseal.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('voxseal.crypto')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
