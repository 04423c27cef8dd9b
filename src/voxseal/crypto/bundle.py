"""Sealed sender-key bundles: how an SFrame base key reaches each participant via the gateway.

A sender picks a fresh random base key per epoch and, for every admitted participant, builds
one bundle: the base key sealed with HPKE (RFC 9180, base mode, single shot) to that
participant's X-Wing KEM key, bound to its context and signed by the sender's identity. The
gateway relays bundles as opaque blobs; it can drop or delay them but cannot read, alter,
redirect or replay them into another room, to another participant or into an older epoch.

HPKE suite: KEM ``MLKEM768_X25519`` (X-Wing; hybrid, so the sealed key stays secret if *either*
ML-KEM-768 or X25519 holds — harvest-now-decrypt-later is the threat to recorded key traffic),
KDF ``HKDF_SHA256`` (the KDF X-Wing's HPKE profile is specified and analysed with; its 256-bit
output matches the 32-byte shared secret), AEAD ``AES_256_GCM`` (hardware AES everywhere we
run, and a 256-bit key keeps a comfortable margin against Grover-style key search on material
that must stay secret for years).

Wire format, version 1 (big-endian, length-prefixed, no optional fields)::

    version u8 = 1 | cipher_suite u8 | epoch u64 | kid u64 | expires_at u64 (unix seconds)
    room u8-len || UTF-8 | sender u8-len || did:key | recipient u8-len || did:key
    sealed u16-len || HPKE enc (1120) || AEAD(base key) (16..64 + 16)
    signature u16-len || Ed25519 (64) or Ed25519 + ML-DSA-65 (3373)

Binding: the HPKE ``info`` is a label plus every byte before ``sealed`` (version, suite, epoch,
KID, expiry, room, sender, recipient), so a sealed key opens only in exactly that context; the
signature covers every byte before ``signature``. The parser is strict: a size cap checked
before parsing, exact lengths, no trailing bytes, nothing optional.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from voxseal.crypto.errors import (
    BundleError,
    BundleExpired,
    KeyIdConflict,
    MalformedBundle,
    StaleEpoch,
    UnknownSender,
    UnsupportedCipherSuite,
    UnsupportedVersion,
    WrongRecipient,
    WrongRoom,
)
from voxseal.crypto.keys import HYBRID_SIGNATURE_SIZE, Identity, PublicIdentity
from voxseal.crypto.sframe import MAX_KID, suite_params
from voxseal.crypto.xwing import CIPHERTEXT_SIZE

__all__ = [
    "BUNDLE_VERSION",
    "HPKE_SUITE",
    "MAX_BUNDLE_SIZE",
    "SenderKey",
    "SenderKeyBundle",
    "SenderKeyInbox",
    "UnsealFailed",
    "open_bundle",
    "seal_bundle",
    "seal_for_participants",
]

BUNDLE_VERSION: Final = 1
HPKE_SUITE: Final = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
)
_INFO_LABEL: Final = b"voxseal sender key v1\x00"
_SIGNATURE_CONTEXT: Final = b"voxseal sender-key bundle v1"
_FIXED: Final = struct.Struct(">BBQQQ")
MIN_BASE_KEY: Final = 16
MAX_BASE_KEY: Final = 64
_AEAD_TAG: Final = 16
#: generous for a hybrid signature and 255-byte strings, small enough to refuse junk early
MAX_BUNDLE_SIZE: Final = (
    (_FIXED.size + 3 * 256 + 2 + CIPHERTEXT_SIZE + MAX_BASE_KEY + _AEAD_TAG)
    + 2
    + HYBRID_SIGNATURE_SIZE
)


class UnsealFailed(BundleError):
    """The HPKE ciphertext did not open (tampered, or not sealed to our KEM key)."""

    reason = "bundle_unseal_failed"


@dataclass(frozen=True, slots=True)
class SenderKey:
    """An opened bundle: what a receiver installs (``Receiver.add_key(kid, base_key)``).

    ``base_key`` is secret and excluded from ``repr``.
    """

    sender: str
    room_id: str
    epoch: int
    kid: int
    cipher_suite: int
    expires_at: int
    base_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SenderKeyBundle:
    """A parsed (not yet verified or opened) bundle; see :func:`open_bundle`."""

    version: int
    cipher_suite: int
    epoch: int
    kid: int
    expires_at: int
    room_id: str
    sender: str
    recipient: str
    sealed: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def context_bytes(self) -> bytes:
        """Everything before ``sealed``: what HPKE ``info`` binds."""
        return (
            _FIXED.pack(self.version, self.cipher_suite, self.epoch, self.kid, self.expires_at)
            + _short(self.room_id.encode())
            + _short(self.sender.encode())
            + _short(self.recipient.encode())
        )

    def signed_bytes(self) -> bytes:
        return self.context_bytes() + _long(self.sealed)

    def encode(self) -> bytes:
        return self.signed_bytes() + _long(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> SenderKeyBundle:
        """Strictly parse one bundle; refuse oversized, truncated or trailing input."""
        data = bytes(data)
        if len(data) > MAX_BUNDLE_SIZE:
            raise MalformedBundle("bundle larger than the size limit")
        if not data:
            raise MalformedBundle("empty bundle")
        if data[0] != BUNDLE_VERSION:
            raise UnsupportedVersion(data[0])
        reader = _Reader(data)
        version, suite, epoch, kid, expires_at = reader.fixed()
        room = reader.text(1)
        sender = reader.text(1)
        recipient = reader.text(1)
        sealed = reader.chunk(2)
        signature = reader.chunk(2)
        reader.end()
        try:
            suite_params(suite)
        except UnsupportedCipherSuite:
            raise MalformedBundle("bundle names an unknown SFrame cipher suite") from None
        if kid > MAX_KID:
            raise MalformedBundle("KID out of range")
        key_len = len(sealed) - CIPHERTEXT_SIZE - _AEAD_TAG
        if not MIN_BASE_KEY <= key_len <= MAX_BASE_KEY:
            raise MalformedBundle("sealed key has the wrong length")
        if not room or not sender or not recipient:
            raise MalformedBundle("empty room or participant")
        return cls(
            version, suite, epoch, kid, expires_at, room, sender, recipient, sealed, signature
        )


def _short(b: bytes) -> bytes:
    if len(b) > 255:
        raise ValueError("field longer than 255 bytes")
    return bytes((len(b),)) + b


def _long(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise ValueError("field longer than 65535 bytes")
    return len(b).to_bytes(2, "big") + b


class _Reader:
    """A cursor that raises :class:`MalformedBundle` on any overrun."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise MalformedBundle("truncated bundle")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def fixed(self) -> tuple[int, int, int, int, int]:
        return _FIXED.unpack(self._take(_FIXED.size))

    def chunk(self, len_bytes: int) -> bytes:
        return self._take(int.from_bytes(self._take(len_bytes), "big"))

    def text(self, len_bytes: int) -> str:
        try:
            return self.chunk(len_bytes).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise MalformedBundle("bundle text field is not UTF-8") from None

    def end(self) -> None:
        if self._pos != len(self._data):
            raise MalformedBundle("trailing bytes after bundle")


def _hpke_info(context: bytes) -> bytes:
    return _INFO_LABEL + context


def seal_bundle(
    sender: Identity,
    recipient: PublicIdentity,
    *,
    room_id: str,
    epoch: int,
    kid: int,
    cipher_suite: int,
    base_key: bytes,
    expires_at: int,
) -> bytes:
    """Seal ``base_key`` for one recipient, bound to the room/epoch/KID/expiry, and sign it."""
    suite_params(cipher_suite)
    if not MIN_BASE_KEY <= len(base_key) <= MAX_BASE_KEY:
        raise ValueError(f"base key must be {MIN_BASE_KEY}..{MAX_BASE_KEY} bytes")
    if not 0 <= epoch < 2**64 or not 0 <= kid <= MAX_KID or not 0 <= expires_at < 2**64:
        raise ValueError("epoch, KID or expiry out of range")
    unsigned = SenderKeyBundle(
        BUNDLE_VERSION,
        int(cipher_suite),
        epoch,
        kid,
        int(expires_at),
        room_id,
        sender.did,
        recipient.did,
        b"",
        b"",
    )
    context = unsigned.context_bytes()
    sealed = HPKE_SUITE.encrypt(
        bytes(base_key), recipient.kem_public_key.hpke_public_key(), info=_hpke_info(context)
    )
    signed = context + _long(sealed)
    return signed + _long(sender.sign(signed, context=_SIGNATURE_CONTEXT))


def seal_for_participants(
    sender: Identity,
    recipients: Iterable[PublicIdentity],
    *,
    room_id: str,
    epoch: int,
    kid: int,
    cipher_suite: int,
    base_key: bytes,
    expires_at: int,
) -> dict[str, bytes]:
    """One bundle per recipient (never to the sender itself), keyed by recipient DID."""
    return {
        r.did: seal_bundle(
            sender,
            r,
            room_id=room_id,
            epoch=epoch,
            kid=kid,
            cipher_suite=cipher_suite,
            base_key=base_key,
            expires_at=expires_at,
        )
        for r in recipients
        if r.did != sender.did
    }


def open_bundle(
    data: bytes,
    *,
    recipient: Identity,
    sender: PublicIdentity,
    room_id: str,
    now: float,
    min_epoch: int = 0,
) -> SenderKey:
    """Check and open one bundle addressed to ``recipient`` from ``sender`` in ``room_id``.

    Refusals, in order: malformed/oversized/unknown version, wrong recipient, wrong room,
    unexpected sender, bad signature, expired (``now`` is passed in: sans-I/O), older than
    ``min_epoch`` (no rollback), and finally a sealed key that does not open.
    """
    bundle = SenderKeyBundle.decode(data)
    if not hmac.compare_digest(bundle.recipient.encode(), recipient.did.encode()):
        raise WrongRecipient(f"bundle is addressed to {bundle.recipient}")
    if bundle.room_id != room_id:
        raise WrongRoom(f"bundle belongs to room {bundle.room_id!r}")
    if bundle.sender != sender.did:
        raise UnknownSender(f"bundle claims sender {bundle.sender}")
    sender.verify(bundle.signature, bundle.signed_bytes(), context=_SIGNATURE_CONTEXT)
    if bundle.expires_at <= now:
        raise BundleExpired(f"bundle for epoch {bundle.epoch} expired at {bundle.expires_at}")
    if bundle.epoch < min_epoch:
        raise StaleEpoch(bundle.epoch, min_epoch)
    try:
        base_key = HPKE_SUITE.decrypt(
            bundle.sealed,
            recipient.kem_private_key().hpke_private_key(),
            info=_hpke_info(bundle.context_bytes()),
        )
    except (InvalidTag, ValueError):
        raise UnsealFailed("sealed sender key did not open") from None
    return SenderKey(
        bundle.sender,
        bundle.room_id,
        bundle.epoch,
        bundle.kid,
        bundle.cipher_suite,
        bundle.expires_at,
        base_key,
    )


class SenderKeyInbox:
    """Opens bundles for one recipient in one room and refuses rollback per sender.

    Remembers the newest epoch accepted from each sender. An older epoch is refused
    (:class:`StaleEpoch`); the same epoch again is accepted only if it carries the same KID and
    key (a retransmission), because two different keys for one epoch would mean an equivocating
    sender or a replayed, superseded bundle.
    """

    __slots__ = ("_latest", "_recipient", "_room")

    def __init__(self, recipient: Identity, room_id: str) -> None:
        self._recipient = recipient
        self._room = room_id
        self._latest: dict[str, SenderKey] = {}

    def __repr__(self) -> str:
        return f"SenderKeyInbox({self._recipient.did}, room={self._room!r})"

    def current_epoch(self, sender_did: str) -> int | None:
        latest = self._latest.get(sender_did)
        return latest.epoch if latest else None

    def open(
        self,
        data: bytes,
        sender: PublicIdentity,
        *,
        now: float,
        kid_allowed: Callable[[int], bool] | None = None,
    ) -> SenderKey:
        """Open, check against what this sender sent before, and remember it.

        ``kid_allowed`` is the caller's rule for which KIDs this sender may use (the room's
        KID layout): checked *before* the epoch is remembered, so a refused bundle leaves no
        trace that could make the sender's next, correct bundle look like equivocation.
        """
        latest = self._latest.get(sender.did)
        key = open_bundle(
            data,
            recipient=self._recipient,
            sender=sender,
            room_id=self._room,
            now=now,
            min_epoch=latest.epoch if latest else 0,
        )
        if latest is not None and key.epoch == latest.epoch:
            same = key.kid == latest.kid and hmac.compare_digest(key.base_key, latest.base_key)
            if not same:
                raise StaleEpoch(key.epoch, latest.epoch + 1)
        if kid_allowed is not None and not kid_allowed(key.kid):
            raise KeyIdConflict(f"KID {key.kid} is not one this sender may use")
        self._latest[sender.did] = key
        return key

    def forget(self, sender_did: str) -> None:
        """Drop what we remember of a sender that left."""
        self._latest.pop(sender_did, None)
