"""G.711 μ-law against its code points, and click-free streaming conversion."""

from __future__ import annotations

import numpy as np
import pytest

from voxseal.sdk.wav import resample
from voxseal.telephony.audio import (
    InboundAudio,
    OutboundAudio,
    l16_decode,
    l16_encode,
    ulaw_decode,
    ulaw_encode,
)
from voxseal.telephony.errors import MalformedFrame

# (linear sample, μ-law byte) from the G.711 segment table: bias 0x84, clip 32635
ENCODE_POINTS = [
    (0, 0xFF),
    (-1, 0x7F),
    (1, 0xFF),
    (8, 0xFE),
    (-8, 0x7E),
    (32767, 0x80),
    (32635, 0x80),
    (-32768, 0x00),
    (123, 0xF0),  # 123 + 132 = 255: top of segment 0
    (124, 0xEF),  # 124 + 132 = 256: first value of segment 1
    (-124, 0x6F),
    (1000, 0xCE),
    (-1000, 0x4E),
]
DECODE_POINTS = [
    (0xFF, 0),
    (0x7F, 0),
    (0x80, 32124),
    (0x00, -32124),
    (0xF0, 120),
    (0xEF, 132),
    (0x6F, -132),
]


@pytest.mark.parametrize(("sample", "code"), ENCODE_POINTS)
def test_ulaw_encode_code_points(sample: int, code: int) -> None:
    assert ulaw_encode(np.array([sample], np.int16)) == bytes([code])


@pytest.mark.parametrize(("code", "sample"), DECODE_POINTS)
def test_ulaw_decode_code_points(code: int, sample: int) -> None:
    assert ulaw_decode(bytes([code])).tolist() == [sample]


def test_ulaw_every_code_survives_a_round_trip() -> None:
    codes = bytes(range(256))
    again = ulaw_encode(ulaw_decode(codes))
    # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF
    assert [c for c, d in zip(codes, again, strict=True) if c != d] == [0x7F]


def test_ulaw_quantisation_error_is_within_half_a_step() -> None:
    x = np.arange(-32768, 32768, dtype=np.int16)
    y = ulaw_decode(ulaw_encode(x)).astype(np.int32)
    err = np.abs(y - np.clip(x.astype(np.int32), -32635, 32635))
    mag = np.abs(x.astype(np.int32))
    # step of the segment is 2^(exponent+3); the decoder returns its midpoint
    step = 2 ** (np.floor(np.log2(np.maximum(mag + 132, 256) >> 7)) + 3)
    assert np.all(err <= step / 2 + 1)
    assert np.all(np.sign(y) * np.sign(x) >= 0)  # never flips the sign


def test_l16_is_little_endian_and_refuses_half_samples() -> None:
    pcm = np.array([1, -2, 0x1234], np.int16)
    assert l16_encode(pcm) == b"\x01\x00\xfe\xff\x34\x12"
    assert l16_decode(l16_encode(pcm)).tolist() == pcm.tolist()
    with pytest.raises(MalformedFrame):
        l16_decode(b"\x00\x01\x02")


def _tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _chunks(data: bytes | np.ndarray, size: int) -> list:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(("codec", "rate", "frame"), [("mulaw", 8000, 160), ("l16", 16000, 640)])
def test_inbound_chunked_equals_whole_signal(codec: str, rate: int, frame: int) -> None:
    tone = _tone(rate, 0.5)
    payload = ulaw_encode(tone) if codec == "mulaw" else l16_encode(tone)
    whole = InboundAudio(codec, rate)  # type: ignore[arg-type]
    once = np.concatenate((whole.push(payload), whole.flush()))
    stream = InboundAudio(codec, rate)  # type: ignore[arg-type]
    parts = [stream.push(c) for c in _chunks(payload, frame)] + [stream.flush()]
    chunked = np.concatenate(parts)
    assert len(chunked) == len(tone) * 48000 // rate
    assert np.array_equal(chunked, once)
    # and it is the Resampler's result, not a second resampler's
    decoded = (ulaw_decode(payload) if codec == "mulaw" else tone).astype(np.float64) / 32768
    ref = np.clip(np.rint(resample(decoded, rate, 48000) * 32768), -32768, 32767)
    assert np.array_equal(chunked, ref.astype(np.int16))


@pytest.mark.parametrize(("codec", "rate"), [("mulaw", 8000), ("l16", 16000), ("l16", 8000)])
def test_outbound_chunked_equals_whole_signal(codec: str, rate: int) -> None:
    tone = _tone(48000, 0.5, 300.0)
    whole = OutboundAudio(codec, rate)  # type: ignore[arg-type]
    once = whole.push(tone) + whole.flush()
    stream = OutboundAudio(codec, rate)  # type: ignore[arg-type]
    # odd chunk sizes, as a room's frames will not line up with 20 ms telephony frames
    chunked = b"".join(stream.push(c) for c in _chunks(tone, 733)) + stream.flush()
    assert chunked == once
    width = 1 if codec == "mulaw" else 2
    assert len(chunked) == len(tone) * rate // 48000 * width


def test_round_trip_keeps_the_tone_without_clicks() -> None:
    tone = _tone(48000, 0.4, 440.0)
    out, back = OutboundAudio("mulaw", 8000), InboundAudio("mulaw", 8000)
    payload = b"".join(out.push(c) for c in _chunks(tone, 960)) + out.flush()
    pcm = np.concatenate([back.push(c) for c in _chunks(payload, 160)] + [back.flush()])
    mid = slice(4800, len(tone) - 4800)  # away from the start/end transients
    err = pcm[mid].astype(np.float64) - tone[mid]
    snr = 10 * np.log10(np.mean(tone[mid].astype(np.float64) ** 2) / np.mean(err**2))
    assert snr > 30  # μ-law gives ~38 dB; a click at a 20 ms boundary would sink this
    # no sample-to-sample jump beyond what a 440 Hz tone of this level can make
    assert np.max(np.abs(np.diff(pcm[mid].astype(np.int32)))) < 2 * np.pi * 440 * 8000 / 48000 * 1.2


def test_unknown_codec_or_rate_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        InboundAudio("alaw", 8000)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OutboundAudio("mulaw", 44100)
