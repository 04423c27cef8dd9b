"""Sealed sender-key bundles: round trip, every refusal the issue lists, strict parsing."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxseal.crypto import bundle as b
from voxseal.crypto.bundle import (
    MAX_BUNDLE_SIZE,
    SenderKeyBundle,
    SenderKeyInbox,
    UnsealFailed,
    open_bundle,
    seal_bundle,
    seal_for_participants,
)
from voxseal.crypto.errors import (
    BadSignature,
    BundleError,
    BundleExpired,
    CryptoError,
    KeyIdConflict,
    MalformedBundle,
    StaleEpoch,
    UnknownSender,
    UnsupportedVersion,
    WrongRecipient,
    WrongRoom,
)
from voxseal.crypto.keys import Identity
from voxseal.crypto.sframe import Receiver, Sender

NOW = 1_700_000_000
ROOM = "room-7f3a"


@pytest.fixture(scope="module")
def alice() -> Identity:
    return Identity.generate()


@pytest.fixture(scope="module")
def bob() -> Identity:
    return Identity.generate()


@pytest.fixture(scope="module")
def carol() -> Identity:
    return Identity.generate(post_quantum_signatures=True)


def seal(sender: Identity, recipient: Identity, **kw: object) -> bytes:
    args: dict[str, object] = {
        "room_id": ROOM,
        "epoch": 5,
        "kid": 0x0501,
        "cipher_suite": 4,
        "base_key": bytes(range(32)),
        "expires_at": NOW + 300,
    }
    args.update(kw)
    return seal_bundle(sender, recipient.public, **args)  # type: ignore[arg-type]


def open_(blob: bytes, recipient: Identity, sender: Identity, **kw: object) -> b.SenderKey:
    args: dict[str, object] = {"room_id": ROOM, "now": NOW}
    args.update(kw)
    return open_bundle(blob, recipient=recipient, sender=sender.public, **args)  # type: ignore[arg-type]


def test_round_trip_installs_a_working_sframe_key(alice: Identity, bob: Identity) -> None:
    base_key = os.urandom(32)
    blob = seal(alice, bob, base_key=base_key)
    key = open_(blob, bob, alice)
    assert (key.sender, key.room_id, key.epoch, key.kid, key.cipher_suite) == (
        alice.did,
        ROOM,
        5,
        0x0501,
        4,
    )
    assert key.base_key == base_key
    assert base_key.hex() not in repr(key)
    receiver = Receiver(key.cipher_suite)
    receiver.add_key(key.kid, key.base_key)
    frame = Sender(4, 0x0501, base_key).protect(b"hello")
    assert receiver.unprotect(frame) == b"hello"


def test_hybrid_signed_bundle(carol: Identity, bob: Identity) -> None:
    blob = seal(carol, bob)
    assert open_(blob, bob, carol).sender == carol.did
    assert len(blob) <= MAX_BUNDLE_SIZE
    parsed = SenderKeyBundle.decode(blob)
    with pytest.raises(BadSignature):  # stripping the ML-DSA half is refused
        open_(replace(parsed, signature=parsed.signature[:64]).encode(), bob, carol)


def test_wrong_recipient(alice: Identity, bob: Identity, carol: Identity) -> None:
    with pytest.raises(WrongRecipient):
        open_(seal(alice, bob), carol, alice)


def test_wrong_room(alice: Identity, bob: Identity) -> None:
    with pytest.raises(WrongRoom):
        open_(seal(alice, bob), bob, alice, room_id="another-room")


def test_unexpected_sender(alice: Identity, bob: Identity, carol: Identity) -> None:
    with pytest.raises(UnknownSender):
        open_(seal(alice, bob), bob, carol)


def test_expired(alice: Identity, bob: Identity) -> None:
    blob = seal(alice, bob, expires_at=NOW + 10)
    open_(blob, bob, alice, now=NOW + 9.5)
    with pytest.raises(BundleExpired):
        open_(blob, bob, alice, now=NOW + 10)


def test_old_epoch_refused(alice: Identity, bob: Identity) -> None:
    with pytest.raises(StaleEpoch):
        open_(seal(alice, bob, epoch=4), bob, alice, min_epoch=5)


def test_inbox_refuses_rollback_and_equivocation(alice: Identity, bob: Identity) -> None:
    inbox = SenderKeyInbox(bob, ROOM)
    k6 = os.urandom(32)
    first = seal(alice, bob, epoch=6, base_key=k6)
    assert inbox.open(first, alice.public, now=NOW).epoch == 6
    assert inbox.open(first, alice.public, now=NOW).epoch == 6  # retransmission is fine
    with pytest.raises(StaleEpoch):  # rollback to an older epoch
        inbox.open(seal(alice, bob, epoch=5), alice.public, now=NOW)
    with pytest.raises(StaleEpoch):  # a second, different key for the same epoch
        inbox.open(seal(alice, bob, epoch=6, base_key=os.urandom(32)), alice.public, now=NOW)
    assert inbox.open(seal(alice, bob, epoch=7), alice.public, now=NOW).epoch == 7
    assert inbox.current_epoch(alice.did) == 7
    assert "base_key" not in repr(inbox)


def test_a_bundle_with_a_foreign_kid_leaves_no_trace_in_the_inbox(
    alice: Identity, bob: Identity
) -> None:
    """The room's KID rule is checked before the epoch is remembered: a refused bundle must not
    make the sender's correct bundle for that epoch look like a second key (equivocation)."""
    inbox = SenderKeyInbox(bob, ROOM)
    mine = lambda kid: kid >> 8 == 0x05  # noqa: E731 - alice's KIDs carry her index 5
    with pytest.raises(KeyIdConflict):
        inbox.open(seal(alice, bob, epoch=6, kid=0x0601), alice.public, now=NOW, kid_allowed=mine)
    assert inbox.current_epoch(alice.did) is None
    right = seal(alice, bob, epoch=6, kid=0x0506)
    good = inbox.open(right, alice.public, now=NOW, kid_allowed=mine)
    assert (good.epoch, good.kid) == (6, 0x0506)


def test_bad_signature(alice: Identity, bob: Identity) -> None:
    parsed = SenderKeyBundle.decode(seal(alice, bob))
    forged = replace(parsed, epoch=parsed.epoch + 100)  # attacker bumps the epoch
    with pytest.raises(BadSignature):
        open_(forged.encode(), bob, alice)
    sig = bytearray(parsed.signature)
    sig[0] ^= 1
    with pytest.raises(BadSignature):
        open_(replace(parsed, signature=bytes(sig)).encode(), bob, alice)


def test_sealed_key_is_bound_to_its_context(alice: Identity, bob: Identity) -> None:
    """Even the genuine sender cannot move a sealed key to another room by re-signing."""
    parsed = SenderKeyBundle.decode(seal(alice, bob))
    moved = replace(parsed, room_id="other-room", signature=b"")
    resigned = replace(
        moved, signature=alice.sign(moved.signed_bytes(), context=b._SIGNATURE_CONTEXT)
    )
    with pytest.raises(UnsealFailed):
        open_(resigned.encode(), bob, alice, room_id="other-room")


def test_unknown_version(alice: Identity, bob: Identity) -> None:
    blob = seal(alice, bob)
    for version in (0, 2, 255):
        with pytest.raises(UnsupportedVersion) as info:
            open_(bytes([version]) + blob[1:], bob, alice)
        assert info.value.version == version


def test_truncated_at_every_length(alice: Identity, bob: Identity) -> None:
    blob = seal(alice, bob)
    for cut in range(len(blob)):
        with pytest.raises(MalformedBundle):
            SenderKeyBundle.decode(blob[:cut])


def test_oversized_and_trailing(alice: Identity, bob: Identity) -> None:
    blob = seal(alice, bob)
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(blob + b"\x00")
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(blob + b"\x00" * MAX_BUNDLE_SIZE)
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(b"\x01" + b"\xff" * (MAX_BUNDLE_SIZE + 10))


def test_bad_fields_refused(alice: Identity, bob: Identity) -> None:
    parsed = SenderKeyBundle.decode(seal(alice, bob))
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(replace(parsed, cipher_suite=9).encode())
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(replace(parsed, sealed=parsed.sealed[:-20]).encode())
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(replace(parsed, room_id="").encode())
    raw = bytearray(parsed.encode())
    raw[26 + 1] = 0xFF  # invalid UTF-8 in the room id
    with pytest.raises(MalformedBundle):
        SenderKeyBundle.decode(bytes(raw))


def test_seal_for_participants_skips_self(alice: Identity, bob: Identity, carol: Identity) -> None:
    blobs = seal_for_participants(
        alice,
        [alice.public, bob.public, carol.public],
        room_id=ROOM,
        epoch=1,
        kid=0x101,
        cipher_suite=5,
        base_key=os.urandom(64),
        expires_at=NOW + 60,
    )
    assert set(blobs) == {bob.did, carol.did}
    assert open_(blobs[carol.did], carol, alice).cipher_suite == 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_bit_flip_is_refused(data: st.DataObject) -> None:
    blob = _BLOB[0]
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    tampered = bytearray(blob)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CryptoError) as info:
        open_(bytes(tampered), _PARTIES[1], _PARTIES[0])
    assert isinstance(info.value, (BundleError, BadSignature))


_PARTIES = [Identity.generate(), Identity.generate()]
_BLOB = [seal(_PARTIES[0], _PARTIES[1])]
