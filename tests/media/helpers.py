"""Shared helpers for the media tests: run a coroutine, analyse received audio, make keys."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np

from voxseal.media.audio import SAMPLE_RATE

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one test scenario on a fresh event loop with a hard deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def dominant_frequency(pcm: np.ndarray, skip: int = 4800) -> float:
    """Frequency (Hz) of the strongest FFT bin, skipping the codec's start-up transient."""
    x = pcm[skip:].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(x))


def new_key() -> bytes:
    return os.urandom(16)


class AudioLog:
    """An ``on_audio`` callback that keeps PCM per participant."""

    def __init__(self) -> None:
        self.frames: dict[str, list[np.ndarray]] = defaultdict(list)

    def __call__(self, participant: str, pcm: np.ndarray) -> None:
        self.frames[participant].append(pcm)

    def pcm(self, participant: str) -> np.ndarray:
        return np.concatenate(self.frames[participant])
