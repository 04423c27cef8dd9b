"""The end-to-end key agreement of one participant in one room, sans-I/O.

Signaling events go in (who joined, who left, an opaque ``e2ee`` payload from a participant), and
out come the messages to send (sealed sender-key bundles addressed to participants, epoch
announcements). It composes the crypto core: :class:`SenderKeySchedule` decides when a new
epoch starts and who gets which key, :func:`seal_bundle` / :class:`SenderKeyInbox` move keys,
:class:`ParticipantKeyRing` installs and retires them in one SFrame :class:`Receiver`.

Why sans-I/O: the SDK, the agent and the telephony ingress reuse it over any transport, and the
tests drive it without a network. The gateway relays the payloads and never holds a key.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voxseal.crypto import (
    Identity,
    KidLayout,
    ParticipantKeyRing,
    PublicIdentity,
    Receiver,
    RekeyPolicy,
    SafetyNumber,
    SenderKeyInbox,
    SenderKeySchedule,
    key_transcript,
    safety_number,
    seal_bundle,
)
from voxseal.crypto.rekey import KeyDistribution
from voxseal.crypto.sframe import Sender, decode_header
from voxseal.errors import CryptoError
from voxseal.signaling.protocol import AnnounceKeyEpoch, RelayE2EE

#: how long a sealed sender key may wait in transit before the recipient refuses it
BUNDLE_LIFETIME = 300
DEFAULT_SUITE = 4  # AES_128_GCM_SHA256_128


class E2EEError(CryptoError):
    """End-to-end encryption could not be established or kept with a participant."""

    reason = "e2ee_failed"


#: what the session asks its transport to send: sealed keys and epoch announcements
Outgoing = RelayE2EE | AnnounceKeyEpoch


@dataclass
class ParticipantKeys:
    """What the key agreement knows of another participant of the room."""

    id: str
    #: its name (the join token's ``identity``)
    name: str
    #: the low bits of its SFrame KIDs
    index: int
    #: its public identity key pair, checked against its ``did:key``
    identity: PublicIdentity
    key_epoch: int = 0
    #: the first bundles exchanged with it, both ways: the safety number's transcript
    first_sent: bytes | None = None
    first_received: bytes | None = None
    frames_in: int = 0


def _decode_identity(participant: dict[str, Any]) -> PublicIdentity:
    try:
        doc = base64.b64decode(participant["identity_doc"], validate=True)
        public = PublicIdentity.decode(doc)
    except (KeyError, TypeError, ValueError, binascii.Error, CryptoError) as exc:
        raise E2EEError(
            f"participant {participant.get('identity')!r} announced an unusable identity key"
        ) from exc
    if public.did != participant.get("did"):
        raise E2EEError(f"participant {participant.get('identity')!r}: did does not match its key")
    return public


@dataclass
class KeyAgreement:
    """One participant's side of a room's sender-key agreement (see the module docstring)."""

    identity: Identity
    room: str
    cipher_suite: int = DEFAULT_SUITE
    policy: RekeyPolicy = field(default_factory=RekeyPolicy)
    layout: KidLayout = field(default_factory=KidLayout)

    def __post_init__(self) -> None:
        self.me: str | None = None
        self.participants: dict[str, ParticipantKeys] = {}
        self.receiver = Receiver(self.cipher_suite)
        self.ring = ParticipantKeyRing(self.receiver)
        self.inbox = SenderKeyInbox(self.identity, self.room)
        self.schedule: SenderKeySchedule | None = None
        self.failures: deque[str] = deque(maxlen=100)
        self._announced = 0
        #: hooks for the media layer: our current Sender, another participant's new key, one gone
        self.on_sender: Callable[[Sender], None] | None = None
        self.on_participant_key: Callable[[str, int, bytes], None] | None = None
        self.on_participant_gone: Callable[[str], None] | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.schedule.epoch if self.schedule else 0

    def ready_with(self, pid: str) -> bool:
        """Both directions keyed with ``pid``: our key sent, theirs installed."""
        other = self.participants.get(pid)
        return bool(other and other.first_sent and self.ring.kids_of(other.identity.did))

    def state(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "cipher_suite": self.cipher_suite,
            "epoch": self.epoch,
            "participants": {
                p.name: {
                    "keyed": self.ready_with(p.id),
                    "their_epoch": p.key_epoch,
                    "frames_in": p.frames_in,
                }
                for p in self.participants.values()
            },
            "failures": list(self.failures)[-10:],
        }

    def safety_number(self, pid: str) -> SafetyNumber:
        other = self.participants.get(pid)
        if other is None or other.first_sent is None or other.first_received is None:
            raise E2EEError("no keys exchanged with this participant yet")
        transcript = key_transcript(self.room, [other.first_sent, other.first_received])
        return safety_number(self.identity.public, other.identity, transcript)

    # -- signaling events ---------------------------------------------------------------

    def joined(
        self, me: dict[str, Any], others: list[dict[str, Any]], *, now: float
    ) -> list[Outgoing]:
        self.me = me["id"]
        for p in others:
            self._add_participant(p)
        self.schedule = SenderKeySchedule(
            self.policy,
            cipher_suite=self.cipher_suite,
            sender_index=int(me["index"]),
            now=now,
            participants=[p.identity.did for p in self.participants.values()],
            layout=self.layout,
        )
        return self._distribute(self.schedule.initial_distribution(), now)

    def participant_joined(self, p: dict[str, Any], *, now: float) -> list[Outgoing]:
        other = self._add_participant(p)
        assert self.schedule is not None
        return self._distribute(self.schedule.participant_joined(other.identity.did, now=now), now)

    def participant_left(self, pid: str, *, now: float) -> list[Outgoing]:
        """The leaver's keys go at once; a new epoch goes to those who remain."""
        other = self.participants.pop(pid, None)
        if other is None or self.schedule is None:
            return []
        self.ring.participant_left(other.identity.did)
        self.inbox.forget(other.identity.did)  # it may rejoin with the same identity at epoch 1
        if self.on_participant_gone:
            self.on_participant_gone(pid)
        dist = self.schedule.participant_left(other.identity.did, now=now)
        return self._distribute(dist, now) if dist else []

    def received(self, sender: str, payload: Any, *, now: float) -> None:
        """An opaque ``e2ee`` payload from ``sender``: a sealed sender key for us."""
        other = self.participants.get(sender)
        if other is None:
            raise E2EEError("sealed key from a participant we do not know")
        try:
            bundle = base64.b64decode(payload, validate=True)
            key = self.inbox.open(
                bundle,
                other.identity,
                now=now,
                kid_allowed=lambda kid: self.layout.index_of(kid) == other.index,
            )
            self.ring.install(key, now=now)
        except (ValueError, binascii.Error, CryptoError) as exc:
            self.failures.append(getattr(exc, "reason", "malformed"))
            raise E2EEError(f"sealed key from {other.name!r} refused: {exc}") from exc
        other.key_epoch = key.epoch
        if self.on_participant_key:
            self.on_participant_key(other.id, key.kid, key.base_key)
        if other.first_received is None:
            other.first_received = bundle

    def poll(self, *, now: float) -> list[Outgoing]:
        """Timer and frame-count rekeys, and retirement of superseded keys of the others."""
        self.ring.poll(now=now)
        if self.schedule is None:
            return []
        dist = self.schedule.poll(now=now)
        return self._distribute(dist, now) if dist else []

    def rotate(self, *, now: float) -> list[Outgoing]:
        assert self.schedule is not None
        return self._distribute(self.schedule.rotate(now=now), now)

    # -- media ----------------------------------------------------------------------------

    def protect(self, frame: bytes, metadata: bytes = b"") -> bytes:
        if self.schedule is None:
            raise E2EEError("not joined: no sender key yet")
        return self.schedule.sender.protect(frame, metadata)

    def unprotect(self, frame: bytes, metadata: bytes = b"") -> tuple[str, bytes]:
        """Decrypt another participant's frame: (its participant id, plaintext). Refusals raise."""
        plaintext = self.receiver.unprotect(frame, metadata)
        kid = self._kid_of(frame)
        index = self.layout.index_of(kid)
        for other in self.participants.values():
            if other.index == index:
                other.frames_in += 1
                return other.id, plaintext
        raise E2EEError("frame from a sender that is no longer in the room")

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _kid_of(frame: bytes) -> int:
        return decode_header(frame)[0]

    def _add_participant(self, p: dict[str, Any]) -> ParticipantKeys:
        new = ParticipantKeys(p["id"], p["identity"], int(p["index"]), _decode_identity(p))
        # a copied identity key would let a leaver wipe the real owner's keys; a shared index,
        # KID collisions. Neither is tolerated, whoever sends it (a participant or the gateway).
        if new.identity.did == self.identity.did:
            raise E2EEError(f"{new.name!r} announced our own identity key")
        for other in self.participants.values():
            if other.identity.did == new.identity.did or other.index == new.index:
                raise E2EEError(f"{new.name!r} reuses another participant's key or index")
        self.participants[new.id] = new
        return new

    def _distribute(self, dist: KeyDistribution, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for other in self.participants.values():
            if other.identity.did not in dist.recipients:
                continue
            bundle = seal_bundle(
                self.identity,
                other.identity,
                room_id=self.room,
                epoch=dist.epoch,
                kid=dist.kid,
                cipher_suite=dist.cipher_suite,
                base_key=dist.base_key,
                expires_at=int(now) + BUNDLE_LIFETIME,
            )
            if other.first_sent is None:
                other.first_sent = bundle
            out.append(RelayE2EE(other.id, base64.b64encode(bundle).decode()))
        if dist.epoch > self._announced:  # a joiner getting the current key is no new epoch
            self._announced = dist.epoch
            if self.on_sender and self.schedule is not None:
                self.on_sender(self.schedule.sender)
            out.append(AnnounceKeyEpoch(dist.epoch))
        return out
