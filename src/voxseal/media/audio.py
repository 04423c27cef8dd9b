"""Opus coding for the media plane (48 kHz mono int16 in 20 ms frames, see :mod:`voxseal.audio`).

Why this module exists apart from aiortc's codecs:

* aiortc's :class:`~aiortc.codecs.opus.OpusEncoder` runs inside :class:`~aiortc.RTCRtpSender`
  and hands its output straight to the packetiser, so nothing can sit between "encoded" and
  "packetised" — but that is exactly where SFrame must go (RFC 9605 §4.1, the WebRTC Encoded
  Transform model). So endpoints encode here, protect the bytes, and give aiortc pre-encoded
  packets, which it sends without re-encoding (``RTCRtpSender._next_encoded_frame`` →
  ``Encoder.pack``).
* On receive, aiortc would decode whatever bytes arrive as Opus; with E2EE those bytes are
  ciphertext, and decoding them "as if clear" is the silent-ciphertext failure the issue warns
  about. Endpoints therefore take the encoded payload, unprotect it, and decode it here.
* Mono at 48 kHz in 20 ms frames is what voice needs (and what the RTP clock says); one frame is
  960 samples, so an RTP timestamp step is 960 (:data:`TIME_BASE` is that clock).

This module never imports SFrame: the SFU shares nothing with it but constants.
"""

from __future__ import annotations

import fractions
from collections.abc import AsyncIterator, Iterable
from typing import Final

import av
import numpy as np
from av import AudioFrame, CodecContext

from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE, PcmFramer, as_mono_pcm

__all__ = [
    "TIME_BASE",
    "OpusFrameDecoder",
    "OpusFrameEncoder",
    "pcm_frames",
    "tone",
]

TIME_BASE: Final = fractions.Fraction(1, SAMPLE_RATE)


class OpusFrameEncoder:
    """PCM frame (960 int16 samples) → one Opus packet (bytes), VoIP mode.

    libopus emits exactly one packet per 20 ms input frame (with a constant pre-skip), so the
    caller's frame counter is the RTP timeline; we do not use the encoder's (negative) pts.
    """

    def __init__(self, bitrate: int = 32_000) -> None:
        codec = CodecContext.create("libopus", "w")
        codec.bit_rate = bitrate
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = SAMPLE_RATE
        codec.time_base = TIME_BASE
        codec.options = {"application": "voip"}
        self._codec = codec
        self._pts = 0

    def encode(self, pcm: np.ndarray) -> list[bytes]:
        """Encode one 20 ms frame; usually returns exactly one packet."""
        pcm = as_mono_pcm(pcm)
        if len(pcm) != FRAME_SAMPLES:
            raise ValueError(f"an Opus frame here is {FRAME_SAMPLES} samples, got {len(pcm)}")
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        return [bytes(p) for p in self._codec.encode(frame)]


class OpusFrameDecoder:
    """One Opus packet → mono int16 PCM. One decoder per remote sender (Opus is stateful)."""

    def __init__(self) -> None:
        codec = CodecContext.create("libopus", "r")
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = SAMPLE_RATE
        self._codec = codec

    def decode(self, payload: bytes) -> np.ndarray:
        """Decode one packet; raises :class:`av.FFmpegError` (or ValueError) if it is not Opus."""
        frames = self._codec.decode(av.Packet(payload))
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(
            np.int16, copy=False
        )


def tone(
    frequency: float, seconds: float, *, amplitude: float = 0.3, phase_samples: int = 0
) -> np.ndarray:
    """A sine tone as mono int16 PCM at 48 kHz (test signals, the CLI's self-test)."""
    n = round(seconds * SAMPLE_RATE)
    t = (np.arange(n) + phase_samples) / SAMPLE_RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


async def pcm_frames(chunks: Iterable[np.ndarray]) -> AsyncIterator[np.ndarray]:
    """Turn PCM chunks of any size into an async stream of 20 ms frames (last one padded)."""
    framer = PcmFramer()
    for chunk in chunks:
        for frame in framer.push(chunk):
            yield frame
    last = framer.flush()
    if last is not None:
        yield last
