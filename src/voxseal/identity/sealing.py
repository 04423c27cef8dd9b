"""Encryption at rest for the few secrets the directory must be able to read back.

A password or an API key can be stored as a hash, but a TOTP secret cannot: the server needs it
to compute codes. So it is sealed with AES-256-GCM under a key that lives in a 0600 file in the
data dir, not in the database: a stolen database dump (or backup) alone does not yield anyone's
second factor. The principal id is the associated data, so a sealed secret copied onto another
row does not open.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voxseal.errors import ConfigError, CryptoError
from voxseal.keyfiles import check_private_file, write_private_file

_VERSION = b"\x01"
KEY_BYTES = 32


class SecretSealer:
    """AES-256-GCM with a random 96-bit nonce per value (few values: no nonce-reuse risk)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError("identity.sealing_key", f"must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretSealer(<key hidden>)"

    @classmethod
    def generate(cls) -> SecretSealer:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_file(cls, path: Path) -> SecretSealer:
        """The key at ``path`` (raw 32 bytes, mode 0600), created on first use.

        In a cluster every node must use the same file (like the token signing key).
        """
        if not path.exists():
            write_private_file(path, AESGCM.generate_key(bit_length=256))
        check_private_file(path)
        return cls(path.read_bytes())

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, blob: bytes, *, context: str) -> bytes:
        blob = bytes(blob)
        if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
            raise CryptoError("sealed value is malformed", reason="sealed_value_invalid")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], context.encode())
        except InvalidTag:
            raise CryptoError(
                "sealed value does not open with this key", reason="sealed_value_invalid"
            ) from None
