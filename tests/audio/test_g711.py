"""G.711 μ-law against its code points (the segment table of ITU-T G.711)."""

from __future__ import annotations

import numpy as np
import pytest

from voxseal.audio import ulaw_decode, ulaw_encode

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
