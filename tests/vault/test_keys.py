"""The master key file, the provider interface and the envelope format."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from voxseal.at_rest import FORMAT_V1, Purpose, new_key, seal, wipe
from voxseal.errors import ConfigError
from voxseal.vault import (
    KeyProvider,
    LocalKeyFileProvider,
    VaultIntegrityError,
    WrongMasterKey,
    keys,
    open_provider,
    register_provider,
)
from voxseal.vault.keys import context, open_sealed, subject_key_context

CTX = subject_key_context("subj-1", 1)


def test_key_file_is_created_0600_with_32_bytes(key_path: Path) -> None:
    provider = LocalKeyFileProvider(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert len(key_path.read_bytes()) == 32
    assert provider.key_id.startswith("local:") and len(provider.key_id) == len("local:") + 16
    # reopening uses the same key
    assert LocalKeyFileProvider(key_path).key_id == provider.key_id
    assert isinstance(provider, KeyProvider)
    assert key_path.read_bytes().hex() not in repr(provider)


def test_loose_permissions_are_refused(key_path: Path) -> None:
    LocalKeyFileProvider(key_path)
    os.chmod(key_path, 0o644)
    with pytest.raises(ConfigError, match="accessible by others"):
        LocalKeyFileProvider(key_path)


def test_wrong_length_and_missing_file_are_refused(key_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        LocalKeyFileProvider(key_path, create=False)
    key_path.parent.mkdir(parents=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(ConfigError, match="exactly 32 bytes"):
        LocalKeyFileProvider(key_path)


def test_wrap_round_trip_and_context_binding(provider: LocalKeyFileProvider) -> None:
    key = os.urandom(32)
    blob = provider.wrap(key, context=CTX)
    assert key not in blob
    assert provider.unwrap(blob, context=CTX) == key
    with pytest.raises(VaultIntegrityError):
        provider.unwrap(blob, context=subject_key_context("subj-2", 1))
    with pytest.raises(VaultIntegrityError):
        provider.unwrap(blob, context=subject_key_context("subj-1", 2))
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(VaultIntegrityError):
        provider.unwrap(bytes(tampered), context=CTX)


def test_another_master_key_is_named_as_such(tmp_path: Path) -> None:
    a = LocalKeyFileProvider(tmp_path / "a.key")
    b = LocalKeyFileProvider(tmp_path / "b.key")
    blob = a.wrap(os.urandom(32), context=CTX)
    with pytest.raises(WrongMasterKey, match=a.key_id):
        b.unwrap(blob, context=CTX)


def test_pending_next_key_is_accepted_for_unwrapping(tmp_path: Path) -> None:
    """A crash between the rotation's commit and the file rename must not lock data out."""
    path = tmp_path / "m.key"
    old = LocalKeyFileProvider(path)
    new = LocalKeyFileProvider(tmp_path / "m.key.next")
    key = os.urandom(32)
    by_new = new.wrap(key, context=CTX)
    reopened = LocalKeyFileProvider(path)
    assert reopened.key_id == old.key_id  # still wraps with the current key
    assert reopened.unwrap(by_new, context=CTX) == key


def test_unknown_provider_is_a_config_error(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key provider 'aws-kms'; known: .*local"):
        open_provider("aws-kms:arn:aws:kms:eu-west-1:1:key/x", data_dir)
    default = open_provider("local", data_dir)
    assert isinstance(default, LocalKeyFileProvider)
    assert default.path == data_dir / "keys" / "vault-master.key"
    explicit = open_provider(f"local:{data_dir / 'other.key'}", data_dir)
    assert isinstance(explicit, LocalKeyFileProvider)
    assert explicit.path == data_dir / "other.key"


def test_a_registered_provider_scheme_is_used(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "_PROVIDERS", dict(keys._PROVIDERS))
    seen = []

    def factory(argument: str, d: Path) -> KeyProvider:
        seen.append(argument)
        return LocalKeyFileProvider(d / "plugged.key")

    register_provider("test-plugin", factory)
    provider = open_provider("test-plugin:key-42", data_dir)
    assert seen == ["key-42"] and isinstance(provider, LocalKeyFileProvider)


def test_envelope_layout_and_layer_separation() -> None:
    key = new_key()
    aad = context("object", "id", 1)
    blob = seal(key, Purpose.VAULT_DATA, b"hello", aad)
    assert blob[0] == FORMAT_V1 and blob[1] == Purpose.VAULT_DATA
    assert len(blob) == 2 + 12 + len(b"hello") + 16
    assert open_sealed(key, Purpose.VAULT_DATA, blob, aad) == b"hello"
    with pytest.raises(VaultIntegrityError, match="another key layer"):
        open_sealed(key, Purpose.VAULT_SUBJECT_WRAP, blob, aad)
    # the header is authenticated: relabelling the layer cannot be made to pass
    relabelled = bytes([FORMAT_V1, Purpose.VAULT_SUBJECT_WRAP]) + blob[2:]
    with pytest.raises(VaultIntegrityError):
        open_sealed(key, Purpose.VAULT_SUBJECT_WRAP, relabelled, aad)
    with pytest.raises(VaultIntegrityError, match="version"):
        open_sealed(key, Purpose.VAULT_DATA, bytes([2]) + blob[1:], aad)
    with pytest.raises(VaultIntegrityError, match="truncated"):
        open_sealed(key, Purpose.VAULT_DATA, blob[:20], aad)
    wipe(key)
    assert key == bytearray(32)


def test_context_is_unambiguous() -> None:
    assert context("x", "ab", "c") != context("x", "a", "bc")
    assert context("x", 1) != context("x", "1")
