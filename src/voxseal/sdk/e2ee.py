"""The end-to-end key agreement of one participant in one room, sans-I/O.

Signaling events go in (who joined, who left, an opaque ``e2ee`` payload from a peer), and
out come the messages to send (sealed sender-key bundles addressed to participants, epoch
announcements). It composes the crypto core: :class:`SenderKeySchedule` decides when a new
epoch starts and who gets which key, :func:`seal_bundle` / :class:`SenderKeyInbox` move keys,
:class:`PeerKeyRing` installs and retires them in one SFrame :class:`Receiver`.

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
    PeerKeyRing,
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
    """End-to-end encryption could not be established or kept with a peer."""

    reason = "e2ee_failed"


#: what the session asks its transport to send: sealed keys and epoch announcements
Outgoing = RelayE2EE | AnnounceKeyEpoch


@dataclass
class Peer:
    id: str
    identity: str
    index: int
    public: PublicIdentity
    key_epoch: int = 0
    #: the first bundles exchanged with this peer, both ways: the safety number's transcript
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
class E2EESession:
    identity: Identity
    room: str
    cipher_suite: int = DEFAULT_SUITE
    policy: RekeyPolicy = field(default_factory=RekeyPolicy)
    layout: KidLayout = field(default_factory=KidLayout)

    def __post_init__(self) -> None:
        self.me: str | None = None
        self.peers: dict[str, Peer] = {}
        self.receiver = Receiver(self.cipher_suite)
        self.ring = PeerKeyRing(self.receiver)
        self.inbox = SenderKeyInbox(self.identity, self.room)
        self.schedule: SenderKeySchedule | None = None
        self.failures: deque[str] = deque(maxlen=100)
        self._announced = 0
        #: hooks for the media layer: our current Sender, a peer's new key, a peer gone
        self.on_sender: Callable[[Sender], None] | None = None
        self.on_peer_key: Callable[[str, int, bytes], None] | None = None
        self.on_peer_gone: Callable[[str], None] | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.schedule.epoch if self.schedule else 0

    def ready_with(self, pid: str) -> bool:
        """Both directions keyed with ``pid``: our key sent, theirs installed."""
        peer = self.peers.get(pid)
        return bool(peer and peer.first_sent and self.ring.kids_of(peer.public.did))

    def state(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "cipher_suite": self.cipher_suite,
            "epoch": self.epoch,
            "peers": {
                p.identity: {
                    "keyed": self.ready_with(p.id),
                    "their_epoch": p.key_epoch,
                    "frames_in": p.frames_in,
                }
                for p in self.peers.values()
            },
            "failures": list(self.failures)[-10:],
        }

    def safety_number(self, pid: str) -> SafetyNumber:
        peer = self.peers.get(pid)
        if peer is None or peer.first_sent is None or peer.first_received is None:
            raise E2EEError("no keys exchanged with this participant yet")
        transcript = key_transcript(self.room, [peer.first_sent, peer.first_received])
        return safety_number(self.identity.public, peer.public, transcript)

    # -- signaling events ---------------------------------------------------------------

    def joined(
        self, me: dict[str, Any], others: list[dict[str, Any]], *, now: float
    ) -> list[Outgoing]:
        self.me = me["id"]
        for p in others:
            self._add_peer(p)
        self.schedule = SenderKeySchedule(
            self.policy,
            cipher_suite=self.cipher_suite,
            sender_index=int(me["index"]),
            now=now,
            members=[p.public.did for p in self.peers.values()],
            layout=self.layout,
        )
        return self._distribute(self.schedule.initial_distribution(), now)

    def participant_joined(self, p: dict[str, Any], *, now: float) -> list[Outgoing]:
        peer = self._add_peer(p)
        assert self.schedule is not None
        return self._distribute(self.schedule.member_joined(peer.public.did, now=now), now)

    def participant_left(self, pid: str, *, now: float) -> list[Outgoing]:
        """The leaver's keys go at once; a new epoch goes to those who remain."""
        peer = self.peers.pop(pid, None)
        if peer is None or self.schedule is None:
            return []
        self.ring.peer_left(peer.public.did)
        self.inbox.forget(peer.public.did)  # it may rejoin with the same identity at epoch 1
        if self.on_peer_gone:
            self.on_peer_gone(pid)
        dist = self.schedule.member_left(peer.public.did, now=now)
        return self._distribute(dist, now) if dist else []

    def received(self, sender: str, payload: Any, *, now: float) -> None:
        """An opaque ``e2ee`` payload from ``sender``: a sealed sender key for us."""
        peer = self.peers.get(sender)
        if peer is None:
            raise E2EEError("sealed key from a participant we do not know")
        try:
            bundle = base64.b64decode(payload, validate=True)
            key = self.inbox.open(
                bundle,
                peer.public,
                now=now,
                kid_allowed=lambda kid: self.layout.index_of(kid) == peer.index,
            )
            self.ring.install(key, now=now)
        except (ValueError, binascii.Error, CryptoError) as exc:
            self.failures.append(getattr(exc, "reason", "malformed"))
            raise E2EEError(f"sealed key from {peer.identity!r} refused: {exc}") from exc
        peer.key_epoch = key.epoch
        if self.on_peer_key:
            self.on_peer_key(peer.id, key.kid, key.base_key)
        if peer.first_received is None:
            peer.first_received = bundle

    def poll(self, *, now: float) -> list[Outgoing]:
        """Timer and frame-count rekeys, and retirement of superseded peer keys."""
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
        """Decrypt a peer's frame; returns (participant id, plaintext). Refusals raise."""
        plaintext = self.receiver.unprotect(frame, metadata)
        kid = self._kid_of(frame)
        index = self.layout.index_of(kid)
        for peer in self.peers.values():
            if peer.index == index:
                peer.frames_in += 1
                return peer.id, plaintext
        raise E2EEError("frame from a sender that is no longer in the room")

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _kid_of(frame: bytes) -> int:
        return decode_header(frame)[0]

    def _add_peer(self, p: dict[str, Any]) -> Peer:
        peer = Peer(p["id"], p["identity"], int(p["index"]), _decode_identity(p))
        # a copied identity key would let a leaver wipe the real owner's keys; a shared index,
        # KID collisions. Neither is tolerated, whoever sends it (a peer or the gateway).
        if peer.public.did == self.identity.did:
            raise E2EEError(f"{peer.identity!r} announced our own identity key")
        for other in self.peers.values():
            if other.public.did == peer.public.did or other.index == peer.index:
                raise E2EEError(f"{peer.identity!r} reuses another participant's key or index")
        self.peers[peer.id] = peer
        return peer

    def _distribute(self, dist: KeyDistribution, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for peer in self.peers.values():
            if peer.public.did not in dist.recipients:
                continue
            bundle = seal_bundle(
                self.identity,
                peer.public,
                room_id=self.room,
                epoch=dist.epoch,
                kid=dist.kid,
                cipher_suite=dist.cipher_suite,
                base_key=dist.base_key,
                expires_at=int(now) + BUNDLE_LIFETIME,
            )
            if peer.first_sent is None:
                peer.first_sent = bundle
            out.append(RelayE2EE(peer.id, base64.b64encode(bundle).decode()))
        if dist.epoch > self._announced:  # a joiner getting the current key is no new epoch
            self._announced = dist.epoch
            if self.on_sender and self.schedule is not None:
                self.on_sender(self.schedule.sender)
            out.append(AnnounceKeyEpoch(dist.epoch))
        return out
