"""Audio redaction: the span is gone (silence or a 1 kHz tone), the rest is intact, no clicks."""

from __future__ import annotations

import numpy as np
import pytest

from voxseal.errors import InvalidInput
from voxseal.privacy.audio import FADE, TONE_HZ, merge_spans, redact_pcm
from voxseal.privacy.redact import TimedWord, redact_words

RATE = 16000


def speechlike(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 1370 * t)
    return (x * 20000).astype(np.int16)


def test_silence_replaces_the_padded_span_and_keeps_the_rest() -> None:
    pcm = speechlike()
    out = redact_pcm(pcm, RATE, [(0.5, 1.0)], pad=0.05)
    assert out.dtype == np.int16 and out.shape == pcm.shape
    assert not out[int(0.45 * RATE) : int(1.05 * RATE)].any()
    fade = int(FADE * RATE) + 2
    keep_a = slice(0, int(0.45 * RATE) - fade)
    keep_b = slice(int(1.05 * RATE) + fade, len(pcm))
    assert np.array_equal(out[keep_a], pcm[keep_a])
    assert np.array_equal(out[keep_b], pcm[keep_b])
    assert pcm.any()  # the input is not modified
    assert np.array_equal(pcm, speechlike())


def test_tone_is_1khz_and_no_original_survives() -> None:
    pcm = speechlike()
    out = redact_pcm(pcm, RATE, [(0.5, 1.0)], mode="tone", pad=0.0)
    seg = out[int(0.5 * RATE) : int(1.0 * RATE)].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(len(seg), 1 / RATE)
    assert abs(freqs[int(np.argmax(spectrum))] - TONE_HZ) < 5
    # the input's 220 Hz and 1370 Hz components are gone from the stretch
    for f in (220, 1370):
        assert spectrum[np.argmin(np.abs(freqs - f))] < 0.01 * spectrum.max()


@pytest.mark.parametrize("mode", ["silence", "tone"])
def test_no_clicks_at_the_edges(mode: str) -> None:
    pcm = speechlike()
    out = redact_pcm(pcm, RATE, [(0.5, 1.0)], mode=mode)  # type: ignore[arg-type]
    # the largest sample-to-sample step is no bigger than the signals' own steepest slope
    limit = max(np.abs(np.diff(pcm.astype(np.int32))).max(), 0.2 * 32767 * 2 * np.pi * 1000 / RATE)
    assert np.abs(np.diff(out.astype(np.int32))).max() <= limit + 2


def test_spans_merge_clip_and_validate() -> None:
    assert merge_spans([(1.0, 1.2), (0.5, 0.6), (1.15, 1.4)], 2.0, 0.05) == [
        (0.45, 0.65),
        (0.95, 1.45),
    ]
    assert merge_spans([(1.9, 3.0)], 2.0, 0.0) == [(1.9, 2.0)]
    assert merge_spans([(5.0, 6.0)], 2.0, 0.0) == []
    pcm = speechlike(0.5)
    assert np.array_equal(redact_pcm(pcm, RATE, []), pcm)
    with pytest.raises(InvalidInput):
        redact_pcm(pcm, RATE, [(1.0, 0.5)])
    with pytest.raises(InvalidInput):
        redact_pcm(pcm.astype(np.float32), RATE, [])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        redact_pcm(np.stack([pcm, pcm]), RATE, [])
    with pytest.raises(InvalidInput):
        redact_pcm(pcm, RATE, [], mode="beep")  # type: ignore[arg-type]


def test_asr_words_to_silenced_audio() -> None:
    """The pipeline the agent runs: ASR words -> redact_words -> redact_pcm."""
    said = "my card is four one one one one one one one one one one one one one one one ok"
    words, t = [], 0.1
    for w in said.split():
        words.append(TimedWord(w, t, t + 0.08))
        t += 0.1
    pcm = speechlike(t + 0.2)
    result = redact_words(words)
    assert result.redacted.text == "my card is [CARD] ok"
    out = redact_pcm(pcm, RATE, result.silence)
    ((start, end),) = result.silence
    assert not out[int((start - 0.05) * RATE) : int((end + 0.05) * RATE)].any()
    assert np.array_equal(out[: int(0.2 * RATE)], pcm[: int(0.2 * RATE)])
