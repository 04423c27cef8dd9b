"""When sender keys change, and who gets which: rekey policy as sans-I/O state machines.

Two objects, one per side of a stream:

* :class:`SenderKeySchedule` — one local sender in one room. It owns the current epoch's
  random base key and :class:`~voxseal.crypto.sframe.Sender`, and tells the caller, as a
  :class:`KeyDistribution`, which participants must be sent (sealed) which epoch key:

  - a participant **leaves** → a new epoch with a fresh random key, sent to the remaining
    participants only: the leaver holds no key for anything sent afterwards (post-removal secrecy);
  - the **timer** runs out, or the sender has sent **N frames** → a new epoch (limits how
    much traffic one key protects and how long a stolen key is useful);
  - a participant **joins** → the *current* key goes to the joiner only, never earlier epochs
    (keys of past epochs are wiped as soon as they are superseded, so there is nothing older
    to give). With ``rekey_on_join`` a join starts a new epoch instead, so the joiner cannot
    read even the current epoch's earlier frames if someone recorded them.

* :class:`ParticipantKeyRing` — the receive side: installs opened :class:`SenderKey`\\ s into a
  :class:`~voxseal.crypto.sframe.Receiver`, keeps a superseded epoch only for a short grace
  period (frames in flight), and retires every key of a participant that left at once.

Nothing here reads a clock or sends anything: ``now`` is passed in and the caller seals and
delivers bundles (:func:`voxseal.crypto.bundle.seal_for_participants`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from voxseal.crypto.bundle import SenderKey
from voxseal.crypto.errors import KeyIdConflict
from voxseal.crypto.sframe import MAX_KID, Receiver, Sender, suite_params

__all__ = [
    "KeyDistribution",
    "KidLayout",
    "ParticipantKeyRing",
    "RekeyPolicy",
    "RekeyReason",
    "SenderKeySchedule",
]


class RekeyReason(StrEnum):
    INITIAL = "initial"
    PARTICIPANT_LEFT = "participant_left"
    PARTICIPANT_JOINED = "participant_joined"
    TIMER = "timer"
    FRAME_LIMIT = "frame_limit"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class RekeyPolicy:
    """How often a sender starts a new epoch.

    Defaults: every 10 minutes, or after 2**24 frames (~93 h of 20 ms audio; far below the
    AES-GCM per-key limits), and always when a participant leaves.
    """

    interval: float = 600.0
    max_frames: int = 1 << 24
    rekey_on_join: bool = False

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.max_frames < 1:
            raise ValueError("interval and max_frames must be positive")


@dataclass(frozen=True, slots=True)
class KidLayout:
    """KID = ``epoch << index_bits | sender_index``: one KID per sender per epoch.

    Keeping the epoch in the KID lets receivers hold two epochs of the same sender at once
    (during a handover) and retire one precisely; 16 index bits allow 65,536 senders per room.
    """

    index_bits: int = 16

    def compose(self, epoch: int, sender_index: int) -> int:
        if not 0 <= sender_index < 1 << self.index_bits:
            raise ValueError("sender index out of range for the KID layout")
        kid = (epoch << self.index_bits) | sender_index
        if not 0 <= kid <= MAX_KID:
            raise ValueError("epoch out of range for the KID layout")
        return kid

    def epoch_of(self, kid: int) -> int:
        return kid >> self.index_bits

    def index_of(self, kid: int) -> int:
        return kid & ((1 << self.index_bits) - 1)


@dataclass(frozen=True, slots=True)
class KeyDistribution:
    """An instruction: seal this epoch's key to these recipients (DIDs) and send the bundles."""

    epoch: int
    kid: int
    cipher_suite: int
    reason: RekeyReason
    recipients: frozenset[str]
    base_key: bytes = field(repr=False)


class SenderKeySchedule:
    """Epochs of one local sender in one room (see the module docstring for the rules)."""

    __slots__ = (
        "_base_key",
        "_epoch",
        "_layout",
        "_participants",
        "_pending_initial",
        "_policy",
        "_random",
        "_sender",
        "_sender_index",
        "_started",
        "_suite",
    )

    def __init__(
        self,
        policy: RekeyPolicy,
        *,
        cipher_suite: int,
        sender_index: int,
        now: float,
        participants: Iterable[str] = (),
        first_epoch: int = 1,
        layout: KidLayout | None = None,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._policy = policy
        self._suite = int(cipher_suite)
        self._layout = layout or KidLayout()
        self._sender_index = sender_index
        self._random = random
        self._participants: set[str] = set(participants)
        self._epoch = first_epoch - 1
        self._sender: Sender | None = None
        self._base_key = b""
        self._started = now
        self._pending_initial = self._new_epoch(now, RekeyReason.INITIAL)

    def __repr__(self) -> str:
        return (
            f"SenderKeySchedule(epoch={self._epoch}, participants={len(self._participants)}, "
            f"suite={self._suite})"
        )

    # -- state --

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def kid(self) -> int:
        return self._layout.compose(self._epoch, self._sender_index)

    @property
    def participants(self) -> frozenset[str]:
        return frozenset(self._participants)

    @property
    def sender(self) -> Sender:
        """The current epoch's :class:`Sender` (replaced on every rekey: re-read after one)."""
        assert self._sender is not None
        return self._sender

    def initial_distribution(self) -> KeyDistribution:
        """The first epoch's key, for the participants given at construction."""
        return self._pending_initial

    # -- events --

    def participant_joined(self, participant: str, *, now: float) -> KeyDistribution:
        """A participant was admitted: the current key to it alone (or a new epoch to everyone)."""
        self._participants.add(participant)
        if self._policy.rekey_on_join:
            return self._new_epoch(now, RekeyReason.PARTICIPANT_JOINED)
        return self._distribution(RekeyReason.PARTICIPANT_JOINED, frozenset({participant}))

    def participant_left(self, participant: str, *, now: float) -> KeyDistribution | None:
        """A participant left: new epoch for those who remain (None if it was not one)."""
        if participant not in self._participants:
            return None
        self._participants.discard(participant)
        return self._new_epoch(now, RekeyReason.PARTICIPANT_LEFT)

    def poll(self, *, now: float) -> KeyDistribution | None:
        """Call periodically (and after sending): a new epoch if the timer or frame limit hit."""
        if self.sender.counter >= self._policy.max_frames:
            return self._new_epoch(now, RekeyReason.FRAME_LIMIT)
        if now - self._started >= self._policy.interval:
            return self._new_epoch(now, RekeyReason.TIMER)
        return None

    def rotate(self, *, now: float) -> KeyDistribution:
        """Start a new epoch now (e.g. on suspicion of compromise)."""
        return self._new_epoch(now, RekeyReason.MANUAL)

    def next_deadline(self) -> float:
        """When :meth:`poll` will next rekey on the timer (for the caller's timer wheel)."""
        return self._started + self._policy.interval

    # -- internals --

    def _new_epoch(self, now: float, reason: RekeyReason) -> KeyDistribution:
        self._epoch += 1
        kid = self._layout.compose(self._epoch, self._sender_index)
        self._base_key = self._random(max(32, suite_params(self._suite).nh))
        if self._sender is not None:
            self._sender.close()  # wipe the superseded key: nothing old to hand out later
        self._sender = Sender(self._suite, kid, self._base_key)
        self._started = now
        return self._distribution(reason, frozenset(self._participants))

    def _distribution(self, reason: RekeyReason, recipients: frozenset[str]) -> KeyDistribution:
        return KeyDistribution(
            self._epoch, self.kid, self._suite, reason, recipients, self._base_key
        )


class ParticipantKeyRing:
    """Receive-side key lifecycle over one :class:`Receiver` (all other participants of one room).

    ``grace`` seconds after a participant's newer epoch is installed, its older epoch KIDs are
    retired (wiped); that covers frames already in flight at the switch without keeping keys
    around.
    """

    __slots__ = ("_grace", "_kids", "_receiver", "_retire_at")

    def __init__(self, receiver: Receiver, *, grace: float = 2.0) -> None:
        if grace < 0:
            raise ValueError("grace must be >= 0")
        self._receiver = receiver
        self._grace = grace
        self._kids: dict[str, dict[int, int]] = {}  # sender -> {epoch: kid}
        self._retire_at: dict[int, float] = {}  # kid -> deadline

    def __repr__(self) -> str:
        return (
            f"ParticipantKeyRing(participants={len(self._kids)}, "
            f"pending_retirements={len(self._retire_at)})"
        )

    def install(self, key: SenderKey, *, now: float) -> None:
        """Install an opened sender key; schedule that sender's older epochs for retirement.

        Refuses (:class:`KeyIdConflict`) a KID that belongs to another sender, so one participant
        cannot take over another's KID. Installing the same key again keeps its replay window.
        """
        if key.cipher_suite != self._receiver.cipher_suite:
            raise ValueError("sender key suite differs from the receiver's suite")
        for sender, epochs in self._kids.items():
            if sender != key.sender and key.kid in epochs.values():
                raise KeyIdConflict(f"KID {key.kid} already belongs to {sender}")
        epochs = self._kids.setdefault(key.sender, {})
        if epochs.get(key.epoch, key.kid) != key.kid:
            raise KeyIdConflict(f"{key.sender} sent two KIDs for epoch {key.epoch}")
        self._receiver.add_key(key.kid, key.base_key)
        epochs[key.epoch] = key.kid
        for epoch, kid in epochs.items():
            if epoch < key.epoch and kid not in self._retire_at:
                self._retire_at[kid] = now + self._grace

    def participant_left(self, sender: str) -> list[int]:
        """Retire every key of a participant that left, immediately; return the KIDs retired."""
        kids = list(self._kids.pop(sender, {}).values())
        for kid in kids:
            self._receiver.remove_key(kid)
            self._retire_at.pop(kid, None)
        return kids

    def poll(self, *, now: float) -> list[int]:
        """Retire keys whose grace period is over; return their KIDs."""
        due = [kid for kid, at in self._retire_at.items() if at <= now]
        for kid in due:
            del self._retire_at[kid]
            self._receiver.remove_key(kid)
            for epochs in self._kids.values():
                for epoch, k in list(epochs.items()):
                    if k == kid:
                        del epochs[epoch]
        return due

    def kids_of(self, sender: str) -> list[int]:
        return sorted(self._kids.get(sender, {}).values())
