"""The internal PCM format: the one check of what counts as mono int16, int16 ↔ float, framing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from voxseal.audio import (
    FRAME_DURATION,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    InvalidPcm,
    PcmFramer,
    as_mono_pcm,
    float_to_pcm,
    pcm_to_float,
)
from voxseal.errors import InvalidInput


def test_framer_rechunks_and_pads() -> None:
    framer = PcmFramer()
    assert framer.push(np.zeros(500, np.int16)) == []
    frames = framer.push(np.ones(1500, np.int16))
    assert len(frames) == 2 and all(len(f) == FRAME_SAMPLES for f in frames)
    last = framer.flush()
    assert (
        last is not None
        and len(last) == FRAME_SAMPLES
        and last[:80].sum() == 80
        and last[80:].sum() == 0
    )
    assert framer.flush() is None
    with pytest.raises(InvalidPcm, match="int16"):
        framer.push(np.zeros(10, np.float32))
    with pytest.raises(InvalidPcm, match="mono"):
        framer.push(np.zeros((2, 10), np.int16))


def test_frames_are_20_ms_at_48_khz() -> None:
    assert (SAMPLE_RATE, FRAME_SAMPLES, FRAME_DURATION) == (48_000, 960, 0.02)


def test_mono_int16_passes_and_a_single_row_is_flattened() -> None:
    pcm = np.arange(5, dtype=np.int16)
    assert as_mono_pcm(pcm) is pcm
    row = as_mono_pcm(pcm.reshape(1, -1))
    assert row.shape == (5,) and np.shares_memory(row, pcm)


@pytest.mark.parametrize(
    ("pcm", "message"),
    [
        (np.zeros(4, np.float32), "PCM must be int16, got float32"),
        (np.zeros(4, np.int32), "PCM must be int16, got int32"),
        ([0, 1, 2], "PCM must be int16, got int64"),
        (np.zeros((2, 4), np.int16), r"PCM must be mono, shape \(n,\) or \(1, n\); got \(2, 4\)"),
        (np.zeros((4, 1), np.int16), r"got \(4, 1\)"),
        (np.int16(3), r"got \(\)"),
    ],
)
def test_anything_else_is_refused_with_a_typed_error(pcm: object, message: str) -> None:
    with pytest.raises(InvalidPcm, match=message) as info:
        as_mono_pcm(pcm)  # type: ignore[arg-type]
    # an InvalidInput for the edge, a ValueError for callers that caught the old checks
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)
    assert info.value.reason == "invalid_pcm"


def test_every_consumer_uses_the_one_check() -> None:
    """The agent, the media plane and redaction refuse float PCM with the same error."""
    from voxseal.agent.vad import UtteranceSegmenter
    from voxseal.media.audio import OpusFrameEncoder
    from voxseal.privacy.audio import redact_pcm

    bad = np.zeros(FRAME_SAMPLES, np.float32)
    for refuse in (
        UtteranceSegmenter().push,
        OpusFrameEncoder().encode,
        lambda pcm: redact_pcm(pcm, SAMPLE_RATE, []),
        PcmFramer().push,
    ):
        with pytest.raises(InvalidPcm, match="PCM must be int16, got float32"):
            refuse(bad)


def test_int16_and_float_convert_exactly_and_saturate() -> None:
    pcm = np.array([-32768, -1, 0, 1, 32767], np.int16)
    x = pcm_to_float(pcm)
    assert x.dtype == np.float64 and x.tolist() == [-1.0, -1 / 32768, 0.0, 1 / 32768, 32767 / 32768]
    assert np.array_equal(float_to_pcm(x), pcm)
    # a resampler's overshoot saturates instead of wrapping around; halves round to even
    y = float_to_pcm(np.array([1.5, -1.5, 0.5 / 32768, 1.5 / 32768]))
    assert y.dtype == np.int16 and y.tolist() == [32767, -32768, 0, 2]


def test_the_package_stands_on_numpy_and_the_stdlib_only() -> None:
    """``voxseal.audio`` sits just above ``voxseal.crypto``: loading it loads no other room."""
    code = (
        "import sys, voxseal.audio, voxseal.audio.wav, voxseal.audio.g711, voxseal.audio.l16;"
        "print(sorted(m for m in sys.modules if m.startswith('voxseal')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))
    assert {m for m in loaded if not m.startswith("voxseal.audio")} <= {
        "voxseal",
        "voxseal.errors",
        "voxseal.config",
    }
