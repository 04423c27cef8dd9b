"""Principals, roles, passwords (rehash), TOTP enrolment, API keys — on the real store."""

from __future__ import annotations

import threading
import time
from typing import Any

import pyotp
import pytest

from tests.identity.helpers import PASSWORD
from voxseal.at_rest import SealedValueInvalid
from voxseal.errors import (
    Conflict,
    InvalidCredentials,
    InvalidInput,
    InvalidMFACode,
    MFANotEnrolled,
    MFAReplay,
    NotFound,
)
from voxseal.identity import schema
from voxseal.identity.apikeys import parse_key
from voxseal.identity.directory import Directory, MFAState, PrincipalKind
from voxseal.identity.passwords import PasswordHasher, PasswordParams
from voxseal.identity.rbac import Role
from voxseal.identity.sealing import SecretSealer
from voxseal.identity.totp import b32decode_secret
from voxseal.store import Database, open_store


def enrol(directory: Directory, name: str, clock, **kw) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = directory.begin_totp_enrolment(name, **kw)
    client = pyotp.parse_uri(enrolment.uri)
    codes = directory.confirm_totp_enrolment(name, client.at(clock.now))
    return client, codes


def test_create_and_read_users_and_services(directory: Directory) -> None:
    alice = directory.create_user("Alice", ["admin", "auditor"], PASSWORD)
    svc = directory.create_service("crm-backend", [Role.BACKEND])
    assert alice.name == "alice" and alice.kind is PrincipalKind.HUMAN
    assert alice.roles == {Role.ADMIN, Role.AUDITOR} and alice.has_password
    assert alice.mfa_state is MFAState.NONE and alice.mfa_required and not alice.disabled
    assert svc.kind is PrincipalKind.SERVICE and not svc.has_password and not svc.mfa_required
    assert directory.get("ALICE") == alice == directory.get_by_id(alice.id)
    assert [p.name for p in directory.principals()] == ["alice", "crm-backend"]
    assert [p.name for p in directory.principals(PrincipalKind.SERVICE)] == ["crm-backend"]
    assert directory.find("nobody") is None and directory.find("bad name!") is None
    with pytest.raises(NotFound):
        directory.get("nobody")
    assert alice.as_dict()["roles"] == ["admin", "auditor"]


def test_refusals_on_create(directory: Directory) -> None:
    directory.create_user("alice", ["caller"], PASSWORD)
    with pytest.raises(Conflict):
        directory.create_user("ALICE", ["caller"], PASSWORD)
    with pytest.raises(InvalidInput, match="role"):
        directory.create_user("bob", ["backend"], PASSWORD)  # service role on a human
    with pytest.raises(InvalidInput, match="role"):
        directory.create_service("svc", ["admin"])  # human role on a service
    with pytest.raises(InvalidInput):
        directory.create_user("carol", [], PASSWORD)
    with pytest.raises(InvalidInput):
        directory.create_user("dave", ["root"], PASSWORD)
    for bad in ("", "-x", "a b", "x" * 65, "ünï"):
        with pytest.raises(InvalidInput):
            directory.create_user(bad, ["caller"], PASSWORD)
    with pytest.raises(InvalidInput):
        directory.create_user("erin", ["caller"], "short")


def test_set_roles_disable_enable(directory: Directory) -> None:
    directory.create_user("alice", ["caller"], PASSWORD)
    assert directory.set_roles("alice", ["supervisor"]).roles == {Role.SUPERVISOR}
    with pytest.raises(InvalidInput):
        directory.set_roles("alice", ["agent"])
    assert directory.disable("alice").disabled
    assert not directory.enable("alice").disabled
    with pytest.raises(NotFound):
        directory.set_roles("nobody", ["caller"])


def test_check_password(directory: Directory) -> None:
    alice = directory.create_user("alice", ["caller"], PASSWORD)
    directory.create_service("svc", ["agent"])
    directory.create_user("nopass", ["caller"])
    assert directory.check_password("Alice", PASSWORD) == alice
    assert directory.check_password("alice", PASSWORD + "x") is None
    assert directory.check_password("nobody", PASSWORD) is None
    assert directory.check_password("svc", PASSWORD) is None
    assert directory.check_password("nopass", PASSWORD) is None
    directory.set_password("alice", "another long password")
    assert directory.check_password("alice", PASSWORD) is None
    with pytest.raises(InvalidInput):
        directory.set_password("svc", "another long password")


def test_rehash_on_login_when_parameters_change(db, sealer, clock) -> None:
    old = Directory(db, PasswordHasher(PasswordParams(1, 64, 1)), sealer, clock=clock)
    old.create_user("alice", ["caller"], PASSWORD)
    (before,) = db.query_one("SELECT password_hash FROM identity_principals")
    assert "m=64,t=1,p=1" in before
    new = Directory(db, PasswordHasher(PasswordParams(2, 128, 1)), sealer, clock=clock)
    assert new.check_password("alice", "wrong password!!") is None
    assert db.query_one("SELECT password_hash FROM identity_principals")[0] == before
    assert new.check_password("alice", PASSWORD) is not None
    (after,) = db.query_one("SELECT password_hash FROM identity_principals")
    assert "m=128,t=2,p=1" in after and after != before
    assert new.check_password("alice", PASSWORD) is not None
    assert db.query_one("SELECT password_hash FROM identity_principals")[0] == after


def test_totp_enrolment_pending_then_confirmed(directory: Directory, clock) -> None:
    directory.create_user("alice", ["admin"], PASSWORD)
    enrolment = directory.begin_totp_enrolment("alice")
    assert directory.get("alice").mfa_state is MFAState.PENDING
    assert enrolment.uri.startswith("otpauth://totp/voxseal-test:alice?secret=")
    assert len(b32decode_secret(enrolment.secret_b32)) == 20
    assert enrolment.qr().count("\n") > 10
    text = repr(enrolment) + str(enrolment)
    assert enrolment.secret_b32 not in text and "otpauth" not in text
    client = pyotp.parse_uri(enrolment.uri)
    with pytest.raises(InvalidMFACode):
        directory.confirm_totp_enrolment(
            "alice", "000000" if client.at(clock.now) != "000000" else "111111"
        )
    codes = directory.confirm_totp_enrolment("alice", client.at(clock.now))
    assert len(codes) == 10 and directory.recovery_codes_remaining("alice") == 10
    assert directory.get("alice").mfa_state is MFAState.CONFIRMED
    with pytest.raises(MFANotEnrolled):
        directory.confirm_totp_enrolment("alice", client.at(clock.now))
    with pytest.raises(Conflict):
        directory.begin_totp_enrolment("alice")


def test_confirming_code_cannot_be_replayed(directory: Directory, clock) -> None:
    alice = directory.create_user("alice", ["admin"], PASSWORD)
    client, _ = enrol(directory, "alice", clock)
    with pytest.raises(MFAReplay):
        directory.verify_totp(alice.id, client.at(clock.now))
    clock.advance(30)
    assert directory.verify_totp(alice.id, client.at(clock.now)) == int(clock.now // 30)


@pytest.mark.parametrize(("algorithm", "digits"), [("SHA1", 6), ("SHA256", 8), ("SHA512", 8)])
def test_verify_totp_all_algorithms(directory: Directory, clock, algorithm, digits) -> None:
    alice = directory.create_user("alice", ["admin"], PASSWORD)
    client, _ = enrol(directory, "alice", clock, algorithm=algorithm, digits=digits)
    assert client.digits == digits and client.digest().name == algorithm.lower()
    clock.advance(60)
    code = client.at(clock.now)
    directory.verify_totp(alice.id, code)
    with pytest.raises(MFAReplay):
        directory.verify_totp(alice.id, code)
    clock.advance(30)
    directory.verify_totp(alice.id, client.at(clock.now))
    clock.advance(120)
    with pytest.raises(InvalidMFACode):  # a code from 4 steps ago is outside the window
        directory.verify_totp(alice.id, client.at(clock.now - 120))


def test_verify_totp_refuses_unenrolled(directory: Directory, clock) -> None:
    alice = directory.create_user("alice", ["admin"], PASSWORD)
    with pytest.raises(MFANotEnrolled):
        directory.verify_totp(alice.id, "123456")
    enrolment = directory.begin_totp_enrolment("alice")
    with pytest.raises(MFANotEnrolled):  # pending is not enrolled
        directory.verify_totp(alice.id, pyotp.parse_uri(enrolment.uri).at(clock.now))


def test_totp_secret_is_sealed_at_rest(db, directory: Directory, hasher, clock) -> None:
    alice = directory.create_user("alice", ["admin"], PASSWORD)
    enrolment = directory.begin_totp_enrolment("alice")
    secret = b32decode_secret(enrolment.secret_b32)
    (stored,) = db.query_one("SELECT totp_secret FROM identity_principals")
    assert secret not in bytes(stored)
    dump = repr(db.execute("SELECT * FROM identity_principals"))
    assert enrolment.secret_b32 not in dump and PASSWORD not in dump
    # another sealing key cannot open it
    stranger = Directory(db, hasher, SecretSealer.generate(), clock=clock)
    with pytest.raises(SealedValueInvalid):
        stranger.confirm_totp_enrolment("alice", pyotp.parse_uri(enrolment.uri).at(clock.now))
    # a sealed secret copied onto another principal's row does not open (bound to the id)
    bob = directory.create_user("bob", ["admin"], PASSWORD)
    db.execute(
        "UPDATE identity_principals SET totp_secret = ?, totp_algorithm = 'SHA1',"
        " totp_digits = 6, totp_period = 30, mfa_state = 'confirmed' WHERE id = ?",
        (bytes(stored), bob.id),
    )
    with pytest.raises(SealedValueInvalid):
        directory.verify_totp(bob.id, pyotp.parse_uri(enrolment.uri).at(clock.now))
    assert alice.id != bob.id


def test_reset_mfa_and_reenrol(directory: Directory, clock) -> None:
    directory.create_user("alice", ["admin"], PASSWORD)
    _, _codes = enrol(directory, "alice", clock)
    assert directory.reset_mfa("alice").mfa_state is MFAState.NONE
    assert directory.recovery_codes_remaining("alice") == 0
    enrol(directory, "alice", clock)
    replaced = directory.begin_totp_enrolment("alice", replace=True)
    assert directory.get("alice").mfa_state is MFAState.PENDING
    assert replaced.secret_b32


def test_recovery_codes_through_directory(directory: Directory, clock) -> None:
    alice = directory.create_user("alice", ["admin"], PASSWORD)
    with pytest.raises(MFANotEnrolled):
        directory.regenerate_recovery_codes("alice")
    _, codes = enrol(directory, "alice", clock)
    assert directory.use_recovery_code(alice.id, codes[0])
    assert not directory.use_recovery_code(alice.id, codes[0])
    fresh = directory.regenerate_recovery_codes("alice")
    assert not directory.use_recovery_code(alice.id, codes[1])
    assert directory.use_recovery_code(alice.id, fresh[1])


def test_service_accounts_have_no_totp(directory: Directory) -> None:
    directory.create_service("agent-1", ["agent"])
    with pytest.raises(InvalidInput):
        directory.begin_totp_enrolment("agent-1")


# -- API keys -------------------------------------------------------------------------------


def test_api_key_lifecycle(db, directory: Directory) -> None:
    svc = directory.create_service("crm", ["backend"])
    new = directory.create_api_key("crm", label="prod")
    assert new.key.startswith(f"vxk_{new.key_id}_") and len(new.key) == 4 + 16 + 1 + 43
    assert new.key not in repr(new) and parse_key(new.key) is not None
    principal, key_id = directory.authenticate_api_key(new.key)
    assert principal == svc and key_id == new.key_id
    (info,) = directory.list_api_keys("crm")
    assert info.key_id == new.key_id and info.label == "prod" and info.active
    assert info.last_used_at is not None
    secret = parse_key(new.key)[1]
    assert secret not in repr(db.execute("SELECT * FROM identity_api_keys"))
    directory.revoke_api_key(new.key_id)
    with pytest.raises(InvalidCredentials):
        directory.authenticate_api_key(new.key)
    with pytest.raises(NotFound):
        directory.revoke_api_key(new.key_id)
    assert not directory.list_api_keys()[0].active


def test_api_key_refusals(directory: Directory) -> None:
    directory.create_service("crm", ["backend"])
    directory.create_user("alice", ["caller"], PASSWORD)
    key = directory.create_api_key("crm").key
    key_id, secret = parse_key(key)
    wrong_secret = f"vxk_{key_id}_{'A' * 43}"
    unknown_id = f"vxk_{'0' * 16}_{secret}"
    for bad in (wrong_secret, unknown_id, key[:-1], key + "x", "", "vxk_", "Bearer " + key):
        with pytest.raises(InvalidCredentials) as exc:
            directory.authenticate_api_key(bad)
        assert exc.value.http_status == 401 and secret not in str(exc.value)
    with pytest.raises(InvalidInput):
        directory.create_api_key("alice")  # humans do not get API keys
    directory.disable("crm")
    with pytest.raises(InvalidCredentials):
        directory.authenticate_api_key(key)
    with pytest.raises(InvalidInput):
        directory.create_api_key("crm")


def test_reprs_hold_no_credentials(directory: Directory, clock, sealer) -> None:
    directory.create_user("alice", ["admin"], PASSWORD)
    enrolment = directory.begin_totp_enrolment("alice")
    svc = directory.create_service("crm", ["backend"])
    key = directory.create_api_key("crm")
    for obj in (directory, directory.get("alice"), svc, key, enrolment, sealer):
        text = repr(obj) + str(obj)
        assert PASSWORD not in text and "argon2" not in text
        assert enrolment.secret_b32 not in text and key.key not in text


def test_concurrent_totp_use_succeeds_once(directory: Directory, clock) -> None:
    import threading

    alice = directory.create_user("alice", ["admin"], PASSWORD)
    client, _ = enrol(directory, "alice", clock)
    clock.advance(30)
    code = client.at(clock.now)
    results: list[str] = []
    barrier = threading.Barrier(6)

    def go() -> None:
        barrier.wait()
        try:
            directory.verify_totp(alice.id, code)
            results.append("ok")
        except MFAReplay:
            results.append("replay")

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["replay"] * 5


def test_sealing_key_file(tmp_path) -> None:
    import stat

    path = tmp_path / "keys" / "secrets.key"
    first = SecretSealer.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = first.seal(b"totp secret bytes", context="totp:1")
    again = SecretSealer.from_file(path)
    assert again.open(blob, context="totp:1") == b"totp secret bytes"
    with pytest.raises(SealedValueInvalid):
        again.open(blob, context="totp:2")
    with pytest.raises(SealedValueInvalid):
        again.open(blob[:-1] + bytes([blob[-1] ^ 1]), context="totp:1")
    with pytest.raises(SealedValueInvalid):
        again.open(b"\x02" + blob[1:], context="totp:1")
    path.chmod(0o644)
    from voxseal.errors import ConfigError

    with pytest.raises(ConfigError):
        SecretSealer.from_file(path)


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(directory: Directory) -> None:
    directory.create_user("root", ["admin"], PASSWORD)
    directory.create_user("ops", ["admin", "auditor"], PASSWORD)
    directory.disable("ops")  # a disabled admin does not count
    for change in (
        lambda: directory.set_roles("root", ["auditor"]),
        lambda: directory.disable("root"),
    ):
        with pytest.raises(Conflict) as refused:
            change()
        assert refused.value.reason == "last_admin"
    assert directory.get("root").roles == {Role.ADMIN} and not directory.get("root").disabled
    directory.enable("ops")  # now there is another: the change goes through
    assert directory.set_roles("root", ["auditor"]).roles == {Role.AUDITOR}
    with pytest.raises(Conflict):
        directory.disable("ops")
    # non-admins are never held back
    directory.create_user("eve", ["auditor"], PASSWORD)
    assert directory.disable("eve").disabled


def test_two_nodes_removing_each_others_admin_at_once_leave_one(
    database_url: str,
    db: Database,
    hasher: PasswordHasher,
    sealer: SecretSealer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two gateways sharing one store: node A disables ``ops`` while node B demotes ``root``.

    A hook on the directory's check sleeps after it has read the administrators, inside the
    critical section, so both changes are in flight at once. Each node has its own store
    connection, so only the store can serialise them (SQLite's write lock, PostgreSQL's
    advisory lock): without that both checks see the other admin and none is left (tried).
    """
    other = open_store(database_url, migrations=[schema.MIGRATIONS])
    try:
        node_a = Directory(db, hasher, sealer)
        node_b = Directory(other, hasher, sealer)
        node_a.create_user("root", ["admin"], PASSWORD)
        node_a.create_user("ops", ["admin"], PASSWORD)
        original = Directory._keep_an_admin

        def slow_check(*args: Any, **kwargs: Any) -> None:
            try:
                original(*args, **kwargs)
            finally:
                time.sleep(0.3)  # the admins are read; the change is not made yet

        monkeypatch.setattr(Directory, "_keep_an_admin", slow_check)
        outcomes: dict[str, str] = {}

        def change(name: str, run: Any) -> None:
            try:
                run()
                outcomes[name] = "changed"
            except Conflict as exc:
                outcomes[name] = exc.reason

        threads = [
            threading.Thread(target=change, args=("ops", lambda: node_a.disable("ops"))),
            threading.Thread(
                target=change, args=("root", lambda: node_b.set_roles("root", ["auditor"]))
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes.values()) == ["changed", "last_admin"], outcomes
        admins = [p.name for p in node_b.principals() if Role.ADMIN in p.roles and not p.disabled]
        assert len(admins) == 1, admins
    finally:
        other.close()
