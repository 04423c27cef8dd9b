"""Shared helpers for the media tests: run a coroutine, analyse received audio, make keys."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from voxseal.audio import SAMPLE_RATE

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


@dataclass
class TonePair:
    """Two keyed endpoints that publish 440 Hz and 660 Hz tones and hear each other."""

    a: Any
    b: Any
    heard_a: AudioLog
    heard_b: AudioLog
    key_a: bytes
    key_b: bytes


def tone_pair(seconds: float, a_id: str = "alice", b_id: str = "bob") -> TonePair:
    """Endpoints A (KID 1) and B (KID 2), each holding the other's key, publishing tones."""
    from voxseal.media.audio import pcm_frames, tone
    from voxseal.media.endpoint import MediaEndpoint

    ka, kb = new_key(), new_key()
    heard_a, heard_b = AudioLog(), AudioLog()
    a = MediaEndpoint(a_id, on_audio=heard_a)
    b = MediaEndpoint(b_id, on_audio=heard_b)
    a.set_sender_key(1, ka)
    b.set_sender_key(2, kb)
    a.add_participant_key(b_id, 2, kb)
    b.add_participant_key(a_id, 1, ka)
    a.publish(pcm_frames([tone(440, seconds)]))
    b.publish(pcm_frames([tone(660, seconds)]))
    return TonePair(a, b, heard_a, heard_b, ka, kb)
