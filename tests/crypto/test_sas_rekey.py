"""Safety numbers and rekey policy."""

from __future__ import annotations

import pytest

from voxseal.crypto.bundle import SenderKeyInbox, seal_for_participants
from voxseal.crypto.errors import AuthenticationFailed, UnknownKey
from voxseal.crypto.keys import Identity
from voxseal.crypto.rekey import (
    KidLayout,
    ParticipantKeyRing,
    RekeyPolicy,
    RekeyReason,
    SenderKeySchedule,
)
from voxseal.crypto.sas import EMOJI, SafetyNumber, key_transcript, safety_number
from voxseal.crypto.sframe import Receiver

ROOM = "room-1"


@pytest.fixture(scope="module")
def people() -> list[Identity]:
    return [Identity.generate() for _ in range(3)]


# --- safety numbers --------------------------------------------------------------------------


def test_safety_number_is_order_independent(people: list[Identity]) -> None:
    a, b, _ = people
    t = key_transcript(ROOM, [b"bundle a->b", b"bundle b->a"])
    assert t == key_transcript(ROOM, [b"bundle b->a", b"bundle a->b"])
    ab = safety_number(a.public, b.public, t)
    ba = safety_number(b.public, a.public, t)
    assert ab == ba
    assert ab.matches(ba) and ab.matches(ba.digits.replace(" ", ""))


def test_safety_number_shape(people: list[Identity]) -> None:
    a, b, _ = people
    sn = safety_number(a.public, b.public)
    groups = sn.digits.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    assert str(sn) == sn.digits
    assert len(sn.emoji) == 7 and len(sn.emoji_names) == 7
    assert all((e, n) in EMOJI for e, n in zip(sn.emoji, sn.emoji_names, strict=True))
    assert len(EMOJI) == 64 and len({e for e, _ in EMOJI}) == 64


def test_safety_number_changes_with_any_identity_or_transcript(people: list[Identity]) -> None:
    a, b, c = people
    base = safety_number(a.public, b.public, b"t")
    others = [
        safety_number(a.public, c.public, b"t"),  # b replaced
        safety_number(c.public, b.public, b"t"),  # a replaced
        safety_number(a.public, b.public, b"u"),  # transcript differs
        safety_number(a.public, b.public),
    ]
    for other in others:
        assert other.digits != base.digits
        assert not base.matches(other)
    # same signing key but a swapped KEM key is a different identity too
    # (export_secret: version, flags, the Ed25519 seed, then the X-Wing seed)
    a2 = Identity.from_secret(a.export_secret()[:34] + Identity.generate().export_secret()[34:])
    assert a2.did == a.did
    assert safety_number(a2.public, b.public, b"t").digits != base.digits


def test_transcript_detects_substituted_bundle(people: list[Identity]) -> None:
    a, b, _ = people
    genuine = key_transcript(ROOM, [b"a->b", b"b->a"])
    assert genuine != key_transcript(ROOM, [b"a->b", b"forged b->a"])
    assert genuine != key_transcript("room-2", [b"a->b", b"b->a"])
    sa = safety_number(a.public, b.public, genuine)
    sb = safety_number(b.public, a.public, key_transcript(ROOM, [b"a->b", b"forged b->a"]))
    assert not sa.matches(sb)
    assert isinstance(sa, SafetyNumber)


# --- KID layout ------------------------------------------------------------------------------


def test_kid_layout() -> None:
    layout = KidLayout(index_bits=8)
    kid = layout.compose(5, 3)
    assert kid == 0x503
    assert layout.epoch_of(kid) == 5 and layout.index_of(kid) == 3
    with pytest.raises(ValueError):
        layout.compose(1, 256)
    with pytest.raises(ValueError):
        layout.compose(1 << 60, 0)


# --- sender schedule -------------------------------------------------------------------------


def test_participant_leaving_starts_an_epoch_without_them() -> None:
    s = SenderKeySchedule(
        RekeyPolicy(), cipher_suite=4, sender_index=1, now=0, participants={"b", "c"}
    )
    first = s.initial_distribution()
    assert first.reason is RekeyReason.INITIAL and first.recipients == {"b", "c"}
    assert first.epoch == 1 and first.kid == KidLayout().compose(1, 1)
    old_sender = s.sender
    dist = s.participant_left("c", now=5)
    assert dist is not None
    assert dist.reason is RekeyReason.PARTICIPANT_LEFT
    assert dist.recipients == {"b"} and dist.epoch == 2
    assert dist.base_key != first.base_key
    assert s.sender is not old_sender and s.sender.kid == dist.kid
    with pytest.raises(UnknownKey):  # the superseded key is wiped
        old_sender.protect(b"x")
    # c, holding only epoch 1, cannot read epoch 2
    c_receiver = Receiver(4)
    c_receiver.add_key(first.kid, first.base_key)
    with pytest.raises(UnknownKey):
        c_receiver.unprotect(s.sender.protect(b"after c left"))
    c_receiver.add_key(dist.kid, first.base_key)  # even guessing the KID does not help
    with pytest.raises(AuthenticationFailed):
        c_receiver.unprotect(s.sender.protect(b"after c left"))
    assert s.participant_left("nobody", now=6) is None


def test_timer_and_frame_limit() -> None:
    s = SenderKeySchedule(
        RekeyPolicy(interval=60, max_frames=5), cipher_suite=4, sender_index=0, now=100
    )
    assert s.next_deadline() == 160
    assert s.poll(now=159) is None
    timer = s.poll(now=160)
    assert timer is not None and timer.reason is RekeyReason.TIMER and s.epoch == 2
    for _ in range(4):
        s.sender.protect(b"x")
    assert s.poll(now=161) is None
    s.sender.protect(b"x")
    limit = s.poll(now=161)
    assert limit is not None and limit.reason is RekeyReason.FRAME_LIMIT and s.epoch == 3
    assert s.sender.counter == 0
    assert s.rotate(now=170).reason is RekeyReason.MANUAL
    assert "base_key" not in repr(limit) and limit.base_key.hex() not in repr(s)


def test_late_joiner_gets_only_the_current_key() -> None:
    s = SenderKeySchedule(RekeyPolicy(), cipher_suite=4, sender_index=2, now=0, participants={"b"})
    s.rotate(now=1)
    current = s.rotate(now=2)
    join = s.participant_joined("late", now=3)
    assert join.recipients == {"late"}
    assert (join.epoch, join.kid, join.base_key) == (current.epoch, current.kid, current.base_key)
    assert s.epoch == 3


def test_rekey_on_join_option() -> None:
    s = SenderKeySchedule(
        RekeyPolicy(rekey_on_join=True), cipher_suite=5, sender_index=0, now=0, participants={"b"}
    )
    first = s.initial_distribution()
    assert len(first.base_key) == 64  # Nh of the SHA-512 suite
    join = s.participant_joined("late", now=1)
    assert join.epoch == 2 and join.recipients == {"b", "late"}


# --- receive side, end to end ------------------------------------------------------------------


def test_end_to_end_rekey_through_bundles(people: list[Identity]) -> None:
    alice, bob, carol = people
    schedule = SenderKeySchedule(
        RekeyPolicy(), cipher_suite=4, sender_index=7, now=0, participants={bob.did, carol.did}
    )
    directory = {p.did: p.public for p in people}

    def deliver(dist, now):  # type: ignore[no-untyped-def]
        return seal_for_participants(
            alice,
            [directory[d] for d in dist.recipients],
            room_id=ROOM,
            epoch=dist.epoch,
            kid=dist.kid,
            cipher_suite=dist.cipher_suite,
            base_key=dist.base_key,
            expires_at=int(now) + 600,
        )

    rings = {}
    receivers = {}
    inboxes = {}
    for p in (bob, carol):
        receivers[p.did] = Receiver(4)
        rings[p.did] = ParticipantKeyRing(receivers[p.did], grace=2.0)
        inboxes[p.did] = SenderKeyInbox(p, ROOM)

    def receive(blobs, now):  # type: ignore[no-untyped-def]
        for did, blob in blobs.items():
            key = inboxes[did].open(blob, alice.public, now=now)
            rings[did].install(key, now=now)

    receive(deliver(schedule.initial_distribution(), 0), 0)
    in_flight = schedule.sender.protect(b"epoch 1")
    for p in (bob, carol):
        assert receivers[p.did].unprotect(in_flight) == b"epoch 1"

    dist = schedule.participant_left(carol.did, now=10)
    assert dist is not None
    receive(deliver(dist, 10), 10)
    late = schedule.sender.protect(b"epoch 2")
    assert receivers[bob.did].unprotect(late) == b"epoch 2"
    with pytest.raises(UnknownKey):
        receivers[carol.did].unprotect(late)
    # bob keeps epoch 1 for the grace period, then retires it
    assert len(rings[bob.did].kids_of(alice.did)) == 2
    assert rings[bob.did].poll(now=11) == []
    assert rings[bob.did].poll(now=12) == [KidLayout().compose(1, 7)]
    assert rings[bob.did].kids_of(alice.did) == [KidLayout().compose(2, 7)]
    # carol's side: alice left her view; all of alice's keys go at once
    assert rings[carol.did].participant_left(alice.did) == [KidLayout().compose(1, 7)]
    assert len(receivers[carol.did]) == 0


def test_kid_owned_by_another_sender_is_refused() -> None:
    from voxseal.crypto.bundle import SenderKey
    from voxseal.crypto.errors import KeyIdConflict

    ring = ParticipantKeyRing(Receiver(4))
    ring.install(SenderKey("did:a", ROOM, 1, 0x10001, 4, 10**10, bytes(32)), now=0)
    with pytest.raises(KeyIdConflict):  # b tries to take over a's KID
        ring.install(SenderKey("did:b", ROOM, 1, 0x10001, 4, 10**10, bytes(range(32))), now=0)
    with pytest.raises(KeyIdConflict):  # a second KID for the same epoch
        ring.install(SenderKey("did:a", ROOM, 1, 0x10002, 4, 10**10, bytes(32)), now=0)
    # the same key again (retransmission) is fine and keeps the replay window
    ring.install(SenderKey("did:a", ROOM, 1, 0x10001, 4, 10**10, bytes(32)), now=1)
    assert ring.kids_of("did:a") == [0x10001]
