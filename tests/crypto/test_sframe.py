"""SFrame behaviour beyond the vectors: counters, replay window, key store, ratchet, tampering."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxseal.crypto import sframe
from voxseal.crypto.errors import (
    AuthenticationFailed,
    CounterExhausted,
    CryptoError,
    FrameError,
    InvalidKey,
    MalformedFrame,
    MalformedHeader,
    ReplayDetected,
    UnknownKey,
    UnsupportedCipherSuite,
)
from voxseal.crypto.sframe import MAX_COUNTER, CipherSuite, Receiver, Sender
from voxseal.errors import VoxsealError

SUITES = [int(s) for s in CipherSuite]
KEY = bytes(range(32))


def pair(suite: int = 4, kid: int = 0x1234, **kw: int) -> tuple[Sender, Receiver]:
    sender = Sender(suite, kid, KEY)
    receiver = Receiver(suite, **kw)
    receiver.add_key(kid, KEY)
    return sender, receiver


# --- header ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\x88\x05",  # extended KID of 1 byte holding 5 (<8): must be in the config byte
        b"\x08\x03",  # extended CTR holding 3
        b"\x98\x00\x10\x09",  # 2-byte KID with a leading zero byte
        b"\x09\x00\xff",  # 2-byte CTR with a leading zero byte
    ],
)
def test_non_minimal_header_refused(raw: bytes) -> None:
    with pytest.raises(MalformedHeader):
        sframe.decode_header(raw)


def test_header_round_trip_bounds() -> None:
    for kid in (0, 7, 8, 255, 256, 2**64 - 1):
        for ctr in (0, 7, 8, 2**32, 2**64 - 1):
            enc = sframe.encode_header(kid, ctr)
            assert sframe.decode_header(enc + b"tail") == (kid, ctr, len(enc))
    with pytest.raises(ValueError):
        sframe.encode_header(2**64, 0)
    with pytest.raises(ValueError):
        sframe.encode_header(0, -1)


def test_unknown_suite_and_short_key_refused() -> None:
    with pytest.raises(UnsupportedCipherSuite):
        Sender(6, 1, KEY)
    with pytest.raises(UnsupportedCipherSuite):
        Receiver(0)
    with pytest.raises(InvalidKey):
        Sender(4, 1, b"short")
    assert issubclass(UnsupportedCipherSuite, CryptoError)
    assert issubclass(FrameError, VoxsealError)


# --- sender counter --------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_stream_round_trip_across_header_lengths(suite: int) -> None:
    sender, receiver = pair(suite, kid=3)
    # small CTRs (in the config byte), then 1-, 2- and 3-byte CTRs
    for _ in range(10):
        pt = os.urandom(40)
        assert receiver.unprotect(sender.protect(pt)) == pt
    for start in (250, 65530):
        sender = Sender(suite, 3, KEY, initial_counter=start)
        for _ in range(10):
            pt = os.urandom(17)
            assert receiver.unprotect(sender.protect(pt, b"meta"), b"meta") == pt


def test_counter_refuses_to_wrap() -> None:
    sender = Sender(4, 1, KEY, initial_counter=MAX_COUNTER)
    frame = sender.protect(b"last")
    assert sframe.decode_header(frame)[1] == MAX_COUNTER
    assert sender.remaining == 0
    with pytest.raises(CounterExhausted):
        sender.protect(b"wraps")
    with pytest.raises(CounterExhausted):  # and keeps refusing
        sender.protect(b"wraps")


def test_configured_counter_limit() -> None:
    sender = Sender(4, 1, KEY, max_counter=2)
    for _ in range(3):
        sender.protect(b"x")
    with pytest.raises(CounterExhausted) as info:
        sender.protect(b"x")
    assert info.value.reason == "sframe_counter_exhausted"


def test_closed_sender_refuses() -> None:
    sender = Sender(4, 1, KEY)
    sender.close()
    with pytest.raises(UnknownKey):
        sender.protect(b"x")


# --- receiver: replay window -----------------------------------------------------------------


def test_duplicate_refused() -> None:
    sender, receiver = pair()
    frames = [sender.protect(b"%d" % i) for i in range(20)]
    for f in frames:
        receiver.unprotect(f)
    for f in frames:
        with pytest.raises(ReplayDetected):
            receiver.unprotect(f)


def test_reordering_within_window_accepted() -> None:
    sender, receiver = pair(replay_window=128)
    frames = [sender.protect(b"%d" % i) for i in range(300)]
    receiver.unprotect(frames[200])
    # 127 positions behind the newest is inside a 128 window, in any order
    for i in reversed(range(73, 200)):
        assert receiver.unprotect(frames[i]) == b"%d" % i
    with pytest.raises(ReplayDetected) as info:
        receiver.unprotect(frames[72])  # 128 behind: too old
    assert info.value.too_old
    for i in range(201, 300):
        receiver.unprotect(frames[i])


def test_window_is_configurable() -> None:
    sender, receiver = pair(replay_window=4)
    frames = [sender.protect(b"x") for i in range(20)]
    receiver.unprotect(frames[10])
    receiver.unprotect(frames[7])
    with pytest.raises(ReplayDetected):
        receiver.unprotect(frames[6])
    with pytest.raises(ReplayDetected):
        receiver.unprotect(frames[7])


def test_small_counter_frames_replay_protected() -> None:
    sender, receiver = pair(kid=2)
    frames = [sender.protect(b"x") for _ in range(8)]  # all in the 1-byte header form
    for f in frames:
        assert len(sframe.decode_header(f)) == 3
        receiver.unprotect(f)
    with pytest.raises(ReplayDetected):
        receiver.unprotect(frames[3])


def test_forged_frame_does_not_move_window() -> None:
    sender, receiver = pair()
    frames = [sender.protect(b"x") for _ in range(10)]
    other = Sender(4, 0x1234, bytes(32), initial_counter=10_000)
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(other.protect(b"forged far ahead"))
    for f in frames:  # still all accepted: the forged CTR 10000 was never committed
        receiver.unprotect(f)


def test_metadata_is_authenticated() -> None:
    sender, receiver = pair()
    frame = sender.protect(b"voice", b"rtp-meta")
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(frame, b"other-meta")
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(frame)
    assert receiver.unprotect(frame, b"rtp-meta") == b"voice"


def test_short_frames_refused() -> None:
    sender, receiver = pair()
    frame = sender.protect(b"")
    assert receiver.unprotect(frame) == b""
    with pytest.raises(MalformedHeader):
        receiver.unprotect(b"")
    with pytest.raises(MalformedHeader):
        receiver.unprotect(frame[:2])  # header is 3 bytes (config, 2-byte KID; CTR 0 inline)
    with pytest.raises(MalformedFrame):
        receiver.unprotect(frame[:-1])


# --- receiver: key store ---------------------------------------------------------------------


def test_unknown_kid_refused() -> None:
    sender = Sender(4, 99, KEY)
    receiver = Receiver(4)
    with pytest.raises(UnknownKey) as info:
        receiver.unprotect(sender.protect(b"x"))
    assert info.value.kid == 99


def test_key_store_is_bounded_and_evicts_oldest() -> None:
    receiver = Receiver(4, max_keys=3)
    for kid in range(10, 15):
        receiver.add_key(kid, KEY)
    assert len(receiver) == 3
    assert sorted(receiver.kids()) == [12, 13, 14]
    with pytest.raises(UnknownKey):
        receiver.unprotect(Sender(4, 10, KEY).protect(b"x"))
    assert receiver.unprotect(Sender(4, 14, KEY).protect(b"x")) == b"x"


def test_retired_key_is_wiped_and_refused() -> None:
    sender, receiver = pair()
    receiver.unprotect(sender.protect(b"x"))
    state = receiver._keys[0x1234]
    held = state.base_key
    assert any(held)
    assert receiver.remove_key(0x1234)
    assert not any(held)  # overwritten, not just dropped
    with pytest.raises(UnknownKey):
        receiver.unprotect(sender.protect(b"x"))
    assert not receiver.remove_key(0x1234)


def test_remove_where_retires_an_epoch() -> None:
    receiver = Receiver(4)
    for epoch in (1, 2):
        for index in range(3):
            receiver.add_key(epoch << 8 | index, KEY)
    assert receiver.remove_where(lambda kid: kid >> 8 == 1) == 3
    assert sorted(receiver.kids()) == [0x200, 0x201, 0x202]
    receiver.clear()
    assert len(receiver) == 0


def test_replacing_a_key_resets_its_window() -> None:
    sender, receiver = pair()
    f = sender.protect(b"x")
    receiver.unprotect(f)
    new_key = os.urandom(16)
    receiver.add_key(0x1234, new_key)
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(f)
    assert receiver.unprotect(Sender(4, 0x1234, new_key).protect(b"y")) == b"y"


# --- ratchet -------------------------------------------------------------------------------


def test_ratchet_matches_rfc_formula() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

    prk = HKDF.extract(hashes.SHA256(), None, KEY)
    expected = HKDFExpand(hashes.SHA256(), 32, b"SFrame 1.0 Ratchet").derive(prk)
    assert sframe.ratchet_base_key(4, KEY) == expected
    assert len(sframe.ratchet_base_key(5, KEY)) == 64


def test_receiver_follows_sender_ratchet_without_round_trip() -> None:
    r = 4
    sender = Sender(4, (7 << r) | 0, KEY, ratchet_bits=r)
    receiver = Receiver(4, ratchet_bits=r)
    receiver.add_key(sender.kid, KEY)
    late = sender.protect(b"before ratchet")
    receiver.unprotect(sender.protect(b"step 0"))
    for step in range(1, 20):  # wraps the 4-bit step field
        kid = sender.ratchet()
        assert kid >> r == 7 and kid & 0xF == step & 0xF
        assert sender.counter == 0
        assert receiver.unprotect(sender.protect(b"step %d" % step)) == b"step %d" % step
        if step == 1:  # the superseded step stays for late frames
            assert receiver.unprotect(late) == b"before ratchet"
    # only the newest step and the one before it are kept
    assert len(receiver) == 2


def test_ratchet_skip_ahead_and_limits() -> None:
    sender = Sender(4, 0x50, KEY, ratchet_bits=4)
    receiver = Receiver(4, ratchet_bits=4, max_ratchet_ahead=3)
    receiver.add_key(0x50, KEY)
    for _ in range(3):
        sender.ratchet()
    assert receiver.unprotect(sender.protect(b"3 ahead")) == b"3 ahead"
    for _ in range(4):
        sender.ratchet()
    with pytest.raises(UnknownKey):  # 4 ahead > max_ratchet_ahead
        receiver.unprotect(sender.protect(b"too far"))


def test_forged_future_step_does_not_advance() -> None:
    receiver = Receiver(4, ratchet_bits=4)
    receiver.add_key(0x50, KEY)
    forged = Sender(4, 0x51, os.urandom(32)).protect(b"forged")
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(forged)
    assert list(receiver.kids()) == [0x50]
    assert receiver.unprotect(Sender(4, 0x50, KEY).protect(b"ok")) == b"ok"


def test_no_ratchet_without_ratchet_bits() -> None:
    with pytest.raises(ValueError):
        Sender(4, 1, KEY).ratchet()
    receiver = Receiver(4)
    receiver.add_key(0x50, KEY)
    s = Sender(4, 0x50, KEY, ratchet_bits=4)
    s.ratchet()
    with pytest.raises(UnknownKey):
        receiver.unprotect(s.protect(b"x"))


# --- secrets stay out of reprs and errors ----------------------------------------------------


def test_no_secret_in_repr_or_errors() -> None:
    key = bytes.fromhex("a1" * 32)
    sender = Sender(4, 5, key)
    receiver = Receiver(4)
    receiver.add_key(5, key)
    frame = sender.protect(b"secret voice")
    texts = [repr(sender), str(sender), repr(receiver), str(receiver)]
    try:
        receiver.unprotect(frame[:-1] + bytes([frame[-1] ^ 1]))
    except AuthenticationFailed as exc:
        texts += [str(exc), repr(exc)]
    derived, salt = sframe.derive_key_salt(4, key, 5)
    for text in texts:
        for secret in (key, derived, salt, b"secret voice"):
            assert secret.hex() not in text
            assert repr(secret)[2:-1] not in text


# --- property tests: every tampering refused, all suites ---------------------------------------

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
suites = st.sampled_from(SUITES)
keys = st.binary(min_size=16, max_size=64)
kids = st.one_of(st.integers(0, 7), st.integers(0, 2**64 - 1))
ctrs = st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 2))
payloads = st.binary(max_size=200)


@PROPERTY
@given(
    suite=suites,
    key=keys,
    kid=kids,
    ctr=ctrs,
    pt=payloads,
    meta=st.binary(max_size=20),
    data=st.data(),
)
def test_any_bit_flip_is_refused(
    suite: int, key: bytes, kid: int, ctr: int, pt: bytes, meta: bytes, data: st.DataObject
) -> None:
    frame = Sender(suite, kid, key, initial_counter=ctr).protect(pt, meta)
    receiver = Receiver(suite)
    receiver.add_key(kid, key)
    bit = data.draw(st.integers(0, len(frame) * 8 - 1))
    tampered = bytearray(frame)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError):
        receiver.unprotect(bytes(tampered), meta)
    # the genuine frame still passes after the refused one, then is a replay
    assert receiver.unprotect(frame, meta) == pt
    with pytest.raises(ReplayDetected):
        receiver.unprotect(frame, meta)


@PROPERTY
@given(suite=suites, key=keys, kid=kids, ctr=ctrs, pt=payloads, data=st.data())
def test_any_truncation_or_extension_is_refused(
    suite: int, key: bytes, kid: int, ctr: int, pt: bytes, data: st.DataObject
) -> None:
    frame = Sender(suite, kid, key, initial_counter=ctr).protect(pt)
    receiver = Receiver(suite)
    receiver.add_key(kid, key)
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(FrameError):
        receiver.unprotect(frame[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(FrameError):
        receiver.unprotect(frame + extra)
    assert receiver.unprotect(frame) == pt


@PROPERTY
@given(suite=suites, key=keys, other=keys, kid=kids, ctr=ctrs, pt=payloads)
def test_frame_under_another_key_is_refused(
    suite: int, key: bytes, other: bytes, kid: int, ctr: int, pt: bytes
) -> None:
    if key == other:
        return
    forged = Sender(suite, kid, other, initial_counter=ctr).protect(pt)
    receiver = Receiver(suite)
    receiver.add_key(kid, key)
    with pytest.raises(AuthenticationFailed):
        receiver.unprotect(forged)
    with pytest.raises(AuthenticationFailed):
        sframe.decrypt(suite, key, b"", forged)


@PROPERTY
@given(suite=suites, junk=st.binary(max_size=64), kid=st.integers(0, 2**16))
def test_random_bytes_are_refused(suite: int, junk: bytes, kid: int) -> None:
    receiver = Receiver(suite)
    receiver.add_key(kid, KEY)
    with pytest.raises(FrameError):
        receiver.unprotect(junk)


@PROPERTY
@given(suite=suites, key=keys, kid=kids, n=st.integers(2, 40), data=st.data())
def test_replays_in_any_order_are_refused(
    suite: int, key: bytes, kid: int, n: int, data: st.DataObject
) -> None:
    sender = Sender(suite, kid, key)
    receiver = Receiver(suite)
    receiver.add_key(kid, key)
    frames = [sender.protect(os.urandom(8)) for _ in range(n)]
    order = data.draw(st.permutations(range(n)))
    for i in order:
        receiver.unprotect(frames[i])
    again = data.draw(st.sampled_from(frames))
    with pytest.raises(ReplayDetected):
        receiver.unprotect(again)


def test_reinstalling_the_same_key_keeps_the_replay_window() -> None:
    sender, receiver = pair()
    frame = sender.protect(b"x")
    receiver.unprotect(frame)
    receiver.add_key(0x1234, bytearray(KEY))  # a retransmitted bundle
    with pytest.raises(ReplayDetected):
        receiver.unprotect(frame)


def test_memoryview_and_bytearray_frames() -> None:
    sender, receiver = pair(kid=0x1234)
    sender = Sender(4, 0x1234, KEY, initial_counter=500)
    f1 = sender.protect(b"a", memoryview(b"meta"))
    f2 = sender.protect(b"b", b"meta")
    assert receiver.unprotect(memoryview(f1), b"meta") == b"a"
    assert receiver.unprotect(bytearray(f2), memoryview(b"meta")) == b"b"
