"""Audio redaction: silence (or cover with a tone) the stretches of a recording that held PII.

PCI DSS forbids storing card data in call recordings, and "pause and resume" depends on the
agent remembering; cutting by the ASR word times of what the redactor found does not. Each
span is widened by ``pad`` on both sides (ASR word boundaries are approximate, and a digit's
first consonant must not survive), overlapping spans merge, and the original fades out over a
few milliseconds *before* the redacted stretch and back in after it, so no step in the
waveform makes a click and no sample inside the stretch keeps any of the original. The tone is
1 kHz, the conventional "bleep", with its own fade in and out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from voxseal.audio import as_mono_pcm
from voxseal.errors import InvalidInput

TONE_HZ = 1000.0
#: -14 dBFS: clearly audible, never clipping
TONE_AMPLITUDE = 0.2 * 32767
#: length of each fade, seconds
FADE = 0.005


def merge_spans(
    spans: Sequence[tuple[float, float]], duration: float, pad: float
) -> list[tuple[float, float]]:
    """Padded, clipped to ``[0, duration]``, sorted and merged."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise InvalidInput("each span must be a finite (start, end) with end >= start")
        s, e = max(0.0, start - pad), min(duration, end + pad)
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def redact_pcm(
    pcm: np.ndarray,
    sample_rate: int,
    spans: Sequence[tuple[float, float]],
    *,
    mode: Literal["silence", "tone"] = "silence",
    pad: float = 0.05,
) -> np.ndarray:
    """A copy of ``pcm`` (int16, mono) with each time span (seconds) silenced or toned."""
    pcm = as_mono_pcm(pcm)  # InvalidPcm is an InvalidInput
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise InvalidInput("sample_rate must be a positive integer")
    if mode not in ("silence", "tone"):
        raise InvalidInput("mode must be 'silence' or 'tone'")
    if not math.isfinite(pad) or pad < 0:
        raise InvalidInput("pad must be >= 0")
    n = len(pcm)
    out = pcm.astype(np.float64)
    fade = max(1, round(FADE * sample_rate))
    ramp = np.linspace(0.0, 1.0, fade + 2)[1:-1]  # strictly between 0 and 1
    for start, end in merge_spans(spans, n / sample_rate, pad):
        a = math.floor(start * sample_rate)
        b = min(n, math.ceil(end * sample_rate))
        if b <= a:
            continue
        # the original fades out just before the stretch and in just after it
        lo = max(0, a - fade)
        out[lo:a] *= ramp[::-1][fade - (a - lo) :]
        hi = min(n, b + fade)
        out[b:hi] *= ramp[: hi - b]
        out[a:b] = 0.0
        if mode == "tone":
            t = np.arange(b - a) / sample_rate
            tone = TONE_AMPLITUDE * np.sin(2 * math.pi * TONE_HZ * t)
            k = min(fade, (b - a) // 2)
            if k:
                env = np.linspace(0.0, 1.0, k + 2)[1:-1]
                tone[:k] *= env
                tone[len(tone) - k :] *= env[::-1]
            out[a:b] = tone
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
