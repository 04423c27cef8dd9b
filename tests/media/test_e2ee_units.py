"""Unit tests of the E2EE audio pieces without a network: framing, protect/unprotect, counters."""

from __future__ import annotations

import numpy as np

from voxseal.audio import FRAME_SAMPLES
from voxseal.crypto import sframe
from voxseal.media.audio import OpusFrameDecoder, OpusFrameEncoder, pcm_frames, tone
from voxseal.media.encoded import EncodedAudioTrack
from voxseal.media.sframe_tracks import FrameRejected, SFrameAudioReceiver, SFrameAudioTrack

from .helpers import AudioLog, dominant_frequency, new_key, run

SUITE = sframe.CipherSuite.AES_128_GCM_SHA256_128


def test_opus_round_trip_keeps_the_tone() -> None:
    enc, dec = OpusFrameEncoder(), OpusFrameDecoder()
    pcm = tone(440, 1.0)
    out = [
        dec.decode(p)
        for i in range(0, len(pcm), FRAME_SAMPLES)
        for p in enc.encode(pcm[i : i + FRAME_SAMPLES])
    ]
    assert abs(dominant_frequency(np.concatenate(out)) - 440) < 3


def _protected_frames(key: bytes, kid: int, n: int) -> tuple[list[bytes], list[bytes]]:
    """``n`` frames of a 440 Hz tone as (clear Opus, SFrame ciphertext) via the real track."""
    clear: list[bytes] = []
    track = SFrameAudioTrack(
        sframe.Sender(SUITE, kid, key),
        pcm_frames([tone(440, n * 0.02)]),
        realtime=False,
        on_encoded=clear.append,
    )

    async def pull() -> list[bytes]:
        packets = [await track.recv() for _ in range(n)]
        assert [p.pts for p in packets] == [i * FRAME_SAMPLES for i in range(n)]
        return [bytes(p) for p in packets]

    return clear, run(pull())


def test_receiver_decrypts_decodes_and_attributes_by_kid() -> None:
    key = new_key()
    clear, frames = _protected_frames(key, 7, 50)
    assert all(c not in f for c, f in zip(clear, frames, strict=True))
    log, rejected = AudioLog(), []
    rx = SFrameAudioReceiver(sframe.Receiver(SUITE), on_audio=log, on_rejected=rejected.append)
    rx.add_key("alice", 7, key)
    for i, f in enumerate(frames):
        rx(f, i * FRAME_SAMPLES)
    assert rx.stats.frames_decoded == 50 and rx.stats.rejected == 0 and not rejected
    assert list(log.frames) == ["alice"]
    assert abs(dominant_frequency(log.pcm("alice")) - 440) < 3


def test_refusals_are_counted_reported_and_never_decoded() -> None:
    key = new_key()
    _, frames = _protected_frames(key, 3, 6)
    log, rejected = AudioLog(), []
    rx = SFrameAudioReceiver(sframe.Receiver(SUITE), on_audio=log, on_rejected=rejected.append)
    rx(frames[0], 0)  # no key yet
    rx.add_key("bob", 3, key)
    rx(frames[1], 960)  # good
    rx(frames[1], 960)  # replay
    forged = bytearray(frames[2])
    forged[-1] ^= 1
    rx(bytes(forged), 1920)  # auth failure
    rx(b"", 0)  # malformed
    rx(frames[3][:5], 0)  # truncated
    s = rx.stats
    assert (s.unknown_key, s.replays, s.auth_failures, s.malformed) == (1, 1, 1, 2)
    assert s.frames_decoded == 1 and sum(len(v) for v in log.frames.values()) == 1
    assert [r.reason for r in rejected] == [
        "sframe_unknown_key",
        "sframe_replay",
        "sframe_auth_failed",
        "sframe_malformed_header",
        "sframe_malformed_frame",
    ]
    assert isinstance(rejected[1], FrameRejected) and rejected[1].kid == 3
    # removing the participant makes its next frames unknown-key refusals
    rx.remove_participant("bob")
    rx(frames[4], 3840)
    assert rx.stats.unknown_key == 2


def test_encoded_track_rebases_timestamps_per_source() -> None:
    async def scenario() -> list[int]:
        track = EncodedAudioTrack(max_queue=10)
        a, b = object(), object()
        for ts in (5000, 5960, 6920):
            track.push(b"x", ts, source=a)
        for ts in (100, 1060):  # slot re-bound to another publisher
            track.push(b"y", ts, source=b)
        track.push(b"y", 100, source=b)  # reordered: passed through for the receiver to sort
        track.push(b"y", 2020, source=b)
        return [(await track.recv()).pts for _ in range(7)]

    assert run(scenario()) == [i * FRAME_SAMPLES for i in (0, 1, 2, 3, 4, 3, 5)]


def test_encoded_track_bounds_its_queue() -> None:
    async def scenario() -> EncodedAudioTrack:
        track = EncodedAudioTrack(max_queue=3)
        for i in range(5):
            track.push(bytes([i]), i * FRAME_SAMPLES)
        assert bytes(await track.recv()) == b"\x02"
        return track

    track = run(scenario())
    assert track.frames_dropped == 2 and track.frames_pushed == 5
