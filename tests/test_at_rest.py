"""The at-rest envelope: layout, header authentication, purpose separation, binding, keys."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voxseal.at_rest import (
    FORMAT_V1,
    HEADER_BYTES,
    NONCE_BYTES,
    TAG_BYTES,
    Purpose,
    SealedValueInvalid,
    new_key,
    open_sealed,
    seal,
    wipe,
)
from voxseal.errors import CryptoError
from voxseal.identity.sealing import SecretSealer

AAD = b"principal-1"


def test_round_trip_and_layout() -> None:
    key = new_key()
    blob = seal(key, Purpose.IDENTITY_SECRET, b"secret", AAD)
    assert blob[0] == FORMAT_V1 and blob[1] == Purpose.IDENTITY_SECRET == ord("I")
    assert len(blob) == HEADER_BYTES + NONCE_BYTES + len(b"secret") + TAG_BYTES
    assert b"secret" not in blob
    assert open_sealed(key, Purpose.IDENTITY_SECRET, blob, AAD) == b"secret"
    # a fresh nonce each time: the same value never seals to the same bytes
    assert seal(key, Purpose.IDENTITY_SECRET, b"secret", AAD) != blob


def test_a_flipped_version_byte_is_refused() -> None:
    key = new_key()
    blob = seal(key, Purpose.VAULT_DATA, b"payload", AAD)
    for version in (0x00, 0x02, 0x81, 0xFF):
        with pytest.raises(SealedValueInvalid, match="version"):
            open_sealed(key, Purpose.VAULT_DATA, bytes([version]) + blob[1:], AAD)


def test_a_flipped_purpose_byte_is_refused() -> None:
    key = new_key()
    blob = seal(key, Purpose.VAULT_DATA, b"payload", AAD)
    flipped = blob[:1] + bytes([Purpose.IDENTITY_SECRET]) + blob[2:]
    with pytest.raises(SealedValueInvalid, match="another key layer or purpose"):
        open_sealed(key, Purpose.VAULT_DATA, flipped, AAD)
    with pytest.raises(SealedValueInvalid, match="another key layer or purpose"):
        open_sealed(key, Purpose.IDENTITY_SECRET, blob, AAD)


def test_the_header_is_authenticated_not_only_checked() -> None:
    """Relabelled to another purpose and opened as that purpose, the blob still fails: the
    header bytes are part of the associated data, so the GCM tag covers them."""
    key = new_key()
    for sealed_as, relabel in [
        (Purpose.VAULT_DATA, Purpose.VAULT_SUBJECT_WRAP),
        (Purpose.VAULT_SUBJECT_WRAP, Purpose.VAULT_MASTER_WRAP),
        (Purpose.IDENTITY_SECRET, Purpose.VAULT_DATA),
    ]:
        blob = seal(key, sealed_as, b"payload", AAD)
        relabelled = bytes([FORMAT_V1, relabel]) + blob[2:]
        with pytest.raises(SealedValueInvalid, match="authentication"):
            open_sealed(key, relabel, relabelled, AAD)
    # and the tag really is over header + aad: GCM over aad alone does not verify it
    blob = seal(key, Purpose.VAULT_DATA, b"payload", AAD)
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        AESGCM(bytes(key)).decrypt(blob[2:14], blob[14:], AAD)
    assert AESGCM(bytes(key)).decrypt(blob[2:14], blob[14:], blob[:2] + AAD) == b"payload"


def test_associated_data_key_and_tampering() -> None:
    key = new_key()
    blob = seal(key, Purpose.IDENTITY_SECRET, b"secret", AAD)
    with pytest.raises(SealedValueInvalid, match="authentication"):
        open_sealed(key, Purpose.IDENTITY_SECRET, blob, b"principal-2")
    with pytest.raises(SealedValueInvalid, match="authentication"):
        open_sealed(new_key(), Purpose.IDENTITY_SECRET, blob, AAD)
    for i in range(HEADER_BYTES, len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(SealedValueInvalid):
            open_sealed(key, Purpose.IDENTITY_SECRET, bytes(tampered), AAD)
    with pytest.raises(SealedValueInvalid, match="truncated"):
        open_sealed(key, Purpose.IDENTITY_SECRET, blob[: HEADER_BYTES + NONCE_BYTES + 15], AAD)
    assert isinstance(SealedValueInvalid("x"), CryptoError)
    assert SealedValueInvalid().reason == "sealed_value_invalid"


def test_only_256_bit_keys_and_known_purposes() -> None:
    for length in (16, 24, 31, 33):
        with pytest.raises(CryptoError, match=f"not {length}") as exc:
            seal(os.urandom(length), Purpose.VAULT_DATA, b"x", AAD)
        assert exc.value.reason == "invalid_key"
    with pytest.raises(ValueError):
        seal(new_key(), 0x5A, b"x", AAD)
    assert len({p.value for p in Purpose}) == len(Purpose)


def test_keys_are_mutable_buffers_that_wipe() -> None:
    key = new_key()
    assert isinstance(key, bytearray) and len(key) == 32 and any(key)
    blob = seal(key, Purpose.VAULT_DATA, b"x", AAD)  # a bytearray key works as is
    wipe(key)
    assert key == bytearray(32)
    wipe(None)
    with pytest.raises(SealedValueInvalid):
        open_sealed(key, Purpose.VAULT_DATA, blob, AAD)


# -- the directory's secrets use the same envelope ----------------------------------------------


def _legacy_seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """The pre-envelope identity format: ``0x01 | nonce | ct``, only the context as AAD."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def test_identity_secrets_are_sealed_in_the_envelope() -> None:
    key = bytes(new_key())
    sealer = SecretSealer(key)
    blob = sealer.seal(b"totp secret", context="totp:1")
    assert blob[:2] == bytes([FORMAT_V1, Purpose.IDENTITY_SECRET])
    assert open_sealed(key, Purpose.IDENTITY_SECRET, blob, b"totp:1") == b"totp secret"
    assert sealer.open(blob, context="totp:1") == b"totp secret"
    with pytest.raises(SealedValueInvalid):  # a flipped version byte
        sealer.open(b"\x02" + blob[1:], context="totp:1")
    with pytest.raises(SealedValueInvalid):  # a flipped purpose byte
        sealer.open(blob[:1] + bytes([Purpose.VAULT_DATA]) + blob[2:], context="totp:1")
    assert key.hex() not in repr(sealer)


def test_the_legacy_format_opens_only_through_the_upgrade() -> None:
    key = bytes(new_key())
    sealer = SecretSealer(key)
    legacy = _legacy_seal(key, b"totp secret", "totp:1")
    with pytest.raises(SealedValueInvalid):
        sealer.open(legacy, context="totp:1")
    resealed = sealer.reseal_legacy(legacy, context="totp:1")
    assert resealed is not None and resealed[:2] == bytes([FORMAT_V1, Purpose.IDENTITY_SECRET])
    assert sealer.open(resealed, context="totp:1") == b"totp secret"
    assert sealer.reseal_legacy(resealed, context="totp:1") is None  # already current
    with pytest.raises(SealedValueInvalid):  # bound to its context in the old format too
        sealer.reseal_legacy(legacy, context="totp:2")
    with pytest.raises(SealedValueInvalid):  # another key
        SecretSealer(bytes(new_key())).reseal_legacy(legacy, context="totp:1")
    with pytest.raises(SealedValueInvalid):  # neither format
        sealer.reseal_legacy(b"\x07" + legacy[1:], context="totp:1")


def test_a_process_that_forbids_sframe_can_still_seal_at_rest() -> None:
    """The gateway forbids the E2EE core (blind relay) yet needs the vault and TOTP secrets."""
    code = (
        "from voxseal.media.sfu import forbid_sframe\n"
        "forbid_sframe()\n"
        "import sys, voxseal.at_rest, voxseal.gateway\n"
        "from voxseal.at_rest import Purpose, new_key, open_sealed, seal\n"
        "k = new_key()\n"
        "assert open_sealed(k, Purpose.VAULT_DATA, seal(k, Purpose.VAULT_DATA, b'x', b''), b'') "
        "== b'x'\n"
        "assert not [m for m in sys.modules if m.startswith('voxseal.crypto')]\n"
        "print('sealed')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "sealed"
