"""The hybrid post-quantum KEM: X-Wing (ML-KEM-768 + X25519), as HPKE's MLKEM768-X25519.

Every endpoint receives SFrame sender keys sealed with HPKE (RFC 9180) to its KEM key. The KEM
is ``cryptography``'s ``hpke.KEM.MLKEM768_X25519``. We checked what that is, because two
different hybrids go by similar names:

* **X-Wing** (draft-connolly-cfrg-xwing-kem, = HPKE KEM id 0x647a in draft-ietf-hpke-pq): a
  32-byte seed expanded with SHAKE-256 into an ML-KEM-768 seed and an X25519 key; the shared
  secret is ``SHA3-256(ss_M || ss_X || ct_X || pk_X || "\\.//^\\")``.
* the TLS hybrid ``X25519MLKEM768`` (draft-ietf-tls-ecdhe-mlkem): a plain concatenation of the
  two secrets, for the TLS key schedule, not a standalone KEM.

The tests in ``tests/crypto/test_xwing.py`` settle it on the official X-Wing vectors: key
generation from the seed and decapsulation (composed here from ``cryptography``'s ML-KEM-768,
X25519 and SHA3-256) reproduce the vectors' public keys and shared secrets, and an HPKE
ciphertext built from a vector's encapsulation and shared secret opens with
``hpke.Suite(MLKEM768_X25519, ...)`` under the vector's key. So the library KEM *is* X-Wing.
What cannot be checked: the vectors' encapsulation side (``eseed``), because ``cryptography``
offers no derandomised ML-KEM encapsulation; for that direction we test round trips and sizes.

A key is stored as its 32-byte X-Wing seed, the smallest and the draft's canonical form.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from voxseal.crypto.errors import InvalidKey, MalformedIdentity

__all__ = [
    "CIPHERTEXT_SIZE",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SHARED_SECRET_SIZE",
    "XWING_LABEL",
    "KemPrivateKey",
    "KemPublicKey",
]

SEED_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = 1184 + 32
CIPHERTEXT_SIZE: Final = 1088 + 32
SHARED_SECRET_SIZE: Final = 32
#: the X-Wing domain-separation label, 6 ASCII bytes: backslash . / / ^ backslash
XWING_LABEL: Final = b"\\.//^\\"
_MLKEM_PK: Final = 1184
_MLKEM_CT: Final = 1088


def _expand(seed: bytes) -> tuple[bytes, bytes]:
    """X-Wing key generation: SHAKE-256(seed, 96) -> ML-KEM-768 seed (d||z), X25519 scalar."""
    h = hashes.Hash(hashes.SHAKE256(96))
    h.update(seed)
    expanded = h.finalize()
    return expanded[:64], expanded[64:96]


class KemPublicKey:
    """An X-Wing public key: ``ML-KEM-768 pk (1184) || X25519 pk (32)``."""

    __slots__ = ("_hpke", "_raw")

    def __init__(self, mlkem_public: mlkem.MLKEM768PublicKey, x_public: x25519.X25519PublicKey):
        self._raw = mlkem_public.public_bytes_raw() + x_public.public_bytes_raw()
        self._hpke = hpke.MLKEM768X25519PublicKey(mlkem_public, x_public)

    @classmethod
    def from_bytes(cls, data: bytes) -> KemPublicKey:
        """Parse the 1216-byte encoding; refuse anything else."""
        if len(data) != PUBLIC_KEY_SIZE:
            raise MalformedIdentity(f"X-Wing public key must be {PUBLIC_KEY_SIZE} bytes")
        try:
            m = mlkem.MLKEM768PublicKey.from_public_bytes(bytes(data[:_MLKEM_PK]))
            x = x25519.X25519PublicKey.from_public_bytes(bytes(data[_MLKEM_PK:]))
        except ValueError:
            raise MalformedIdentity("invalid X-Wing public key") from None
        return cls(m, x)

    def public_bytes(self) -> bytes:
        return self._raw

    def hpke_public_key(self) -> hpke.MLKEM768X25519PublicKey:
        """The key object ``hpke.Suite.encrypt`` takes."""
        return self._hpke

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KemPublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"KemPublicKey(xwing, {self._raw[-8:].hex()}…)"


class KemPrivateKey:
    """An X-Wing private key, kept as its seed; never printed."""

    __slots__ = ("_hpke", "_mlkem", "_public", "_seed", "_x")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise InvalidKey(f"X-Wing seed must be {SEED_SIZE} bytes")
        self._seed = bytes(seed)
        mlkem_seed, x_scalar = _expand(self._seed)
        self._mlkem = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
        self._x = x25519.X25519PrivateKey.from_private_bytes(x_scalar)
        self._hpke = hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x)
        self._public = KemPublicKey(self._mlkem.public_key(), self._x.public_key())

    @classmethod
    def generate(cls) -> KemPrivateKey:
        import os

        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> KemPrivateKey:
        return cls(seed)

    def seed_bytes(self) -> bytes:
        """The 32-byte seed (secret): for encrypted persistence only."""
        return self._seed

    def public_key(self) -> KemPublicKey:
        return self._public

    def hpke_private_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """The key object ``hpke.Suite.decrypt`` takes."""
        return self._hpke

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """X-Wing decapsulation composed from ML-KEM-768, X25519 and SHA3-256.

        Not used on the bundle path (HPKE does it inside ``cryptography``); it exists so the
        tests can prove on the official vectors that the library's KEM is X-Wing.
        """
        if len(ciphertext) != CIPHERTEXT_SIZE:
            raise InvalidKey(f"X-Wing ciphertext must be {CIPHERTEXT_SIZE} bytes")
        ct_m, ct_x = bytes(ciphertext[:_MLKEM_CT]), bytes(ciphertext[_MLKEM_CT:])
        ss_m = self._mlkem.decapsulate(ct_m)
        ss_x = self._x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
        h = hashes.Hash(hashes.SHA3_256())
        for part in (ss_m, ss_x, ct_x, self._public.public_bytes()[_MLKEM_PK:], XWING_LABEL):
            h.update(part)
        return h.finalize()

    def __repr__(self) -> str:
        return f"KemPrivateKey(public={self._public!r})"
