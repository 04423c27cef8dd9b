"""The vault's key hierarchy: master key (KEK) → per-subject key → per-object data key.

Why three levels:

* the **master key** never touches data; it only wraps subject keys, so rotating it rewrites a
  few hundred bytes per subject and never a recording;
* a **subject key** per data subject is what crypto-shredding destroys: one small row, and every
  object of that subject is unreadable forever, without finding every copy of every object;
* a **data key** per object means no AES-GCM key ever encrypts more than one payload, so random
  96-bit nonces are safe and one object's compromise says nothing about another's.

Every wrap and every payload is sealed in the one at-rest envelope (:mod:`voxseal.at_rest`:
AES-256-GCM, the version and layer bytes authenticated) whose associated data binds it to where
it belongs (subject id and key version; object id, subject, kind, content type, metadata). A
wrapped key or ciphertext copied onto another row therefore fails to open instead of
decrypting under the wrong identity.

The master key comes from a :class:`KeyProvider`. The default is
:class:`LocalKeyFileProvider` (a 0600 file in the data dir). A KMS or HSM plugs in by
implementing the same three members — see :class:`KeyProvider` — and registering a scheme with
:func:`register_provider`; nothing else in the vault changes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from voxseal import at_rest
from voxseal.at_rest import KEY_BYTES, Purpose, SealedValueInvalid, seal
from voxseal.errors import ConfigError, CryptoError, VoxsealError
from voxseal.keyfiles import check_private_file, write_private_file

_KEY_ID_BYTES = 8

# -- errors -------------------------------------------------------------------------------------


class VaultError(VoxsealError):
    """Root of the vault's own refusals."""

    reason = "vault_error"


class VaultIntegrityError(CryptoError):
    """A wrapped key or ciphertext failed authentication: tampered, moved or corrupted.

    Deliberately one type for every layer: a caller learns *that* the stored object is not
    what was written, never which byte or key differed.
    """

    reason = "vault_integrity_failed"
    http_status = 500


class WrongMasterKey(VaultIntegrityError):
    """The configured master key is not the one that wrapped this subject key."""

    reason = "vault_wrong_master_key"


class ObjectShredded(VaultError):
    """The subject's key was destroyed (crypto-shredding): the object can never be read again."""

    reason = "vault_object_shredded"
    http_status = 410


class VaultUnavailable(VaultError):
    reason = "vault_unavailable"
    http_status = 503


# -- associated data ----------------------------------------------------------------------------


def context(label: str, *fields: str | int) -> bytes:
    """Unambiguous associated data: a label, then each field length-prefixed.

    Length prefixes make ``("ab", "c")`` and ``("a", "bc")`` differ, so no two different
    bindings can ever produce the same bytes.
    """
    out = bytearray(b"voxseal/vault/v1/")
    out += label.encode()
    for f in fields:
        raw = struct.pack(">q", f) if isinstance(f, int) else f.encode("utf-8")
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


def subject_key_context(subject_id: str, version: int) -> bytes:
    return context("subject-key", subject_id, version)


# -- opening sealed blobs (the envelope is voxseal.at_rest's) --------------------------------------


def open_sealed(key: bytes | bytearray, layer: Purpose, blob: bytes, aad: bytes) -> bytes:
    """:func:`voxseal.at_rest.open_sealed`, refusing as :class:`VaultIntegrityError`.

    The vault's callers (and a KMS plug-in's) catch one integrity error for every layer.
    """
    try:
        return at_rest.open_sealed(key, layer, blob, aad)
    except SealedValueInvalid as exc:
        raise VaultIntegrityError(str(exc)) from None


# -- the master key interface -------------------------------------------------------------------


@runtime_checkable
class KeyProvider(Protocol):
    """Where the master key (KEK) lives. The vault only ever asks for these three things.

    A KMS/HSM implementation (AWS KMS ``Encrypt``/``Decrypt`` with an encryption context,
    GCP KMS with additional authenticated data, a PKCS#11 ``C_WrapKey`` with AES-GCM, Vault
    Transit with ``context``) must honour this contract:

    * ``key_id`` names the key that :meth:`wrap` uses *now* (stable, not secret, ≤ 200
      characters); it is stored next to each wrapped subject key so a rotation knows what to
      re-wrap and an operator can see which master key protects which row;
    * :meth:`wrap` returns an opaque blob that only this provider can open, authenticated with
      ``context`` as associated data (a KMS "encryption context"): the same key wrapped for
      subject A must not unwrap as subject B;
    * :meth:`unwrap` returns the key, or raises :class:`WrongMasterKey` if the blob was wrapped
      by a master key the provider does not hold, and :class:`VaultIntegrityError` if it was
      altered or ``context`` differs. It must never return wrong bytes.

    Keys passed in and out are 32 bytes. Providers must not log or cache them.
    """

    @property
    def key_id(self) -> str: ...

    def wrap(self, key: bytes, *, context: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, *, context: bytes) -> bytes: ...


def _derive(master: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


class LocalKeyFileProvider:
    """The default master key: 32 random bytes in a 0600 file, created on first use.

    The file's key is never used directly: HKDF derives a wrapping key and a public key id
    from it (domain separation). Blobs carry the 8-byte key id in their header, so a blob from
    another master key is refused as :class:`WrongMasterKey` rather than as tampering.

    ``<path>.next``, when present, is the key a master-key rotation is moving to (see
    :func:`rotate_local_master_key`); it is accepted for unwrapping so that a crash between
    the database commit and the file rename never locks data out.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        primary = _load_or_create(self.path, create=create)
        self._keys: dict[bytes, bytes] = {}
        self._primary_id = self._add(primary)
        pending = next_key_path(self.path)
        if pending.exists():
            self._add(_load_or_create(pending, create=False))

    def _add(self, master: bytes) -> bytes:
        kid = _derive(master, b"voxseal vault master key id v1", _KEY_ID_BYTES)
        self._keys[kid] = _derive(master, b"voxseal vault subject-key wrapping v1")
        return kid

    def __repr__(self) -> str:
        return f"LocalKeyFileProvider({str(self.path)!r}, key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        return f"local:{self._primary_id.hex()}"

    def wrap(self, key: bytes, *, context: bytes) -> bytes:
        if len(key) != KEY_BYTES:
            raise CryptoError("vault keys are 32 bytes", reason="invalid_key")
        aad = self._primary_id + context
        return self._primary_id + seal(
            self._keys[self._primary_id], Purpose.VAULT_MASTER_WRAP, bytes(key), aad
        )

    def unwrap(self, blob: bytes, *, context: bytes) -> bytes:
        blob = bytes(blob)
        kid, sealed = blob[:_KEY_ID_BYTES], blob[_KEY_ID_BYTES:]
        wrapping = self._keys.get(kid)
        if wrapping is None:
            raise WrongMasterKey(
                f"subject key was wrapped by master key local:{kid.hex()}, not {self.key_id}"
            )
        return open_sealed(wrapping, Purpose.VAULT_MASTER_WRAP, sealed, kid + context)


def next_key_path(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def _load_or_create(path: Path, *, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise ConfigError("vault.key_provider", f"master key file {path} does not exist")
        write_private_file(path, AESGCM.generate_key(bit_length=256))
    check_private_file(path)
    raw = path.read_bytes()
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            "vault.key_provider", f"master key file {path} must hold exactly {KEY_BYTES} bytes"
        )
    return raw


# -- choosing a provider from configuration -----------------------------------------------------

#: ``scheme -> factory(argument, data_dir)``; a KMS plug-in adds its scheme here
ProviderFactory = Callable[[str, Path], KeyProvider]

DEFAULT_MASTER_KEY_FILE = "vault-master.key"


def _local_factory(argument: str, data_dir: Path) -> KeyProvider:
    path = Path(argument).expanduser() if argument else data_dir / "keys" / DEFAULT_MASTER_KEY_FILE
    return LocalKeyFileProvider(path)


_PROVIDERS: dict[str, ProviderFactory] = {"local": _local_factory}


def register_provider(scheme: str, factory: ProviderFactory) -> None:
    """Make ``<scheme>:<argument>`` a valid ``vault.key_provider`` setting."""
    _PROVIDERS[scheme] = factory


def known_providers() -> Iterable[str]:
    return sorted(_PROVIDERS)


def open_provider(spec: str, data_dir: Path) -> KeyProvider:
    """The provider named by a ``vault.key_provider`` setting: ``local`` or ``local:/path``.

    An unknown scheme is a :class:`ConfigError` at start-up — never a silent fallback to the
    local file, which would quietly move the master key out of the KMS an operator chose.
    """
    scheme, _, argument = spec.strip().partition(":")
    factory = _PROVIDERS.get(scheme)
    if factory is None:
        raise ConfigError(
            "vault.key_provider",
            f"unknown key provider {scheme!r}; known: {', '.join(known_providers())}",
        )
    return factory(argument, data_dir)
