"""The streaming resampler: exact lengths, tones kept, images and aliases removed, and chunked
output bit-identical to whole-signal output."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio.wavfiles import sine
from tests.media.helpers import dominant_frequency
from voxseal.audio import Resampler, resample


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 96_000])
def test_resampling_keeps_a_tone_and_the_exact_length(rate: int) -> None:
    x = sine(1000, rate, 1.5)
    y = resample(x, rate)
    assert len(y) == 72_000  # exactly 1.5 s at 48 kHz
    assert abs(dominant_frequency(y) - 1000) < 2
    ideal = sine(1000, 48_000, 1.5)
    # the interior matches the ideal 48 kHz sine to better than -80 dB (edges: filter warm-up)
    assert np.max(np.abs(y[2000:-2000] - ideal[2000:-2000])) < 1e-4 * 0.5


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100])
def test_streaming_in_odd_chunks_is_identical_and_has_no_clicks(rate: int) -> None:
    x = sine(1000, rate, 1.0)
    whole = resample(x, rate)
    r = Resampler(rate)
    parts, i = [], 0
    rng = np.random.default_rng(7)
    while i < len(x):
        n = int(rng.integers(1, 700))  # chunk edges at arbitrary phases
        parts.append(r.push(x[i : i + n]))
        i += n
    parts.append(r.flush())
    chunked = np.concatenate(parts)
    assert len(chunked) == len(whole) == 48_000
    assert np.array_equal(chunked, whole)
    # no discontinuity anywhere: a 1 kHz sine of amplitude 0.5 moves at most this much per sample
    max_step = 2 * np.pi * 1000 / 48_000 * 0.5
    assert np.max(np.abs(np.diff(chunked[200:-200]))) <= max_step * 1.01


def test_upsampling_removes_images_and_downsampling_removes_aliases() -> None:
    def level_db(y: np.ndarray, freq: float) -> float:
        spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        k = round(freq * len(y) / 48_000)
        return float(20 * np.log10(spec[k - 3 : k + 4].max() / spec.max()))

    # 8 kHz → 48 kHz: zero-stuffing would put images of 1 kHz at 7, 9, 15, 17 kHz
    y = resample(sine(1000, 8_000, 1.0), 8_000)
    assert max(level_db(y, f) for f in (7_000, 9_000, 15_000, 17_000)) < -70
    # 96 kHz → 48 kHz: a 30 kHz tone would alias to 18 kHz without the low-pass
    y = resample(sine(30_000, 96_000, 1.0) + sine(1000, 96_000, 1.0), 96_000)
    assert level_db(y, 18_000) < -70
