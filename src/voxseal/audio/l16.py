"""L16: uncompressed signed 16-bit PCM as bytes, the codec of Vonage's media streams.

Vonage sends and expects *little-endian* samples (``audio/l16;rate=16000`` or ``8000``), not the
network byte order of RFC 3551's L16; this module follows what the carrier does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxseal.audio.errors import InvalidPcm

__all__ = ["l16_decode", "l16_encode"]


def l16_decode(data: bytes) -> npt.NDArray[np.int16]:
    """Little-endian signed 16-bit PCM bytes → int16; half a sample is :class:`InvalidPcm`."""
    if len(data) % 2:
        raise InvalidPcm("L16 audio must be a whole number of 16-bit samples")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def l16_encode(pcm: npt.ArrayLike) -> bytes:
    """int16 samples → little-endian signed 16-bit PCM bytes."""
    return np.asarray(pcm, dtype=np.int16).astype("<i2").tobytes()
