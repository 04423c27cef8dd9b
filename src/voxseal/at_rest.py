"""Sealing at rest: the one AES-256-GCM envelope every stored secret uses.

The vault's key hierarchy (master key → subject key → data key → payload) and the directory's
TOTP secrets are sealed the same way, so there is one format to review::

    version (1 byte) | purpose (1 byte) | nonce (12 bytes) | ciphertext + tag (16 bytes)

Why this shape:

* the **header is associated data**: the version and purpose bytes are authenticated together
  with the caller's context, so relabelling a blob (another version, another purpose) makes it
  fail to open rather than be read under rules it was not written for;
* the **purpose** byte keeps uses apart: a wrapped data key never opens as a payload, a vault
  blob never as a TOTP secret, even under the same key (see :class:`Purpose` for who owns which);
* the caller's **associated data** binds a blob to where it belongs (a principal id, a subject
  id and key version, an object's identity), so a blob copied onto another row does not open;
* a **random 96-bit nonce** per value is safe because no key comes near the 2**32 values
  NIST SP 800-38D allows for random nonces (a data key seals one payload, a subject key its
  data keys, the directory's key one TOTP secret per enrolment).

Keys are passed in, never stored here; :func:`new_key` returns a mutable buffer so the caller
can :func:`wipe` it when done. Sans-I/O: no files, no clock.

Why this is a ground-floor module and not part of :mod:`voxseal.crypto`: the gateway process
must be able to seal at rest (vault, TOTP secrets) while it is *unable* to import the
end-to-end encryption core (:func:`voxseal.media.sfu.forbid_sframe` refuses the whole
``voxseal.crypto`` package there, so the relay provably holds no SFrame key).
"""

from __future__ import annotations

import os
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voxseal.errors import CryptoError

__all__ = [
    "FORMAT_V1",
    "HEADER_BYTES",
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "Purpose",
    "SealedValueInvalid",
    "new_key",
    "open_sealed",
    "seal",
    "wipe",
]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 2

#: the envelope format version (first byte of every sealed value)
FORMAT_V1 = 0x01


class Purpose(IntEnum):
    """The second header byte: what a sealed value is. One value per use, never shared."""

    #: a vault subject key wrapped by the local master key (``vault.keys.LocalKeyFileProvider``)
    VAULT_MASTER_WRAP = ord("M")
    #: a vault object's data key wrapped by its subject key
    VAULT_SUBJECT_WRAP = ord("S")
    #: a vault object's payload under its data key
    VAULT_DATA = ord("D")
    #: a directory secret that must be read back, such as a TOTP secret (``identity.sealing``)
    IDENTITY_SECRET = ord("I")


class SealedValueInvalid(CryptoError):
    """A sealed value did not open: truncated, another version or purpose, tampered, wrong key.

    The message says which check failed (length, version, purpose, authentication), never
    anything about the key or the plaintext.
    """

    reason = "sealed_value_invalid"


def _header(purpose: Purpose | int) -> bytes:
    return bytes((FORMAT_V1, Purpose(purpose)))


def _aead(key: bytes | bytearray) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise CryptoError(
            f"at-rest keys are {KEY_BYTES} bytes, not {len(key)}", reason="invalid_key"
        )
    return AESGCM(bytes(key))


def seal(key: bytes | bytearray, purpose: Purpose | int, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM under ``key`` with a fresh nonce; header and ``aad`` are authenticated."""
    header = _header(purpose)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + _aead(key).encrypt(nonce, plaintext, header + aad)


def open_sealed(key: bytes | bytearray, purpose: Purpose | int, blob: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`seal`; any mismatch is :class:`SealedValueInvalid`."""
    blob = bytes(blob)
    if len(blob) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES:
        raise SealedValueInvalid("sealed value is truncated")
    if blob[0] != FORMAT_V1:
        raise SealedValueInvalid(f"unsupported at-rest format version {blob[0]}")
    if blob[1] != Purpose(purpose):
        raise SealedValueInvalid("sealed value belongs to another key layer or purpose")
    header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    try:
        return _aead(key).decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + aad)
    except InvalidTag:
        raise SealedValueInvalid("sealed value failed authentication") from None


def new_key() -> bytearray:
    """A random 256-bit key in a mutable buffer, so :func:`wipe` can overwrite it."""
    return bytearray(AESGCM.generate_key(bit_length=256))


def wipe(buf: bytearray | None) -> None:
    """Overwrite a key buffer in place (best effort: Python may hold transient copies)."""
    if buf is not None:
        buf[:] = bytes(len(buf))
