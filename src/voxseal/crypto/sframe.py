"""SFrame (RFC 9605): end-to-end encryption of media frames, sans-I/O.

Two layers live here:

* a **functional layer** that follows the RFC line by line (:func:`encode_header`,
  :func:`decode_header`, :func:`derive_key_salt`, :func:`encrypt`, :func:`decrypt`) and is tested
  against every official vector, and
* a **stateful layer** for real streams: :class:`Sender` (one KID, a counter that never wraps)
  and :class:`Receiver` (keys by KID in a bounded store, a per-KID replay window, a forward
  ratchet so a sender can roll its key without a round trip, and keys wiped when retired).

Why it looks the way it does:

* Nothing is hand-rolled. AES-GCM, AES-CTR, HMAC and HKDF come from ``cryptography``; this module
  only composes them as RFC 9605 §4.4 and §4.5 say.
* The hot path (:meth:`Sender.protect` / :meth:`Receiver.unprotect`) runs once per 20 ms audio
  frame per participant, so everything that depends only on the key (derived key, salt, AEAD
  object, header prefixes) is computed once per KID and cached; per frame we do one XOR, one
  ``int.to_bytes`` and one AEAD call.
* Every refusal is a typed :class:`~voxseal.crypto.errors.FrameError`; exception messages carry
  the KID/CTR only, never keys, tags or plaintext.
"""

from __future__ import annotations

import hmac as _std_hmac
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Protocol, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from voxseal.crypto.errors import (
    AuthenticationFailed,
    CounterExhausted,
    InvalidKey,
    MalformedFrame,
    MalformedHeader,
    ReplayDetected,
    UnknownKey,
    UnsupportedCipherSuite,
)

__all__ = [
    "DEFAULT_MAX_KEYS",
    "DEFAULT_REPLAY_WINDOW",
    "MAX_COUNTER",
    "MAX_KID",
    "CipherSuite",
    "Receiver",
    "Sender",
    "SuiteParams",
    "decode_header",
    "decrypt",
    "derive_key_salt",
    "derive_secret",
    "encode_header",
    "encrypt",
    "ratchet_base_key",
    "suite_params",
]

_from_bytes: Final = int.from_bytes

#: what the API accepts for keys, frames and metadata (``collections.abc.Buffer`` is 3.12+)
Buffer: TypeAlias = bytes | bytearray | memoryview

#: KID and CTR are at most 8 bytes on the wire (3-bit length field, RFC 9605 §4.3)
MAX_KID: Final = (1 << 64) - 1
MAX_COUNTER: Final = (1 << 64) - 1
#: audio at 50 frames/s tolerates ~2.5 s of reordering with 128 (the issue's default)
DEFAULT_REPLAY_WINDOW: Final = 128
#: enough for a large call (senders x a retained previous ratchet step) while bounding memory
DEFAULT_MAX_KEYS: Final = 256


class CipherSuite(IntEnum):
    """The RFC 9605 §8.1 registry, by its integer ids."""

    AES_128_CTR_HMAC_SHA256_80 = 0x0001
    AES_128_CTR_HMAC_SHA256_64 = 0x0002
    AES_128_CTR_HMAC_SHA256_32 = 0x0003
    AES_128_GCM_SHA256_128 = 0x0004
    AES_256_GCM_SHA512_128 = 0x0005


@dataclass(frozen=True, slots=True)
class SuiteParams:
    """Sizes of one suite (RFC 9605 §4.5): Nh hash, Nk key, Nn nonce, Nt tag, Nka enc key."""

    suite: CipherSuite
    hash_factory: Callable[[], hashes.HashAlgorithm]
    nh: int
    nk: int
    nn: int
    nt: int
    #: AES key length inside ``nk`` for the CTR+HMAC suites (the rest is the HMAC key)
    nka: int
    gcm: bool


_SUITES: Final[dict[int, SuiteParams]] = {
    1: SuiteParams(CipherSuite(1), hashes.SHA256, 32, 48, 12, 10, 16, False),
    2: SuiteParams(CipherSuite(2), hashes.SHA256, 32, 48, 12, 8, 16, False),
    3: SuiteParams(CipherSuite(3), hashes.SHA256, 32, 48, 12, 4, 16, False),
    4: SuiteParams(CipherSuite(4), hashes.SHA256, 32, 16, 12, 16, 16, True),
    5: SuiteParams(CipherSuite(5), hashes.SHA512, 64, 32, 12, 16, 32, True),
}


def suite_params(cipher_suite: int) -> SuiteParams:
    """Look a suite up by its RFC id; refuse ids the RFC does not define."""
    try:
        return _SUITES[cipher_suite]
    except (KeyError, TypeError):
        raise UnsupportedCipherSuite(cipher_suite) from None


# --- header (RFC 9605 §4.3) ------------------------------------------------------------------


def _min_len(value: int) -> int:
    """Minimum number of big-endian bytes for ``value`` (at least one)."""
    return max(1, (value.bit_length() + 7) >> 3)


def encode_header(kid: int, ctr: int) -> bytes:
    """Encode the SFrame header: config byte ``X K(3) Y C(3)``, then KID, then CTR.

    Values 0-7 ride in the config byte; larger ones use the minimum number of bytes, as the
    RFC requires, so every (KID, CTR) has exactly one encoding.
    """
    if not 0 <= kid <= MAX_KID:
        raise ValueError("KID out of range 0..2**64-1")
    if not 0 <= ctr <= MAX_COUNTER:
        raise ValueError("CTR out of range 0..2**64-1")
    if kid < 8:
        config = kid << 4
        kid_bytes = b""
    else:
        n = _min_len(kid)
        config = 0x80 | ((n - 1) << 4)
        kid_bytes = kid.to_bytes(n, "big")
    if ctr < 8:
        config |= ctr
        ctr_bytes = b""
    else:
        n = _min_len(ctr)
        config |= 0x08 | (n - 1)
        ctr_bytes = ctr.to_bytes(n, "big")
    return bytes((config,)) + kid_bytes + ctr_bytes


def decode_header(data: Buffer) -> tuple[int, int, int]:
    """Parse a header at the start of ``data``; return ``(kid, ctr, header_length)``.

    Strict: a truncated header or a non-minimal encoding (an extended field holding a value
    below 8 or with a leading zero byte) is refused, so a header has one meaning and one form.
    """
    view = memoryview(data)
    if len(view) < 1:
        raise MalformedHeader("empty SFrame header")
    config = view[0]
    pos = 1
    if config & 0x80:
        n = ((config >> 4) & 0x07) + 1
        if len(view) < pos + n:
            raise MalformedHeader("truncated SFrame KID")
        kid = int.from_bytes(view[pos : pos + n], "big")
        if kid < 8 or _min_len(kid) != n:
            raise MalformedHeader("SFrame KID not minimally encoded")
        pos += n
    else:
        kid = (config >> 4) & 0x07
    if config & 0x08:
        n = (config & 0x07) + 1
        if len(view) < pos + n:
            raise MalformedHeader("truncated SFrame CTR")
        ctr = int.from_bytes(view[pos : pos + n], "big")
        if ctr < 8 or _min_len(ctr) != n:
            raise MalformedHeader("SFrame CTR not minimally encoded")
        pos += n
    else:
        ctr = config & 0x07
    return kid, ctr, pos


# --- key schedule (RFC 9605 §4.4.2, §5.1) ------------------------------------------------------

_KEY_LABEL: Final = b"SFrame 1.0 Secret key "
_SALT_LABEL: Final = b"SFrame 1.0 Secret salt "
_RATCHET_LABEL: Final = b"SFrame 1.0 Ratchet"


def _check_base_key(base_key: Buffer) -> None:
    # RFC 9605 does not fix the base key length; refuse keys too short to be a secret.
    if len(memoryview(base_key)) < 16:
        raise InvalidKey("SFrame base key must be at least 16 bytes")


def derive_secret(cipher_suite: int, base_key: Buffer) -> bytes:
    """``sframe_secret = HKDF-Extract("", base_key)`` with the suite's hash."""
    p = suite_params(cipher_suite)
    _check_base_key(base_key)
    return HKDF.extract(p.hash_factory(), None, bytes(base_key))


def _labels(cipher_suite: int, kid: int) -> tuple[bytes, bytes]:
    tail = kid.to_bytes(8, "big") + cipher_suite.to_bytes(2, "big")
    return _KEY_LABEL + tail, _SALT_LABEL + tail


def derive_key_salt(cipher_suite: int, base_key: Buffer, kid: int) -> tuple[bytes, bytes]:
    """Return ``(sframe_key, sframe_salt)`` for one KID (RFC 9605 §4.4.2).

    The labels are ``"SFrame 1.0 Secret key " || KID(8) || suite(2)`` and the same with
    ``"Secret salt "``; binding the KID and suite means two senders sharing a base key still
    get independent keys and nonces.
    """
    p = suite_params(cipher_suite)
    if not 0 <= kid <= MAX_KID:
        raise ValueError("KID out of range 0..2**64-1")
    secret = derive_secret(cipher_suite, base_key)
    key_label, salt_label = _labels(int(cipher_suite), kid)
    key = HKDFExpand(p.hash_factory(), p.nk, key_label).derive(secret)
    salt = HKDFExpand(p.hash_factory(), p.nn, salt_label).derive(secret)
    return key, salt


def _derive_key_into(p: SuiteParams, base_key: Buffer, kid: int) -> tuple[bytearray, int]:
    """Like :func:`derive_key_salt` but the key lands in a wipeable bytearray, salt as int."""
    secret = bytearray(HKDF.extract(p.hash_factory(), None, bytes(base_key)))
    key_label, salt_label = _labels(int(p.suite), kid)
    key = bytearray(p.nk)
    HKDFExpand(p.hash_factory(), p.nk, key_label).derive_into(secret, key)
    salt = HKDFExpand(p.hash_factory(), p.nn, salt_label).derive(secret)
    _wipe(secret)
    return key, int.from_bytes(salt, "big")


def ratchet_base_key(cipher_suite: int, base_key: Buffer) -> bytes:
    """One forward ratchet step (RFC 9605 §5.1).

    ``next = HKDF-Expand(HKDF-Extract("", base_key), "SFrame 1.0 Ratchet", Nh)``. One-way: holding
    step *i* gives every later step and nothing earlier, so retiring old steps gives forward
    secrecy without a round trip. It does **not** exclude anyone who holds the current key;
    removing a participant needs a fresh key (a new epoch, see :mod:`voxseal.crypto.rekey`).
    """
    p = suite_params(cipher_suite)
    secret = derive_secret(cipher_suite, base_key)
    return HKDFExpand(p.hash_factory(), p.nh, _RATCHET_LABEL).derive(secret)


def _wipe(buf: bytearray) -> None:
    """Overwrite a secret we own. Best effort: Python may have made copies we cannot reach."""
    buf[:] = bytes(len(buf))


# --- AEADs (RFC 9605 §4.5) ---------------------------------------------------------------------


class _Aead(Protocol):
    def encrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes: ...


class CtrHmacAead:
    """AES-CTR + HMAC-SHA256 with a truncated tag, exactly as RFC 9605 §4.5.1 composes it.

    The key is ``enc_key (Nka) || auth_key``. The CTR initial counter block is the 12-byte nonce
    followed by four zero bytes; the tag is ``HMAC(auth_key, len(aad)(8) || len(ct)(8) ||
    Nt(8) || nonce || aad || ct)`` truncated to Nt bytes and compared in constant time. The
    interface mirrors ``AESGCM`` (and raises ``InvalidTag``) so the stateful layer treats all
    suites alike.
    """

    __slots__ = ("_aes", "_mac", "_nt", "_tag_len_bytes")

    def __init__(self, key: Buffer, tag_length: int, enc_key_length: int = 16) -> None:
        key_bytes = memoryview(key)
        if len(key_bytes) != enc_key_length + 32:
            raise InvalidKey(f"CTR+HMAC key must be {enc_key_length + 32} bytes")
        self._aes = algorithms.AES(bytes(key_bytes[:enc_key_length]))
        # A keyed HMAC context, copied per frame: saves re-keying on the hot path.
        self._mac = _hmac.HMAC(bytes(key_bytes[enc_key_length:]), hashes.SHA256())
        self._nt = tag_length
        self._tag_len_bytes = tag_length.to_bytes(8, "big")

    def __repr__(self) -> str:
        return f"CtrHmacAead(tag_length={self._nt})"

    def _tag(self, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
        mac = self._mac.copy()
        mac.update(len(aad).to_bytes(8, "big") + len(ct).to_bytes(8, "big") + self._tag_len_bytes)
        mac.update(nonce)
        mac.update(aad)
        mac.update(ct)
        return mac.finalize()[: self._nt]

    def _ctr(self, nonce: bytes, data: Buffer) -> bytes:
        ctx = Cipher(self._aes, modes.CTR(nonce + b"\x00\x00\x00\x00")).encryptor()
        return ctx.update(data) + ctx.finalize()

    def encrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes:
        if len(nonce) != 12:
            raise ValueError("nonce must be 12 bytes")
        aad = bytes(associated_data) if associated_data is not None else b""
        ct = self._ctr(nonce, data)
        return ct + self._tag(nonce, aad, ct)

    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes:
        if len(nonce) != 12:
            raise ValueError("nonce must be 12 bytes")
        blob = bytes(data)
        if len(blob) < self._nt:
            raise InvalidTag
        aad = bytes(associated_data) if associated_data is not None else b""
        ct, tag = blob[: -self._nt], blob[-self._nt :]
        if not _std_hmac.compare_digest(self._tag(nonce, aad, ct), tag):
            raise InvalidTag
        return self._ctr(nonce, ct)


def _make_aead(p: SuiteParams, key: Buffer) -> _Aead:
    if p.gcm:
        return AESGCM(key)
    return CtrHmacAead(key, p.nt, p.nka)


# --- functional layer ------------------------------------------------------------------------


def encrypt(
    cipher_suite: int,
    base_key: Buffer,
    kid: int,
    ctr: int,
    metadata: Buffer,
    plaintext: Buffer,
) -> bytes:
    """Encrypt one frame: ``header || AEAD(sframe_key, salt XOR ctr, header || metadata, pt)``.

    Stateless and slow-ish (derives the key every call): use it for vectors and one-off frames;
    streams use :class:`Sender`, which also guarantees the counter is never reused.
    """
    p = suite_params(cipher_suite)
    key, salt = derive_key_salt(cipher_suite, base_key, kid)
    header = encode_header(kid, ctr)
    nonce = (int.from_bytes(salt, "big") ^ ctr).to_bytes(p.nn, "big")
    return header + _make_aead(p, key).encrypt(nonce, plaintext, header + bytes(metadata))


def decrypt(
    cipher_suite: int, base_key: Buffer, metadata: Buffer, frame: Buffer
) -> tuple[int, int, bytes]:
    """Decrypt one frame with ``base_key``; return ``(kid, ctr, plaintext)``.

    Stateless, so it cannot detect replays: that is :class:`Receiver`'s job.
    """
    p = suite_params(cipher_suite)
    data = bytes(frame)
    kid, ctr, hlen = decode_header(data)
    if len(data) < hlen + p.nt:
        raise MalformedFrame("SFrame frame shorter than its authentication tag")
    key, salt = derive_key_salt(cipher_suite, base_key, kid)
    nonce = (int.from_bytes(salt, "big") ^ ctr).to_bytes(p.nn, "big")
    try:
        pt = _make_aead(p, key).decrypt(nonce, data[hlen:], data[:hlen] + bytes(metadata))
    except InvalidTag:
        raise AuthenticationFailed("SFrame authentication failed") from None
    return kid, ctr, pt


# --- stateful layer --------------------------------------------------------------------------


def _kid_config(kid: int) -> tuple[int, bytes]:
    """The KID half of a config byte and the KID bytes that follow it."""
    base = encode_header(kid, 0)
    return base[0], base[1:]


class _ClosedAead:
    """Stands in for a retired key so the hot path needs no ``is None`` test."""

    def encrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes:
        raise UnknownKey(-1)

    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer | None) -> bytes:
        raise InvalidTag


_CLOSED: Final = _ClosedAead()


class Sender:
    """The sending side of one SFrame stream: one KID, one base key, a counter that never wraps.

    ``protect`` returns the whole SFrame (header || ciphertext || tag). The counter starts at
    ``initial_counter`` (0) and increases by one per frame; when it would pass ``max_counter``
    the sender raises :class:`CounterExhausted` instead of reusing a nonce — the owner must
    rekey (new epoch) or :meth:`ratchet`.

    With ``ratchet_bits = R > 0`` the low R bits of the KID are the ratchet step (RFC 9605
    §5.1): :meth:`ratchet` derives the next base key, wipes the old one and bumps those bits, so
    receivers that hold the old key can follow without a round trip.

    Speed: the header is ``prefix || CTR`` where the prefix (config byte and KID) only changes
    when the CTR needs one more byte, so it is cached (as an integer, so the header is one
    ``(prefix | ctr).to_bytes()``) with the CTR value at which it stops being valid; one
    comparison per frame covers the small-CTR form, a length change and counter exhaustion.
    """

    __slots__ = (
        "_base_key",
        "_closed",
        "_ctr",
        "_encrypt",
        "_fast_until",
        "_hbase",
        "_hlen",
        "_kid",
        "_kid_bytes",
        "_kid_config",
        "_limit",
        "_params",
        "_ratchet_bits",
        "_salt",
    )

    def __init__(
        self,
        cipher_suite: int,
        kid: int,
        base_key: Buffer,
        *,
        initial_counter: int = 0,
        max_counter: int = MAX_COUNTER,
        ratchet_bits: int = 0,
    ) -> None:
        self._params = suite_params(cipher_suite)
        if not 0 <= kid <= MAX_KID:
            raise ValueError("KID out of range 0..2**64-1")
        if not 0 <= max_counter <= MAX_COUNTER:
            raise ValueError("max_counter out of range")
        if not 0 <= initial_counter <= max_counter + 1:
            raise ValueError("initial_counter out of range")
        if not 0 <= ratchet_bits <= 16:
            raise ValueError("ratchet_bits must be 0..16")
        _check_base_key(base_key)
        self._ratchet_bits = ratchet_bits
        self._limit = max_counter
        self._closed = False
        self._base_key = bytearray(base_key)
        self._install(kid, initial_counter)

    def _install(self, kid: int, counter: int) -> None:
        key, salt = _derive_key_into(self._params, self._base_key, kid)
        self._encrypt = _make_aead(self._params, bytes(key)).encrypt
        _wipe(key)
        self._salt = salt
        self._kid = kid
        self._kid_config, self._kid_bytes = _kid_config(kid)
        self._ctr = counter
        self._hbase = 0
        self._hlen = 0
        self._fast_until = 0  # forces _header() for the first frame

    def __repr__(self) -> str:
        return f"Sender(suite={self._params.suite.name}, kid={self._kid}, counter={self._ctr})"

    @property
    def kid(self) -> int:
        return self._kid

    @property
    def cipher_suite(self) -> CipherSuite:
        return self._params.suite

    @property
    def counter(self) -> int:
        """The CTR the next frame will carry."""
        return self._ctr

    @property
    def remaining(self) -> int:
        """Frames left before :class:`CounterExhausted`."""
        return 0 if self._closed else max(0, self._limit - self._ctr + 1)

    def _header(self, ctr: int) -> bytes:
        """Cold path of :meth:`protect`: small CTRs, a CTR length change, exhaustion."""
        if self._closed:
            raise UnknownKey(self._kid)
        if ctr > self._limit:
            raise CounterExhausted(f"SFrame counter exhausted for KID {self._kid}")
        if ctr < 8:
            return bytes((self._kid_config | ctr,)) + self._kid_bytes
        n = _min_len(ctr)
        prefix = bytes((self._kid_config | 0x08 | (n - 1),)) + self._kid_bytes
        self._hbase = int.from_bytes(prefix, "big") << (8 * n)
        self._hlen = len(prefix) + n
        self._fast_until = min(1 << (8 * n), self._limit + 1)
        return (self._hbase | ctr).to_bytes(self._hlen, "big")

    def protect(self, plaintext: Buffer, metadata: Buffer = b"") -> bytes:
        """Encrypt one frame; ``metadata`` is authenticated but not sent (RFC 9605 §4.4.3)."""
        ctr = self._ctr
        if ctr < self._fast_until:
            header = (self._hbase | ctr).to_bytes(self._hlen)
        else:
            header = self._header(ctr)
        self._ctr = ctr + 1
        return header + self._encrypt(
            (self._salt ^ ctr).to_bytes(12), plaintext, header + metadata if metadata else header
        )

    def ratchet(self) -> int:
        """Advance one ratchet step (new base key, KID low bits + 1, counter 0); return the KID."""
        if self._ratchet_bits == 0:
            raise ValueError("this sender was created with ratchet_bits=0")
        if self._closed:
            raise UnknownKey(self._kid)
        nxt = ratchet_base_key(self._params.suite, self._base_key)
        _wipe(self._base_key)
        self._base_key = bytearray(nxt)
        mask = (1 << self._ratchet_bits) - 1
        kid = (self._kid & ~mask) | ((self._kid + 1) & mask)
        self._install(kid, 0)
        return kid

    def close(self) -> None:
        """Retire the key: wipe the base key we hold and drop the AEAD object."""
        _wipe(self._base_key)
        self._closed = True
        self._encrypt = _CLOSED.encrypt
        self._fast_until = -1


class _KeyState:
    """Everything cached for one KID on the receive side, plus its replay window.

    The replay window is a ring of the last accepted CTR per slot (``ring[ctr % size]``): a CTR
    within the window was seen iff its slot holds exactly that CTR. Cheaper per frame than
    shifting a 128-bit mask, and exact (any other value in the slot is older or out of window).
    """

    __slots__ = ("base_key", "chain", "decrypt", "kid", "ring", "salt", "top")

    def __init__(
        self, aead: _Aead, salt: int, base_key: bytearray, kid: int, chain: int, ring_size: int
    ) -> None:
        self.decrypt: Callable[[bytes, Buffer, Buffer | None], bytes] = aead.decrypt
        self.salt = salt
        self.base_key = base_key
        self.kid = kid
        self.chain = chain
        self.top = -1  # highest CTR accepted so far
        self.ring = [-1] * ring_size

    def wipe(self) -> None:
        _wipe(self.base_key)
        self.decrypt = _CLOSED.decrypt


def _layout_table(nt: int) -> tuple[tuple[int, int, int, int], ...]:
    """Per config byte: (header length, hot-path frame minimum, CTR bit width, CTR mask).

    Lets the receiver's hot path size the header with one tuple lookup. The small-CTR form
    (values 0-7 in the config byte) gets an unreachable minimum so it always takes the cold
    path, and the hot path needs a single length comparison.
    """
    table = []
    for config in range(256):
        klen = ((config >> 4) & 0x07) + 1 if config & 0x80 else 0
        clen = (config & 0x07) + 1 if config & 0x08 else 0
        hlen = 1 + klen + clen
        min_len = hlen + nt if clen else sys.maxsize
        table.append((hlen, min_len, 8 * clen, (1 << (8 * clen)) - 1))
    return tuple(table)


_LAYOUTS: Final = {nt: _layout_table(nt) for nt in {p.nt for p in _SUITES.values()}}


class Receiver:
    """The receiving side: keys by KID, replay protection, ratchet following, bounded storage.

    * **Replay window** (per KID, default 128 frames): frames may arrive reordered by up to
      ``replay_window - 1`` positions; a CTR already accepted, or older than the window, is
      refused with :class:`ReplayDetected`. The window is only updated *after* the frame
      authenticates, so forged frames cannot poison it.
    * **Bounded key store**: at most ``max_keys`` KIDs; adding one more evicts (and wipes) the
      least recently installed key, so a sender cannot grow our memory without bound.
    * **Ratchet** (``ratchet_bits = R > 0``): KIDs are ``chain << R | step mod 2**R``. A frame for
      a step up to ``max_ratchet_ahead`` ahead of the newest known step of its chain is tried
      with the ratcheted key; only if it authenticates is the new step installed. The previous
      step is kept for late frames; older steps are wiped.

    Speed: each installed KID registers its eight "config byte || KID" prefixes (one per CTR
    length) in a routing dict, so the hot path reads the header as one integer, finds the key
    state with one dict lookup and takes the CTR from the low bits. Anything unusual (small
    CTR, unknown KID, ratchet step, non-minimal KID encoding, truncation) falls to the strict
    cold path. A non-minimal CTR encoding cannot pass the hot path either: the header is AEAD
    associated data and no conforming sender produces one, so it fails authentication.
    """

    __slots__ = (
        "_keys",
        "_layout",
        "_max_ahead",
        "_max_keys",
        "_newest",
        "_params",
        "_ratchet_bits",
        "_ring_mask",
        "_ring_size",
        "_route",
        "_window",
    )

    def __init__(
        self,
        cipher_suite: int,
        *,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
        max_keys: int = DEFAULT_MAX_KEYS,
        ratchet_bits: int = 0,
        max_ratchet_ahead: int = 8,
    ) -> None:
        self._params = suite_params(cipher_suite)
        if not 1 <= replay_window <= 1 << 16:
            raise ValueError("replay_window must be 1..65536")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        if not 0 <= ratchet_bits <= 16:
            raise ValueError("ratchet_bits must be 0..16")
        self._window = replay_window
        self._ring_size = 1 << (replay_window - 1).bit_length()
        self._ring_mask = self._ring_size - 1
        self._max_keys = max_keys
        self._ratchet_bits = ratchet_bits
        self._max_ahead = min(max_ratchet_ahead, (1 << ratchet_bits) - 1) if ratchet_bits else 0
        self._layout = _LAYOUTS[self._params.nt]
        self._keys: dict[int, _KeyState] = {}
        self._route: dict[int, _KeyState] = {}
        # chain id -> KID of its newest installed step
        self._newest: dict[int, int] = {}

    def __repr__(self) -> str:
        return (
            f"Receiver(suite={self._params.suite.name}, keys={len(self._keys)}, "
            f"replay_window={self._window})"
        )

    @property
    def cipher_suite(self) -> CipherSuite:
        return self._params.suite

    @property
    def replay_window(self) -> int:
        return self._window

    def kids(self) -> Iterator[int]:
        """KIDs currently installed (for the owner's bookkeeping; no key material)."""
        return iter(tuple(self._keys))

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    # -- key store --

    def add_key(self, kid: int, base_key: Buffer) -> None:
        """Install (or replace) the base key for ``kid``; derives and caches everything once.

        Installing the key a KID already has is a no-op (its replay window is kept); a
        *different* key for the KID replaces the old one, which is wiped, and starts a new window.
        """
        if not 0 <= kid <= MAX_KID:
            raise ValueError("KID out of range 0..2**64-1")
        _check_base_key(base_key)
        existing = self._keys.get(kid)
        if existing is not None and _std_hmac.compare_digest(existing.base_key, bytes(base_key)):
            # Re-delivery of the same key (e.g. a retransmitted bundle) must not reset the
            # replay window, or every frame already accepted could be replayed.
            return
        self._store(self._derive(kid, bytearray(base_key)))

    def _derive(self, kid: int, base_key: bytearray) -> _KeyState:
        key, salt = _derive_key_into(self._params, base_key, kid)
        aead = _make_aead(self._params, bytes(key))
        _wipe(key)
        return _KeyState(aead, salt, base_key, kid, kid >> self._ratchet_bits, self._ring_size)

    @staticmethod
    def _route_keys(kid: int) -> list[int]:
        kid_config, kid_bytes = _kid_config(kid)
        shift = 8 * len(kid_bytes)
        kid_tail = int.from_bytes(kid_bytes, "big") if kid_bytes else 0
        return [((kid_config | 0x08 | (n - 1)) << shift) | kid_tail for n in range(1, 9)]

    def _store(self, state: _KeyState) -> None:
        kid = state.kid
        if kid in self._keys:
            self.remove_key(kid)
        while len(self._keys) >= self._max_keys:
            self.remove_key(next(iter(self._keys)))
        self._keys[kid] = state
        for route in self._route_keys(kid):
            self._route[route] = state
        self._newest[state.chain] = kid

    def remove_key(self, kid: int) -> bool:
        """Retire one KID: wipe its base key and forget it. Returns whether it was present."""
        state = self._keys.pop(kid, None)
        if state is None:
            return False
        state.wipe()
        for route in self._route_keys(kid):
            self._route.pop(route, None)
        chain = state.chain
        if self._newest.get(chain) == kid:
            others = [k for k, s in self._keys.items() if s.chain == chain]
            if others:
                self._newest[chain] = others[-1]
            else:
                del self._newest[chain]
        return True

    def remove_where(self, predicate: Callable[[int], bool]) -> int:
        """Retire every KID for which ``predicate(kid)`` holds (e.g. all of an old epoch)."""
        victims = [kid for kid in self._keys if predicate(kid)]
        for kid in victims:
            self.remove_key(kid)
        return len(victims)

    def clear(self) -> None:
        """Retire every key (leaving the call)."""
        for kid in list(self._keys):
            self.remove_key(kid)

    # -- frames --

    def unprotect(self, frame: Buffer, metadata: Buffer = b"") -> bytes:
        """Authenticate and decrypt one frame; refuse anything forged, truncated or replayed."""
        try:
            hlen, min_len, cbits, cmask = self._layout[frame[0]]
        except IndexError:
            raise MalformedHeader("empty SFrame header") from None
        if len(frame) < min_len:
            return self._unprotect_cold(frame, metadata)
        header = frame[:hlen]
        h = _from_bytes(header)
        try:
            state = self._route[h >> cbits]
        except KeyError:
            return self._unprotect_cold(frame, metadata)
        ctr = h & cmask
        top = state.top
        ring = state.ring
        if ctr <= top and (top - ctr >= self._window or ring[ctr & self._ring_mask] == ctr):
            raise ReplayDetected(state.kid, ctr, too_old=top - ctr >= self._window)
        try:
            plaintext = state.decrypt(
                (state.salt ^ ctr).to_bytes(12),
                frame[hlen:],
                bytes(header) + metadata if metadata else header,
            )
        except InvalidTag:
            raise AuthenticationFailed(f"SFrame authentication failed, KID {state.kid}") from None
        ring[ctr & self._ring_mask] = ctr
        if ctr > top:
            state.top = ctr
        return plaintext

    def _unprotect_cold(self, frame: Buffer, metadata: Buffer) -> bytes:
        """Strict parse and the rare cases: small CTR, unknown KID, ratchet, bad lengths."""
        data = bytes(frame)
        kid, ctr, hlen = decode_header(data)
        if len(data) < hlen + self._params.nt:
            raise MalformedFrame("SFrame frame shorter than its authentication tag")
        state = self._keys.get(kid)
        pending = state is None
        if state is None:
            state = self._ratchet_candidate(kid)
        top = state.top
        if ctr <= top:
            if top - ctr >= self._window:
                raise ReplayDetected(kid, ctr, too_old=True)
            if state.ring[ctr & self._ring_mask] == ctr:
                raise ReplayDetected(kid, ctr)
        header = data[:hlen]
        try:
            plaintext = state.decrypt(
                (state.salt ^ ctr).to_bytes(12, "big"), data[hlen:], header + bytes(metadata)
            )
        except InvalidTag:
            raise AuthenticationFailed(f"SFrame authentication failed for KID {kid}") from None
        state.ring[ctr & self._ring_mask] = ctr
        if ctr > top:
            state.top = ctr
        if pending:
            self._commit_ratchet(state)
        return plaintext

    # -- ratchet following (cold path) --

    def _ratchet_candidate(self, kid: int) -> _KeyState:
        """Derive (but do not install) the key for a KID a few ratchet steps ahead."""
        r = self._ratchet_bits
        if not r:
            raise UnknownKey(kid)
        newest_kid = self._newest.get(kid >> r)
        if newest_kid is None:
            raise UnknownKey(kid)
        ahead = (kid - newest_kid) & ((1 << r) - 1)
        if not 0 < ahead <= self._max_ahead:
            raise UnknownKey(kid)
        base = bytes(self._keys[newest_kid].base_key)
        for _ in range(ahead):
            base = ratchet_base_key(self._params.suite, base)
        return self._derive(kid, bytearray(base))

    def _commit_ratchet(self, state: _KeyState) -> None:
        """Install an authenticated ratchet step; keep the one it supersedes, wipe the rest."""
        previous = self._newest.get(state.chain)
        stale = [k for k, s in self._keys.items() if s.chain == state.chain and k != previous]
        for kid in stale:
            self.remove_key(kid)
        self._store(state)
