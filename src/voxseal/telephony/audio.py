"""Phone-network audio ↔ the gateway's 48 kHz mono int16, one call's stream each way.

Carriers speak G.711 μ-law at 8 kHz (Twilio, SignalWire) or 16-bit linear PCM at 16/8 kHz
(Vonage); rooms speak 48 kHz. The codecs themselves are :mod:`voxseal.audio.g711` and
:mod:`voxseal.audio.l16`; what is telephony's own is which of them a carrier may choose and at
which rates. Conversion is streaming: each direction keeps one
:class:`~voxseal.audio.resample.Resampler` for the life of the call, so 20 ms frames join
without a click (chunked output equals whole-signal output, which the tests check).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from voxseal.audio import (
    SAMPLE_RATE,
    InvalidPcm,
    Resampler,
    float_to_pcm,
    l16_decode,
    l16_encode,
    pcm_to_float,
    ulaw_decode,
    ulaw_encode,
)
from voxseal.telephony.errors import MalformedFrame

Codec = Literal["mulaw", "l16"]


def _check_codec(codec: str, rate: int) -> None:
    if codec not in ("mulaw", "l16"):
        raise ValueError(f"unknown codec {codec!r}")
    if rate not in (8000, 16000):
        raise ValueError(f"unsupported telephony rate {rate}")


class InboundAudio:
    """Provider payloads (μ-law or L16 bytes at ``rate``) → 48 kHz int16, one call's stream.

    A payload that is not whole samples breaks the provider's protocol: :class:`MalformedFrame`.
    """

    def __init__(self, codec: Codec, rate: int) -> None:
        _check_codec(codec, rate)
        self.codec, self.rate = codec, rate
        self._resampler = Resampler(rate, SAMPLE_RATE)

    def push(self, payload: bytes) -> np.ndarray:
        try:
            pcm = ulaw_decode(payload) if self.codec == "mulaw" else l16_decode(payload)
        except InvalidPcm as exc:
            raise MalformedFrame(str(exc)) from None
        return float_to_pcm(self._resampler.push(pcm_to_float(pcm)))

    def flush(self) -> np.ndarray:
        return float_to_pcm(self._resampler.flush())


class OutboundAudio:
    """48 kHz int16 from the room → provider payload bytes at ``rate``, one call's stream."""

    def __init__(self, codec: Codec, rate: int) -> None:
        _check_codec(codec, rate)
        self.codec, self.rate = codec, rate
        self._resampler = Resampler(SAMPLE_RATE, rate)

    def _encode(self, x: np.ndarray) -> bytes:
        pcm = float_to_pcm(x)
        return ulaw_encode(pcm) if self.codec == "mulaw" else l16_encode(pcm)

    def push(self, pcm48k: np.ndarray) -> bytes:
        pcm = np.asarray(pcm48k, dtype=np.int16).reshape(-1)
        return self._encode(self._resampler.push(pcm_to_float(pcm)))

    def flush(self) -> bytes:
        return self._encode(self._resampler.flush())
