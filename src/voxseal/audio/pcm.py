"""The one PCM format voxseal speaks inside: 48 kHz mono int16, in 20 ms frames.

Why one module: every component that touches samples (the media plane's Opus coder, the agent's
VAD and ASR, the telephony ingress, audio redaction) needs the same facts — the rate, the frame
size, what counts as mono int16 and how int16 maps to float — and each used to restate them.
Here they are stated once; :func:`as_mono_pcm` is the only place that decides what a caller may
hand in.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from voxseal.audio.errors import InvalidPcm

__all__ = [
    "FRAME_DURATION",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "PcmFramer",
    "as_mono_pcm",
    "float_to_pcm",
    "pcm_to_float",
]

SAMPLE_RATE: Final = 48_000
#: 20 ms at 48 kHz: one Opus frame, one RTP packet, one RTP timestamp step
FRAME_SAMPLES: Final = 960
FRAME_DURATION: Final = FRAME_SAMPLES / SAMPLE_RATE

#: int16 full scale: float samples live in [-1, 1) as ``pcm / PCM_SCALE``
_PCM_SCALE: Final = 32768.0


def as_mono_pcm(pcm: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """``pcm`` as a 1-D int16 array; ``(n,)`` and ``(1, n)`` int16 are accepted, nothing else.

    Raises :class:`InvalidPcm` (naming the dtype or shape) instead of converting: a float or
    int32 buffer here is a caller's bug, and a silent cast would turn it into noise or silence.
    """
    array: npt.NDArray[Any] = np.asarray(pcm)
    if array.dtype != np.int16:
        raise InvalidPcm(f"PCM must be int16, got {array.dtype}")
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise InvalidPcm(f"PCM must be mono, shape (n,) or (1, n); got {array.shape}")
    return array


def pcm_to_float(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """int16 samples → float64 in [-1, 1) (exact: every int16 is a float64)."""
    return pcm.astype(np.float64) / _PCM_SCALE


def float_to_pcm(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    """Float samples → int16, rounded to nearest and clipped (a resampler's overshoot of a
    full-scale signal must saturate, not wrap around)."""
    return np.clip(np.rint(x * _PCM_SCALE), -32768, 32767).astype(np.int16)


class PcmFramer:
    """Re-chunk PCM of any length into exact 960-sample frames.

    Sources (a WAV file, a TTS engine, a microphone callback) rarely hand out exactly 20 ms; the
    encoder needs exactly that, so the remainder is carried over to the next call.
    """

    def __init__(self) -> None:
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)

    def push(self, pcm: npt.ArrayLike) -> list[npt.NDArray[np.int16]]:
        """Add samples; return every complete frame now available (possibly none)."""
        data = np.concatenate((self._pending, as_mono_pcm(pcm)))
        whole = len(data) - len(data) % FRAME_SAMPLES
        self._pending = data[whole:]
        return [data[i : i + FRAME_SAMPLES] for i in range(0, whole, FRAME_SAMPLES)]

    def flush(self) -> npt.NDArray[np.int16] | None:
        """The last partial frame, zero-padded to 20 ms, or None if nothing is pending."""
        if not len(self._pending):
            return None
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        frame[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.int16)
        return frame
