"""End-to-end encryption core, sans-I/O.

* :mod:`voxseal.crypto.sframe` — SFrame (RFC 9605): functional ``encrypt``/``decrypt``, and the
  stream state ``Sender`` / ``Receiver`` (replay window, bounded key store, ratchet).
* :mod:`voxseal.crypto.keys` — endpoint identities: Ed25519 (+ optional ML-DSA-65), ``did:key``.
* :mod:`voxseal.crypto.xwing` — the X-Wing hybrid KEM key (HPKE's MLKEM768-X25519).
* :mod:`voxseal.crypto.bundle` — sealed, signed sender-key bundles relayed by the gateway.
* :mod:`voxseal.crypto.sas` — safety numbers / short authentication strings.
* :mod:`voxseal.crypto.rekey` — when keys change and who receives them.
* :mod:`voxseal.crypto.errors` — typed refusals (all ``voxseal.errors.CryptoError``).

Nothing in this package opens a socket, starts a task or reads a clock: time is passed in, so
the gateway, the SDK, the agent and the telephony ingress reuse one tested core. The protocol
is described for reviewers in ``docs/e2ee.md``.
"""

from voxseal.crypto.bundle import (
    SenderKey,
    SenderKeyBundle,
    SenderKeyInbox,
    open_bundle,
    seal_bundle,
    seal_for_participants,
)
from voxseal.crypto.keys import Identity, PublicIdentity
from voxseal.crypto.rekey import (
    KeyDistribution,
    KidLayout,
    ParticipantKeyRing,
    RekeyPolicy,
    RekeyReason,
    SenderKeySchedule,
)
from voxseal.crypto.sas import SafetyNumber, key_transcript, safety_number
from voxseal.crypto.sframe import CipherSuite, Receiver, Sender
from voxseal.crypto.xwing import KemPrivateKey, KemPublicKey

__all__ = [
    "CipherSuite",
    "Identity",
    "KemPrivateKey",
    "KemPublicKey",
    "KeyDistribution",
    "KidLayout",
    "ParticipantKeyRing",
    "PublicIdentity",
    "Receiver",
    "RekeyPolicy",
    "RekeyReason",
    "SafetyNumber",
    "Sender",
    "SenderKey",
    "SenderKeyBundle",
    "SenderKeyInbox",
    "SenderKeySchedule",
    "key_transcript",
    "open_bundle",
    "safety_number",
    "seal_bundle",
    "seal_for_participants",
]
