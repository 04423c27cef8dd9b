"""Safety numbers / short authentication strings: catching a key-swapping gateway.

Sender keys travel through the gateway. If the gateway (or whoever controls it) hands each
side a forged identity, every signature still verifies — against the forger's keys. The only
defence is for the two people to compare something derived from the keys each side actually
holds, over a channel the gateway cannot rewrite: their voices, a QR code, another app. That is
what Signal's safety numbers and ZRTP's SAS do, and what this module computes.

Derivation (same on both sides, whoever computes it)::

    lo, hi   = sorted(fingerprint(A), fingerprint(B))            # order-independent
    seed     = "voxseal safety number v1" || lo || hi || transcript
    digest   = SHA-512 iterated 5200 times over seed (as Signal)  # slows offline grinding
    digits   = 12 groups of 5 decimal digits from digest[0:60]    # 5 bytes -> int mod 100000
    emoji    = 7 symbols of 6 bits from SHA-512("emoji" || digest)

``fingerprint`` covers each side's Ed25519, ML-DSA-65 (if any) and X-Wing public keys, so any
identity change changes the number. ``transcript`` (:func:`key_transcript`) binds the room and
the sealed bundles the two parties exchanged, so a per-call SAS also catches a gateway that
swaps sealed sender keys while leaving identities alone; an empty transcript gives the stable,
per-pair safety number.

Strength: the 60 digits carry ~199 bits (compare once, e.g. as a QR code); the 7 emoji carry 42
bits, enough when read aloud during the call, because a forger has to find a collision in real
time while the key exchange is in flight, and the 5200-fold iteration makes each try cost
milliseconds.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes

from voxseal.crypto.keys import PublicIdentity

__all__ = ["EMOJI", "ITERATIONS", "SafetyNumber", "key_transcript", "safety_number"]

ITERATIONS: Final = 5200
_LABEL: Final = b"voxseal safety number v1"
_TRANSCRIPT_LABEL: Final = b"voxseal key transcript v1"

#: 64 pictures that are easy to tell apart and to name aloud (index = 6-bit value)
EMOJI: Final[tuple[tuple[str, str], ...]] = (
    ("🐶", "dog"), ("🐱", "cat"), ("🦁", "lion"), ("🐎", "horse"),
    ("🦄", "unicorn"), ("🐷", "pig"), ("🐘", "elephant"), ("🐰", "rabbit"),
    ("🐼", "panda"), ("🐓", "rooster"), ("🐧", "penguin"), ("🐢", "turtle"),
    ("🐟", "fish"), ("🐙", "octopus"), ("🦋", "butterfly"), ("🌷", "flower"),
    ("🌳", "tree"), ("🌵", "cactus"), ("🍄", "mushroom"), ("🌏", "globe"),
    ("🌙", "moon"), ("☁️", "cloud"), ("🔥", "fire"), ("🍌", "banana"),
    ("🍎", "apple"), ("🍓", "strawberry"), ("🌽", "corn"), ("🍕", "pizza"),
    ("🎂", "cake"), ("❤️", "heart"), ("😀", "smiley"), ("🤖", "robot"),
    ("🎩", "hat"), ("👓", "glasses"), ("🔧", "spanner"), ("🎅", "santa"),
    ("👍", "thumbs up"), ("☂️", "umbrella"), ("⌛", "hourglass"), ("⏰", "clock"),
    ("🎁", "gift"), ("💡", "light bulb"), ("📕", "book"), ("✏️", "pencil"),
    ("📎", "paperclip"), ("✂️", "scissors"), ("🔒", "lock"), ("🔑", "key"),
    ("🔨", "hammer"), ("☎️", "telephone"), ("🏁", "flag"), ("🚂", "train"),
    ("🚲", "bicycle"), ("✈️", "aeroplane"), ("🚀", "rocket"), ("🏆", "trophy"),
    ("⚽", "ball"), ("🎸", "guitar"), ("🎺", "trumpet"), ("🔔", "bell"),
    ("⚓", "anchor"), ("🎧", "headphones"), ("📁", "folder"), ("📌", "pin"),
)  # fmt: skip


def _sha512(*parts: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA512())
    for part in parts:
        h.update(part)
    return h.finalize()


def key_transcript(room_id: str, bundles: Iterable[bytes]) -> bytes:
    """A 32-byte, order-independent digest of the room and the bundles two parties exchanged.

    Both parties of a pair hold the same two bundles (the one each sealed to the other), so
    both compute the same transcript; a gateway that substituted either bundle makes them differ.
    """
    room = room_id.encode()
    digests = sorted(_sha512(bytes(b))[:32] for b in bundles)
    h = hashes.Hash(hashes.SHA256())
    h.update(_TRANSCRIPT_LABEL + len(room).to_bytes(2, "big") + room)
    h.update(len(digests).to_bytes(4, "big"))
    for d in digests:
        h.update(d)
    return h.finalize()


@dataclass(frozen=True, slots=True)
class SafetyNumber:
    """What two people compare: ``digits`` (60, in groups of 5) and ``emoji`` (7 pictures)."""

    digits: str
    emoji: tuple[str, ...]
    emoji_names: tuple[str, ...]

    def __str__(self) -> str:
        return self.digits

    @property
    def emoji_string(self) -> str:
        return " ".join(self.emoji)

    def matches(self, other: SafetyNumber | str) -> bool:
        """Compare with what the other side read out (digits; spaces ignored), in constant time."""
        theirs = other.digits if isinstance(other, SafetyNumber) else other
        return hmac.compare_digest(
            self.digits.replace(" ", "").encode(), theirs.replace(" ", "").encode()
        )


def safety_number(
    a: PublicIdentity, b: PublicIdentity, transcript: bytes = b"", *, iterations: int = ITERATIONS
) -> SafetyNumber:
    """The safety number of the pair ``{a, b}`` (argument order does not matter)."""
    lo, hi = sorted((a.fingerprint(), b.fingerprint()))
    digest = _sha512(_LABEL, lo, hi, len(transcript).to_bytes(4, "big"), transcript)
    for _ in range(iterations - 1):
        digest = _sha512(digest, lo, hi)
    groups = [int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 60, 5)]
    digits = " ".join(f"{g:05d}" for g in groups)
    bits = int.from_bytes(_sha512(b"emoji", digest)[:6], "big")
    picks = [EMOJI[(bits >> (42 - 6 * (i + 1))) & 0x3F] for i in range(7)]
    return SafetyNumber(digits, tuple(p[0] for p in picks), tuple(p[1] for p in picks))
