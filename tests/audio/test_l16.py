"""L16 as Vonage sends it: little-endian, whole 16-bit samples only."""

from __future__ import annotations

import numpy as np
import pytest

from voxseal.audio import InvalidPcm, l16_decode, l16_encode


def test_l16_is_little_endian_and_refuses_half_samples() -> None:
    pcm = np.array([1, -2, 0x1234], np.int16)
    assert l16_encode(pcm) == b"\x01\x00\xfe\xff\x34\x12"
    assert l16_decode(l16_encode(pcm)).tolist() == pcm.tolist()
    with pytest.raises(InvalidPcm, match="whole number of 16-bit samples"):
        l16_decode(b"\x00\x01\x02")
