"""Account recovery and key hygiene from the command line, each a real ``voxseal`` process.

``user passwd``, ``user mfa-reset``, ``user disable|enable``, ``apikey list|revoke`` and
``token revoke``: each changes the one directory the HTTPS API uses, writes its audit event
with the OS account as actor, and refuses what it must (a service account's password, the
last administrator, an unknown key, a forged token) with a one-line message and exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyotp
import pytest

from voxseal.audit.query import AuditRecord
from voxseal.config import load_settings
from voxseal.errors import InvalidCredentials, TokenRevoked
from voxseal.gateway import Gateway
from voxseal.identity.directory import MFAState

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase, long enough"
CHEAP = {
    "VOXSEAL_PASSWORDS_TIME_COST": "1",
    "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
    "VOXSEAL_PASSWORDS_PARALLELISM": "1",
}


def voxseal(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxseal", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **CHEAP},
        timeout=60,
    )


@contextmanager
def gateway(data_dir: Path) -> Iterator[Gateway]:
    gw = Gateway.open(load_settings(env=CHEAP, overrides={"data_dir": str(data_dir)}))
    try:
        yield gw
    finally:
        gw.close()


def events(data_dir: Path, action: str) -> list[AuditRecord]:
    with gateway(data_dir) as gw:
        return gw.audit.query(action=action)


def add_user(data_dir: Path, name: str, role: str) -> None:
    r = voxseal(data_dir, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD)
    assert r.returncode == 0, r.stderr


def test_passwd_replaces_a_persons_password(data_dir: Path) -> None:
    add_user(data_dir, "alice", "caller")
    r = voxseal(data_dir, "user", "passwd", "alice", "--password-stdin", stdin=NEW_PASSWORD)
    assert r.returncode == 0, r.stderr
    with gateway(data_dir) as gw:
        assert gw.directory.check_password("alice", NEW_PASSWORD) is not None
        assert gw.directory.check_password("alice", PASSWORD) is None
    (event,) = events(data_dir, "user.password")
    assert event.target == "alice" and event.actor is not None and event.actor.startswith("cli:")
    assert NEW_PASSWORD not in json.dumps(event.details)
    # refused: a service account has no password, an unknown name, no password given
    voxseal(data_dir, "user", "add", "crm", "--role", "backend", "--service")
    r = voxseal(data_dir, "user", "passwd", "crm", "--password-stdin", stdin=NEW_PASSWORD)
    assert r.returncode == 2 and "service_password" in r.stderr
    r = voxseal(data_dir, "user", "passwd", "nobody", "--password-stdin", stdin=NEW_PASSWORD)
    assert r.returncode == 2 and "nobody" in r.stderr
    r = voxseal(data_dir, "user", "passwd", "alice", "--password-stdin", stdin="")
    assert r.returncode == 2 and "no password" in r.stderr
    assert len(events(data_dir, "user.password")) == 1


def test_mfa_reset_removes_totp_and_recovery_codes(data_dir: Path) -> None:
    add_user(data_dir, "root", "admin")
    with gateway(data_dir) as gw:
        enrolment = gw.directory.begin_totp_enrolment("root")
        gw.directory.confirm_totp_enrolment("root", pyotp.parse_uri(enrolment.uri).now())
        assert gw.directory.get("root").mfa_state is MFAState.CONFIRMED
    r = voxseal(data_dir, "user", "mfa-reset", "root")
    assert r.returncode == 0, r.stderr
    assert "mfa-enroll root" in r.stdout  # an admin must enrol again, and is told how
    with gateway(data_dir) as gw:
        principal = gw.directory.get("root")
        assert principal.mfa_state is MFAState.NONE
        assert gw.directory.recovery_codes_remaining("root") == 0
    (event,) = events(data_dir, "mfa.reset")
    assert event.target == "root"


def test_disable_and_enable_keep_the_last_admin(data_dir: Path) -> None:
    add_user(data_dir, "root", "admin")
    add_user(data_dir, "bob", "caller")
    r = voxseal(data_dir, "user", "disable", "root")
    assert r.returncode == 2 and "last_admin" in r.stderr  # the directory's rule, refused
    r = voxseal(data_dir, "user", "disable", "bob")
    assert r.returncode == 0, r.stderr
    with gateway(data_dir) as gw:
        assert gw.directory.get("bob").disabled
        assert gw.directory.get("root").disabled is False
    r = voxseal(data_dir, "user", "enable", "bob")
    assert r.returncode == 0, r.stderr
    with gateway(data_dir) as gw:
        assert gw.directory.get("bob").disabled is False
    assert [e.target for e in events(data_dir, "user.disable")] == ["bob"]
    assert [e.target for e in events(data_dir, "user.enable")] == ["bob"]


def test_apikey_list_shows_ids_and_revoke_ends_a_key(data_dir: Path) -> None:
    r = voxseal(data_dir, "apikey", "create", "crm", "--label", "crm prod")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    r = voxseal(data_dir, "apikey", "list", "--json")
    assert r.returncode == 0, r.stderr
    (listed,) = json.loads(r.stdout)
    assert listed["account"] == "crm" and listed["label"] == "crm prod"
    assert listed["revoked_at"] is None and listed["key_id"] in key
    assert key not in r.stdout  # ids only: the secret is never stored, never shown
    assert key.rsplit("_", 1)[-1] not in r.stdout
    r = voxseal(data_dir, "apikey", "revoke", listed["key_id"])
    assert r.returncode == 0, r.stderr
    with gateway(data_dir) as gw, pytest.raises(InvalidCredentials):
        gw.directory.authenticate_api_key(key)
    r = voxseal(data_dir, "apikey", "list")
    assert r.returncode == 0 and "revoked" in r.stdout
    r = voxseal(data_dir, "apikey", "revoke", listed["key_id"])
    assert r.returncode == 2 and "apikey_not_found" in r.stderr
    assert [e.target for e in events(data_dir, "apikey.revoke")] == [listed["key_id"]]
    assert events(data_dir, "apikey.list")[0].details == {"count": 1}


def test_token_revoke_takes_the_token_on_stdin(data_dir: Path) -> None:
    r = voxseal(data_dir, "token", "issue", "--room", "r1", "--identity", "caller-1")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    r = voxseal(data_dir, "token", "revoke", stdin=token + "\n")
    assert r.returncode == 0, r.stderr
    assert "join token" in r.stdout and token not in r.stdout
    with gateway(data_dir) as gw, pytest.raises(TokenRevoked):
        gw.tokens.verify_join(token)
    (event,) = events(data_dir, "token.revoke")
    assert event.target == "caller-1"
    assert event.details["kind"] == "join" and event.details["room"] == "r1"
    assert token not in json.dumps(event.details)
    # refused: again (already revoked), a forged token, nothing on stdin
    r = voxseal(data_dir, "token", "revoke", stdin=token)
    assert r.returncode == 2 and "token_revoked" in r.stderr
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = voxseal(data_dir, "token", "revoke", stdin=forged)
    assert r.returncode == 2 and "token_invalid" in r.stderr
    r = voxseal(data_dir, "token", "revoke", stdin="")
    assert r.returncode == 2 and "no token" in r.stderr
    assert len(events(data_dir, "token.revoke")) == 1


@pytest.mark.parametrize(
    "command",
    [
        ("user", "passwd"),
        ("user", "mfa-reset"),
        ("user", "disable"),
        ("user", "enable"),
        ("apikey", "list"),
        ("apikey", "revoke"),
        ("token", "revoke"),
    ],
)
def test_each_command_has_help(data_dir: Path, command: tuple[str, str]) -> None:
    r = voxseal(data_dir, *command, "--help")
    assert r.returncode == 0 and "usage: voxseal" in r.stdout
