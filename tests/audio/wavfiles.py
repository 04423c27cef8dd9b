"""Test WAV files written by hand, so every header variant is exercised (the reader under test
must not be the thing that writes them)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def encode_wav(
    x: np.ndarray,
    rate: int,
    width: int = 2,
    *,
    extensible: bool = False,
    format_tag: int = 1,
) -> bytes:
    """Float samples (n,) or (n, channels) in [-1, 1) → a complete WAV file."""
    x = x[:, None] if x.ndim == 1 else x
    channels = x.shape[1]
    if width == 1:
        data = (np.rint(x * 127) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.rint(x * 32767).astype("<i2").tobytes()
    elif width == 3:
        v = np.rint(x * 8388607).astype("<i4").reshape(-1)
        data = v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        data = np.rint(x * 2147483647).astype("<i4").tobytes()
    block = channels * width
    fmt = struct.pack(
        "<HHLLHH",
        0xFFFE if extensible else format_tag,
        channels,
        rate,
        rate * block,
        block,
        8 * width,
    )
    if extensible:
        guid = struct.pack("<H", format_tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHL", 22, 8 * width, 0) + guid
    chunks = b"fmt " + struct.pack("<L", len(fmt)) + fmt + b"data" + struct.pack("<L", len(data))
    body = b"WAVE" + chunks + data
    return b"RIFF" + struct.pack("<L", len(body)) + body


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def tone_wav(path: Path, freq: float, rate: int, seconds: float, **kw: object) -> Path:
    x = sine(freq, rate, seconds)
    channels = int(kw.pop("channels", 1))  # type: ignore[call-overload]
    if channels > 1:
        x = np.repeat(x[:, None], channels, axis=1)
    path.write_bytes(encode_wav(x, rate, **kw))  # type: ignore[arg-type]
    return path
