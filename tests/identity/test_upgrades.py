"""The one-time re-seal of TOTP secrets written before the at-rest envelope."""

from __future__ import annotations

import logging
import os

import pyotp
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.identity.helpers import PASSWORD
from voxseal.at_rest import FORMAT_V1, Purpose, SealedValueInvalid
from voxseal.config import load_settings
from voxseal.gateway import SEALING_KEY, Gateway
from voxseal.identity.directory import Directory
from voxseal.identity.sealing import SecretSealer
from voxseal.identity.upgrades import RESEAL_TOTP_SECRETS, upgrade_sealed_secrets

IP = "192.0.2.10"


def _legacy_seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """How identity/sealing.py sealed before the envelope: ``0x01 | nonce | ct``."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def _make_legacy(db, directory: Directory, key: bytes, name: str, clock) -> pyotp.TOTP:
    """Enrol ``name`` and rewrite its stored secret in the old format (as an old node would)."""
    enrolment = directory.begin_totp_enrolment(name)
    client = pyotp.parse_uri(enrolment.uri)
    directory.confirm_totp_enrolment(name, client.at(clock.now))
    clock.advance(30)
    principal = directory.get(name)
    secret = pyotp.TOTP(client.secret).byte_secret()
    db.execute(
        "UPDATE identity_principals SET totp_secret = ? WHERE id = ?",
        (_legacy_seal(key, secret, f"totp:{principal.id}"), principal.id),
    )
    return client


def _stored(db, principal_id: str) -> bytes:
    (blob,) = db.query_one(
        "SELECT totp_secret FROM identity_principals WHERE id = ?", (principal_id,)
    )
    return bytes(blob)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def sealer(key: bytes) -> SecretSealer:
    return SecretSealer(key)


def test_an_old_secret_is_resealed_once_and_logs_in(db, directory, auth, key, clock) -> None:
    root = directory.create_user("root", ["admin"], PASSWORD)
    client = _make_legacy(db, directory, key, "root", clock)
    # before the upgrade, normal reads refuse the old format
    challenge = auth.login("root", PASSWORD, IP).as_response()["challenge"]
    with pytest.raises(SealedValueInvalid):
        auth.complete_mfa(challenge, client.at(clock.now), IP)

    result = upgrade_sealed_secrets(db, SecretSealer(key), clock=clock)
    assert (result.resealed, result.unreadable, result.already_done) == (1, (), False)
    assert _stored(db, root.id)[:2] == bytes([FORMAT_V1, Purpose.IDENTITY_SECRET])
    assert db.query_one(
        "SELECT applied_at FROM identity_upgrades WHERE name = ?", (RESEAL_TOTP_SECRETS,)
    ) == (clock.now,)

    clock.advance(30)
    body = auth.login("root", PASSWORD, IP).as_response()
    token = auth.complete_mfa(body["challenge"], client.at(clock.now), IP)
    assert auth.tokens.verify_access(token.token).subject == "root"

    # recorded: a second start does not scan again
    again = upgrade_sealed_secrets(db, SecretSealer(key), clock=clock)
    assert again.already_done and again.resealed == 0


def test_current_rows_are_left_alone_and_unreadable_rows_keep_it_pending(
    db, directory, key, clock, caplog
) -> None:
    directory.create_user("new", ["admin"], PASSWORD)
    directory.begin_totp_enrolment("new")  # sealed in the current format
    newer = directory.get("new")
    current = _stored(db, newer.id)
    old = directory.create_user("old", ["admin"], PASSWORD)
    _make_legacy(db, directory, key, "old", clock)
    legacy = _stored(db, old.id)

    with caplog.at_level(logging.WARNING, logger="voxseal.identity.upgrades"):
        wrong = upgrade_sealed_secrets(db, SecretSealer(os.urandom(32)), clock=clock)
    assert wrong.resealed == 0 and set(wrong.unreadable) == {newer.id, old.id}
    assert old.id in caplog.text and key.hex() not in caplog.text
    assert _stored(db, old.id) == legacy  # untouched
    assert db.query_one("SELECT COUNT(*) FROM identity_upgrades") == (0,)  # not recorded

    right = upgrade_sealed_secrets(db, SecretSealer(key), clock=clock)
    assert (right.resealed, right.unreadable) == (1, ())
    assert _stored(db, newer.id) == current  # already current: not rewritten


def test_gateway_open_runs_the_upgrade(data_dir, clock) -> None:
    env = {
        "VOXSEAL_PASSWORDS_TIME_COST": "1",
        "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
        "VOXSEAL_PASSWORDS_PARALLELISM": "1",
    }
    settings = load_settings(env=env, overrides={"data_dir": str(data_dir)})
    gw = Gateway.open(settings)
    try:
        key = (gw.keys_dir / SEALING_KEY).read_bytes()
        gw.directory.create_user("root", ["admin"], PASSWORD)
        enrolment = gw.directory.begin_totp_enrolment("root")
        client = pyotp.parse_uri(enrolment.uri)
        gw.directory.confirm_totp_enrolment("root", client.now())
        principal = gw.directory.get("root")
        secret = pyotp.TOTP(client.secret).byte_secret()
        # an old node's row, and the upgrade marker gone (a database from before the upgrade)
        gw.db.execute(
            "UPDATE identity_principals SET totp_secret = ?, totp_last_step = NULL WHERE id = ?",
            (_legacy_seal(key, secret, f"totp:{principal.id}"), principal.id),
        )
        gw.db.execute("DELETE FROM identity_upgrades")
    finally:
        gw.close()

    gw = Gateway.open(settings)
    try:
        body = gw.authenticator.login("root", PASSWORD, IP).as_response()
        token = gw.authenticator.complete_mfa(body["challenge"], client.now(), IP)
        assert gw.tokens.verify_access(token.token).subject == "root"
        assert gw.db.query_one("SELECT name FROM identity_upgrades") == (RESEAL_TOTP_SECRETS,)
    finally:
        gw.close()
