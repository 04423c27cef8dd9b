"""One call's phone audio ↔ 48 kHz: click-free streaming conversion, each way."""

from __future__ import annotations

import numpy as np
import pytest

from voxseal.audio import l16_encode, resample, ulaw_decode, ulaw_encode
from voxseal.telephony.audio import InboundAudio, OutboundAudio
from voxseal.telephony.errors import MalformedFrame


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


def test_half_a_sample_of_l16_is_a_malformed_frame() -> None:
    with pytest.raises(MalformedFrame, match="whole number of 16-bit samples"):
        InboundAudio("l16", 16000).push(b"\x00\x01\x02")
