"""Endpoint identities: Ed25519 (optionally + ML-DSA-65) signing keys, did:key, a KEM key.

An endpoint (a caller's browser, an app, an agent worker, a supervisor) has

* an **Ed25519** signing key, which names it: ``did:key:z6Mk…`` (multicodec ``ed25519-pub``
  0xed 0x01, base58btc with the multibase prefix ``z``), so a participant's DID *is* its key;
* optionally an **ML-DSA-65** key paired with it, so signatures stay unforgeable against a
  quantum adversary. A hybrid signature is ``Ed25519 sig || ML-DSA-65 sig`` and verifies only
  if *both* halves verify — the pair is as strong as the stronger scheme. The signature length
  is fixed by the public identity, so stripping the ML-DSA half (a downgrade) is refused;
* an **X-Wing KEM** key (:mod:`voxseal.crypto.xwing`) to which SFrame sender keys are sealed.

:class:`PublicIdentity` is what participants exchange: the three public keys, self-signed so the
gateway relaying it cannot swap the KEM key under a genuine signing key. Whether the signing key
itself belongs to the person you think is what safety numbers (:mod:`voxseal.crypto.sas`)
check out of band.

Secrets never reach ``repr``/``str``/exceptions; :meth:`Identity.export_secret` is the only way
out, for encrypted persistence by the caller.
"""

from __future__ import annotations

from typing import Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa
from nacl.bindings import crypto_core_ed25519_is_valid_point

from voxseal.crypto.errors import BadSignature, InvalidKey, MalformedIdentity
from voxseal.crypto.xwing import PUBLIC_KEY_SIZE as KEM_PUBLIC_KEY_SIZE
from voxseal.crypto.xwing import KemPrivateKey, KemPublicKey

__all__ = [
    "ED25519_SIGNATURE_SIZE",
    "HYBRID_SIGNATURE_SIZE",
    "MLDSA65_PUBLIC_KEY_SIZE",
    "MLDSA65_SIGNATURE_SIZE",
    "Identity",
    "PublicIdentity",
    "b58decode",
    "b58encode",
    "did_from_ed25519",
    "ed25519_from_did",
]

ED25519_SIGNATURE_SIZE: Final = 64
MLDSA65_SIGNATURE_SIZE: Final = 3309
MLDSA65_PUBLIC_KEY_SIZE: Final = 1952
HYBRID_SIGNATURE_SIZE: Final = ED25519_SIGNATURE_SIZE + MLDSA65_SIGNATURE_SIZE

_ED25519_MULTICODEC: Final = b"\xed\x01"
_DID_PREFIX: Final = "did:key:z"
_SIG_DOMAIN: Final = b"voxseal signature v1\x00"
_IDENTITY_CONTEXT: Final = b"voxseal public identity v1"
_PUBLIC_VERSION: Final = 1
_SECRET_VERSION: Final = 1
_FLAG_MLDSA: Final = 0x01

# --- base58btc (an encoding, not cryptography) ---------------------------------------------------

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58; each leading zero byte becomes a leading ``1``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, rem = divmod(n, 58)
        digits.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; refuses characters outside the alphabet."""
    n = 0
    for ch in text:
        try:
            n = n * 58 + _B58_INDEX[ch]
        except KeyError:
            raise MalformedIdentity("invalid base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * zeros + body


def did_from_ed25519(public_key: bytes) -> str:
    """``did:key`` for a raw 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise InvalidKey("Ed25519 public key must be 32 bytes")
    return _DID_PREFIX + b58encode(_ED25519_MULTICODEC + public_key)


def ed25519_from_did(did: str) -> bytes:
    """The raw Ed25519 key a ``did:key`` names; strict (method, multibase, codec, length)."""
    if not isinstance(did, str) or not did.startswith(_DID_PREFIX) or len(did) > 128:
        raise MalformedIdentity("not a base58btc did:key")
    raw = b58decode(did[len(_DID_PREFIX) :])
    if len(raw) != 34 or raw[:2] != _ED25519_MULTICODEC:
        raise MalformedIdentity("did:key is not an ed25519-pub key")
    if did_from_ed25519(raw[2:]) != did:  # canonical form only
        raise MalformedIdentity("did:key is not canonical")
    return raw[2:]


def _signed_message(context: bytes, message: bytes) -> bytes:
    """Domain-separate every signature by purpose so one can never be replayed as another."""
    if len(context) > 255:
        raise ValueError("signature context too long")
    return _SIG_DOMAIN + bytes((len(context),)) + context + message


# --- public identity -------------------------------------------------------------------------


class PublicIdentity:
    """A participant's public keys: Ed25519 (+ optional ML-DSA-65) and X-Wing; named by its DID.

    Wire form (:meth:`encode`): ``version(1) flags(1) ed25519(32) xwing(1216) [mldsa65(1952)]``
    followed by a self-signature over those bytes. :meth:`decode` refuses a document whose
    self-signature does not verify.
    """

    __slots__ = ("_body", "_did", "_ed", "_ed_raw", "_kem", "_mldsa", "_mldsa_raw", "_sig")

    def __init__(
        self,
        ed25519_public: bytes,
        kem_public: KemPublicKey,
        mldsa_public: bytes | None = None,
        self_signature: bytes = b"",
    ) -> None:
        # OpenSSL accepts any 32 bytes here, including small-order points (with which R = identity,
        # S = 0 "verifies" every message) and non-canonical encodings; libsodium's check refuses
        # both. Such a key can vouch for nothing, so it is refused as a bad signature, the reason
        # the browser implementation gives for the same document (its verify returns false).
        if len(ed25519_public) != 32:
            raise MalformedIdentity("invalid public signing key")
        if not crypto_core_ed25519_is_valid_point(bytes(ed25519_public)):
            raise BadSignature("the Ed25519 signing key is small-order or not a canonical point")
        try:
            self._ed = ed25519.Ed25519PublicKey.from_public_bytes(ed25519_public)
            self._mldsa = (
                mldsa.MLDSA65PublicKey.from_public_bytes(mldsa_public)
                if mldsa_public is not None
                else None
            )
        except ValueError:
            raise MalformedIdentity("invalid public signing key") from None
        self._ed_raw = bytes(ed25519_public)
        self._mldsa_raw = bytes(mldsa_public) if mldsa_public is not None else None
        self._kem = kem_public
        self._did = did_from_ed25519(self._ed_raw)
        flags = _FLAG_MLDSA if self._mldsa_raw is not None else 0
        self._body = (
            bytes((_PUBLIC_VERSION, flags))
            + self._ed_raw
            + kem_public.public_bytes()
            + (self._mldsa_raw or b"")
        )
        self._sig = self_signature

    @property
    def did(self) -> str:
        return self._did

    @property
    def hybrid(self) -> bool:
        """Whether signatures must carry an ML-DSA-65 half as well."""
        return self._mldsa is not None

    @property
    def signature_size(self) -> int:
        return HYBRID_SIGNATURE_SIZE if self.hybrid else ED25519_SIGNATURE_SIZE

    @property
    def ed25519_public_bytes(self) -> bytes:
        return self._ed_raw

    @property
    def mldsa65_public_bytes(self) -> bytes | None:
        return self._mldsa_raw

    @property
    def kem_public_key(self) -> KemPublicKey:
        return self._kem

    def fingerprint(self) -> bytes:
        """SHA-256 of the canonical public keys (what safety numbers are built from)."""
        h = hashes.Hash(hashes.SHA256())
        h.update(self._body)
        return h.finalize()

    def verify(self, signature: bytes, message: bytes, *, context: bytes) -> None:
        """Raise :class:`BadSignature` unless every half of ``signature`` verifies."""
        if len(signature) != self.signature_size:
            raise BadSignature(f"signature by {self._did} has the wrong length")
        signed = _signed_message(context, message)
        ok = True
        try:
            self._ed.verify(bytes(signature[:ED25519_SIGNATURE_SIZE]), signed)
        except InvalidSignature:
            ok = False
        if self._mldsa is not None:
            try:
                self._mldsa.verify(bytes(signature[ED25519_SIGNATURE_SIZE:]), signed)
            except InvalidSignature:
                ok = False
        if not ok:
            raise BadSignature(f"signature by {self._did} does not verify")

    def encode(self) -> bytes:
        if not self._sig:
            raise ValueError("public identity has no self-signature; get it from Identity.public")
        return self._body + self._sig

    @classmethod
    def decode(cls, data: bytes) -> PublicIdentity:
        """Parse and check a public identity document (strict lengths, self-signature)."""
        data = bytes(data)
        if len(data) < 2:
            raise MalformedIdentity("truncated public identity")
        version, flags = data[0], data[1]
        if version != _PUBLIC_VERSION:
            raise MalformedIdentity(f"unsupported public identity version {version}")
        if flags & ~_FLAG_MLDSA:
            raise MalformedIdentity("unknown public identity flags")
        hybrid = bool(flags & _FLAG_MLDSA)
        body_len = 2 + 32 + KEM_PUBLIC_KEY_SIZE + (MLDSA65_PUBLIC_KEY_SIZE if hybrid else 0)
        sig_len = HYBRID_SIGNATURE_SIZE if hybrid else ED25519_SIGNATURE_SIZE
        if len(data) != body_len + sig_len:
            raise MalformedIdentity("public identity has the wrong length")
        ed_raw = data[2:34]
        kem = KemPublicKey.from_bytes(data[34 : 34 + KEM_PUBLIC_KEY_SIZE])
        mldsa_raw = data[34 + KEM_PUBLIC_KEY_SIZE : body_len] if hybrid else None
        ident = cls(ed_raw, kem, mldsa_raw, data[body_len:])
        ident.verify(data[body_len:], ident._body, context=_IDENTITY_CONTEXT)
        return ident

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicIdentity) and other._body == self._body

    def __hash__(self) -> int:
        return hash(self._body)

    def __repr__(self) -> str:
        kind = "ed25519+ml-dsa-65" if self.hybrid else "ed25519"
        return f"PublicIdentity({self._did}, {kind})"


# --- private identity ------------------------------------------------------------------------


class Identity:
    """An endpoint's own keys. Create with :meth:`generate`; persist with :meth:`export_secret`."""

    __slots__ = ("_ed", "_kem", "_mldsa", "_public")

    def __init__(
        self,
        ed25519_private: ed25519.Ed25519PrivateKey,
        kem_private: KemPrivateKey,
        mldsa_private: mldsa.MLDSA65PrivateKey | None = None,
    ) -> None:
        self._ed = ed25519_private
        self._kem = kem_private
        self._mldsa = mldsa_private
        unsigned = PublicIdentity(
            ed25519_private.public_key().public_bytes_raw(),
            kem_private.public_key(),
            mldsa_private.public_key().public_bytes_raw() if mldsa_private else None,
        )
        signature = self.sign(unsigned._body, context=_IDENTITY_CONTEXT)
        self._public = PublicIdentity(
            unsigned.ed25519_public_bytes,
            unsigned.kem_public_key,
            unsigned.mldsa65_public_bytes,
            signature,
        )

    @classmethod
    def generate(cls, *, post_quantum_signatures: bool = False) -> Identity:
        """A fresh identity; ``post_quantum_signatures`` pairs an ML-DSA-65 key with Ed25519."""
        return cls(
            ed25519.Ed25519PrivateKey.generate(),
            KemPrivateKey.generate(),
            mldsa.MLDSA65PrivateKey.generate() if post_quantum_signatures else None,
        )

    @property
    def did(self) -> str:
        return self._public.did

    @property
    def public(self) -> PublicIdentity:
        return self._public

    @property
    def hybrid(self) -> bool:
        return self._mldsa is not None

    def sign(self, message: bytes, *, context: bytes) -> bytes:
        """Sign for a purpose named by ``context`` (Ed25519, then ML-DSA-65 if paired)."""
        signed = _signed_message(context, message)
        signature = self._ed.sign(signed)
        if self._mldsa is not None:
            signature += self._mldsa.sign(signed)
        return signature

    def kem_private_key(self) -> KemPrivateKey:
        """The X-Wing private key sealed sender keys are opened with."""
        return self._kem

    def export_secret(self) -> bytes:
        """``version flags ed25519-seed(32) xwing-seed(32) [ml-dsa-65 seed(32)]`` — SECRET."""
        flags = _FLAG_MLDSA if self._mldsa is not None else 0
        out = bytes((_SECRET_VERSION, flags)) + self._ed.private_bytes_raw()
        out += self._kem.seed_bytes()
        if self._mldsa is not None:
            out += self._mldsa.private_bytes_raw()
        return out

    @classmethod
    def from_secret(cls, data: bytes) -> Identity:
        data = bytes(data)
        if len(data) < 2 or data[0] != _SECRET_VERSION or data[1] & ~_FLAG_MLDSA:
            raise MalformedIdentity("unsupported secret identity encoding")
        hybrid = bool(data[1] & _FLAG_MLDSA)
        if len(data) != 2 + 32 + 32 + (32 if hybrid else 0):
            raise MalformedIdentity("secret identity has the wrong length")
        return cls(
            ed25519.Ed25519PrivateKey.from_private_bytes(data[2:34]),
            KemPrivateKey(data[34:66]),
            mldsa.MLDSA65PrivateKey.from_seed_bytes(data[66:98]) if hybrid else None,
        )

    def __repr__(self) -> str:
        return f"Identity({self.did}, hybrid={self.hybrid})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Refuse pickling: a pickle would carry the secret keys somewhere we cannot see.
        raise TypeError("Identity cannot be pickled; use export_secret() deliberately")
