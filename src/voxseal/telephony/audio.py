"""Phone-network audio ↔ the gateway's 48 kHz mono int16.

Carriers speak G.711 μ-law at 8 kHz (Twilio, SignalWire) or 16-bit linear PCM at 16/8 kHz
(Vonage); rooms speak 48 kHz. Conversion is streaming: each direction keeps one
:class:`~voxseal.sdk.wav.Resampler` for the life of the call, so 20 ms frames join without a
click (chunked output equals whole-signal output, which the tests check).

The μ-law codec is ITU-T G.711 as in the reference C code (bias 0x84, clip 32635), vectorised
with numpy so a frame costs a few array operations, not a Python loop.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

from voxseal.media.audio import SAMPLE_RATE
from voxseal.sdk.wav import Resampler
from voxseal.telephony.errors import MalformedFrame

ULAW_BIAS: Final = 0x84
ULAW_CLIP: Final = 32635
#: μ-law byte for a zero sample, used to pad a short last frame with silence
ULAW_SILENCE: Final = 0xFF

Codec = Literal["mulaw", "l16"]

# exponent = index of the highest set bit of (biased magnitude >> 7), 0 … 7
_EXP_LUT: Final = np.array([max(0, v.bit_length() - 1) for v in range(256)], dtype=np.int32)


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, ULAW_BIAS - t, t - ULAW_BIAS).astype(np.int16)


_DECODE: Final = _decode_table()


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """Encode int16 samples as G.711 μ-law bytes (one byte per sample)."""
    s = np.asarray(pcm, dtype=np.int16).reshape(-1).astype(np.int32)
    sign = (s >> 8) & 0x80
    mag = np.minimum(np.where(sign != 0, -s, s), ULAW_CLIP) + ULAW_BIAS
    exponent = _EXP_LUT[(mag >> 7) & 0xFF]
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    """Decode G.711 μ-law bytes to int16 samples."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def l16_decode(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes → int16 (Vonage's byte order)."""
    if len(data) % 2:
        raise MalformedFrame("L16 audio must be a whole number of 16-bit samples")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def l16_encode(pcm: np.ndarray) -> bytes:
    return np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes()


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def _check_codec(codec: str, rate: int) -> None:
    if codec not in ("mulaw", "l16"):
        raise ValueError(f"unknown codec {codec!r}")
    if rate not in (8000, 16000):
        raise ValueError(f"unsupported telephony rate {rate}")


class InboundAudio:
    """Provider payloads (μ-law or L16 bytes at ``rate``) → 48 kHz int16, one call's stream."""

    def __init__(self, codec: Codec, rate: int) -> None:
        _check_codec(codec, rate)
        self.codec, self.rate = codec, rate
        self._resampler = Resampler(rate, SAMPLE_RATE)

    def push(self, payload: bytes) -> np.ndarray:
        pcm = ulaw_decode(payload) if self.codec == "mulaw" else l16_decode(payload)
        return _to_int16(self._resampler.push(pcm.astype(np.float64) / 32768.0))

    def flush(self) -> np.ndarray:
        return _to_int16(self._resampler.flush())


class OutboundAudio:
    """48 kHz int16 from the room → provider payload bytes at ``rate``, one call's stream."""

    def __init__(self, codec: Codec, rate: int) -> None:
        _check_codec(codec, rate)
        self.codec, self.rate = codec, rate
        self._resampler = Resampler(SAMPLE_RATE, rate)

    def _encode(self, x: np.ndarray) -> bytes:
        pcm = _to_int16(x)
        return ulaw_encode(pcm) if self.codec == "mulaw" else l16_encode(pcm)

    def push(self, pcm48k: np.ndarray) -> bytes:
        x = np.asarray(pcm48k, dtype=np.int16).reshape(-1).astype(np.float64) / 32768.0
        return self._encode(self._resampler.push(x))

    def flush(self) -> bytes:
        return self._encode(self._resampler.flush())
