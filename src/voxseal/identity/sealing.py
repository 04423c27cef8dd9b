"""Encryption at rest for the few secrets the directory must be able to read back.

A password or an API key can be stored as a hash, but a TOTP secret cannot: the server needs it
to compute codes. So it is sealed in the at-rest envelope (:mod:`voxseal.at_rest`:
AES-256-GCM, header authenticated, purpose :attr:`~voxseal.at_rest.Purpose.IDENTITY_SECRET`)
under a key that lives in a 0600 file in the data dir, not in the database: a stolen database
dump (or backup) alone does not yield anyone's second factor. The caller's context (the
principal id) is associated data, so a sealed secret copied onto another row does not open.

Before the shared envelope, secrets were sealed as ``0x01 | nonce | ciphertext`` with only the
context as associated data (the version byte was not authenticated). :meth:`SecretSealer.open`
refuses that format; only :meth:`SecretSealer.reseal_legacy`, which the one-time upgrade in
:mod:`voxseal.identity.upgrades` calls, still reads it.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voxseal.at_rest import (
    KEY_BYTES,
    NONCE_BYTES,
    TAG_BYTES,
    Purpose,
    SealedValueInvalid,
    new_key,
    open_sealed,
    seal,
)
from voxseal.errors import ConfigError
from voxseal.keyfiles import check_private_file, write_private_file

#: the first byte of the pre-envelope format (unauthenticated)
_LEGACY_VERSION = 0x01


class SecretSealer:
    """The directory's at-rest key: seals and opens secrets bound to a context string."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError("identity.sealing_key", f"must be {KEY_BYTES} bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "SecretSealer(<key hidden>)"

    @classmethod
    def generate(cls) -> SecretSealer:
        return cls(bytes(new_key()))

    @classmethod
    def from_file(cls, path: Path) -> SecretSealer:
        """The key at ``path`` (raw 32 bytes, mode 0600), created on first use.

        In a cluster every node must use the same file (like the token signing key).
        """
        if not path.exists():
            write_private_file(path, bytes(new_key()))
        check_private_file(path)
        return cls(path.read_bytes())

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return seal(self._key, Purpose.IDENTITY_SECRET, plaintext, context.encode())

    def open(self, blob: bytes, *, context: str) -> bytes:
        """The secret; :class:`~voxseal.at_rest.SealedValueInvalid` (a CryptoError)
        for anything else, including a value in the pre-envelope format."""
        return open_sealed(self._key, Purpose.IDENTITY_SECRET, blob, context.encode())

    def reseal_legacy(self, blob: bytes, *, context: str) -> bytes | None:
        """``blob`` re-sealed in the current envelope if it is in the pre-envelope format.

        None when it already opens in the current format (nothing to do). Raises
        :class:`~voxseal.at_rest.SealedValueInvalid` when it opens in neither: GCM's
        tag decides which format a blob is in, so one can never be mistaken for the other.
        Only the start-up upgrade calls this; normal reads go through :meth:`open`.
        """
        blob = bytes(blob)
        try:
            self.open(blob, context=context)
            return None
        except SealedValueInvalid:
            pass
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES or blob[0] != _LEGACY_VERSION:
            raise SealedValueInvalid("sealed value is in no known format")
        try:
            plaintext = AESGCM(self._key).decrypt(
                blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], context.encode()
            )
        except InvalidTag:
            raise SealedValueInvalid("sealed value does not open with this key") from None
        return self.seal(plaintext, context=context)
