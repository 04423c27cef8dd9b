"""``voxseal vault …``: a principal named with --as, proven with its TOTP code, then the vault.

Driven through the argparse wiring of ``voxseal.cli.vault`` (``register``),
on a real data dir, gateway, store and audit log.
"""

from __future__ import annotations

import argparse
import io
import json
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest

from voxseal.cli.context import cli_actor
from voxseal.cli.vault import VaultCommandError
from voxseal.cli.vault import register as add_vault_parser
from voxseal.config import load_settings
from voxseal.errors import (
    InvalidCredentials,
    InvalidMFACode,
    MFAReplay,
    PermissionDenied,
)
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.vault import ObjectShredded, open_vault

CHEAP = {
    "VOXSEAL_PASSWORDS_TIME_COST": "1",
    "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
    "VOXSEAL_PASSWORDS_PARALLELISM": "1",
}
AUDIO = b"RIFF....WAVEfmt " + bytes(range(100))


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir")
    common.add_argument("--config")
    p = argparse.ArgumentParser(prog="voxseal")
    add_vault_parser(p.add_subparsers(dest="command", required=True), common)
    return p


@dataclass
class Env:
    data_dir: Path
    secrets: dict[str, str] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    def open(self) -> Gateway:
        return Gateway.open(load_settings(env=CHEAP, overrides={"data_dir": str(self.data_dir)}))

    def user(self, name: str, roles: set[Role]) -> None:
        gw = self.open()
        try:
            gw.directory.create_user(name, roles, "correct horse battery staple")
            enrolment = gw.directory.begin_totp_enrolment(name)
            self.secrets[name] = enrolment.secret_b32
            gw.directory.confirm_totp_enrolment(
                name, pyotp.TOTP(enrolment.secret_b32).at(time.time() - 30)
            )
        finally:
            gw.close()
        self.steps[name] = 0

    def code(self, name: str) -> str:
        """A fresh code each call: now, then the next step (codes are single-use)."""
        offset = self.steps[name] * 30
        self.steps[name] += 1
        return pyotp.TOTP(self.secrets[name]).at(time.time() + offset)

    def run(self, *argv: str, stdin: str = "") -> str:
        args = parser().parse_args([*argv, "--data-dir", str(self.data_dir)])
        out = io.StringIO()
        assert args.wants_stdin
        assert args.run(args, out, io.StringIO(stdin)) == 0
        return out.getvalue()

    def put(self, subject: str, kind: str, data: bytes, content_type: str) -> str:
        gw = self.open()
        try:
            vault = open_vault(gw.db, gw.audit, self.data_dir)
            return vault.put(subject, kind, data, content_type=content_type, actor="agent")
        finally:
            gw.close()

    def events(self, action: str) -> list:
        gw = self.open()
        try:
            return gw.audit.query(action=action, limit=1000)
        finally:
            gw.close()


@pytest.fixture
def env(data_dir: Path) -> Iterator[Env]:
    e = Env(data_dir)
    e.user("sup", {Role.SUPERVISOR})
    yield e


def test_get_text_to_stdout_and_binary_to_a_0600_file(env: Env, tmp_path: Path) -> None:
    tr = env.put("subj-a", "transcript", b'{"text": "card [CARD]"}', "application/json")
    rec = env.put("subj-a", "recording", AUDIO, "audio/wav")
    out = env.run("vault", "get", tr, "--as", "sup", "--code", env.code("sup"))
    assert json.loads(out) == {"text": "card [CARD]"}
    target = tmp_path / "rec.wav"
    out = env.run(
        "vault",
        "get",
        rec,
        "--as",
        "sup",
        "--code-stdin",
        "-o",
        str(target),
        stdin=env.code("sup") + "\n",
    )
    assert target.read_bytes() == AUDIO and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "recording" in out and str(target) in out

    reads = env.events("vault.read")
    assert [(e.actor, e.target, e.outcome, e.source) for e in reads] == [
        ("sup", tr, "success", cli_actor()),
        ("sup", rec, "success", cli_actor()),
    ]
    mfa = env.events("auth.mfa")
    assert [(e.actor, e.outcome, e.details.get("channel")) for e in mfa][-2:] == [
        ("sup", "success", "cli"),
        ("sup", "success", "cli"),
    ]


def test_existing_output_file_is_not_overwritten(env: Env, tmp_path: Path) -> None:
    rec = env.put("subj-a", "recording", AUDIO, "audio/wav")
    target = tmp_path / "exists.wav"
    target.write_bytes(b"keep")
    with pytest.raises(VaultCommandError, match="not overwriting") as err:
        env.run("vault", "get", rec, "--as", "sup", "--code", "000000", "-o", str(target))
    assert err.value.reason == "output_exists"
    assert target.read_bytes() == b"keep"
    assert env.events("vault.read") == []  # refused before anything was decrypted


def test_binary_object_needs_an_output_file(env: Env) -> None:
    rec = env.put("subj-a", "recording", AUDIO, "audio/wav")
    with pytest.raises(VaultCommandError, match="-o FILE") as err:
        env.run("vault", "get", rec, "--as", "sup", "--code", env.code("sup"))
    assert err.value.reason == "binary_object"


def test_wrong_or_replayed_code_is_refused_and_audited(env: Env) -> None:
    tr = env.put("subj-a", "transcript", b"x", "text/plain")
    good = pyotp.TOTP(env.secrets["sup"]).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidMFACode):
        env.run("vault", "get", tr, "--as", "sup", "--code", wrong)
    env.run("vault", "get", tr, "--as", "sup", "--code", good)
    with pytest.raises(MFAReplay):
        env.run("vault", "get", tr, "--as", "sup", "--code", good)
    outcomes = [e.outcome for e in env.events("auth.mfa") if e.details.get("channel") == "cli"]
    assert outcomes == ["failure", "success", "failure"]
    assert len(env.events("vault.read")) == 1
    with pytest.raises(InvalidCredentials, match="enabled human principal"):
        env.run("vault", "get", tr, "--as", "nobody", "--code", "123456")


def test_principal_without_permission_is_refused(env: Env) -> None:
    env.user("adm", {Role.ADMIN})
    tr = env.put("subj-a", "transcript", b"x", "text/plain")
    with pytest.raises(PermissionDenied, match="recordings:read' or 'transcripts:read"):
        env.run("vault", "get", tr, "--as", "adm", "--code", env.code("adm"))
    ev = env.events("vault.cli")[-1]
    assert (ev.actor, ev.outcome, ev.target) == ("adm", "denied", "get")
    with pytest.raises(PermissionDenied):
        env.run("vault", "shred", "subj-a", "--yes", "--as", "adm", "--code", env.code("adm"))


def test_list_and_shred(env: Env) -> None:
    rec = env.put("subj-a", "recording", AUDIO, "audio/wav")
    tr = env.put("subj-a", "transcript", b"x", "text/plain")
    code = env.code("sup")
    listed = json.loads(env.run("vault", "list", "subj-a", "--json", "--as", "sup", "--code", code))
    assert [o["id"] for o in listed] == [rec, tr] and not any(o["shredded"] for o in listed)

    with pytest.raises(VaultCommandError, match="--yes") as err:
        env.run("vault", "shred", "subj-a", "--as", "sup", "--code", "000000")
    assert err.value.reason == "confirmation_required"
    out = env.run("vault", "shred", "subj-a", "--yes", "--as", "sup", "--code", env.code("sup"))
    assert "1 key(s) destroyed, 2 object(s) now unreadable" in out
    ev = env.events("vault.shred")[-1]
    assert (ev.actor, ev.source, ev.target) == ("sup", cli_actor(), "subj-a")

    env.user("sup2", {Role.SUPERVISOR})
    with pytest.raises(ObjectShredded):
        env.run("vault", "get", tr, "--as", "sup2", "--code", env.code("sup2"))
    table = env.run("vault", "list", "subj-a", "--as", "sup2", "--code", env.code("sup2"))
    assert table.count("shredded") == 2


def test_rotate_master_key(env: Env) -> None:
    env.user("adm", {Role.ADMIN})
    tr = env.put("subj-a", "transcript", b"still here", "text/plain")
    key_file = env.data_dir / "keys" / "vault-master.key"
    before = key_file.read_bytes()
    out = env.run("vault", "rotate-master", "--as", "adm", "--code", env.code("adm"))
    assert "1 subject key(s) re-wrapped" in out
    assert key_file.read_bytes() != before
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert env.run("vault", "get", tr, "--as", "sup", "--code", env.code("sup")) == "still here\n"
    assert env.events("vault.rotate_master")[-1].actor == "adm"
