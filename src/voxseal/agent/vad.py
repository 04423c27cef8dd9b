"""Voice activity detection: cut the caller's audio into utterances (sans-I/O).

Why a segmenter and not just a per-frame VAD: the pipeline needs *events* — "the caller
started talking" (which interrupts the agent: barge-in) and "the caller has finished" (which
ends the ASR utterance and starts the reply) — and the audio in between, so that ASR hears each
utterance exactly once and nothing outside one. webrtcvad's per-frame decision is noisy, so:

* **onset**: speech starts only after ``min_speech_ms`` of consecutive voiced frames, so a
  click or a cough does not interrupt the agent;
* **pre-roll**: the ``pre_roll_ms`` before the onset are part of the utterance (the onset is
  detected a little late, and the first consonant is often too quiet for the VAD);
* **hangover**: speech ends after ``hangover_ms`` of continuous non-speech, so the natural
  pauses between words and digits do not split an utterance. This is the floor of the agent's
  turn latency, hence configurable (600 ms by default);
* **max utterance**: a caller who never pauses is cut every ``max_utterance_s``, so ASR memory
  and latency stay bounded.

Times are *stream* seconds: samples pushed so far divided by the rate. The segmenter has no
clock, no thread and no I/O; :mod:`voxseal.agent.pipeline` maps stream time to wall time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import webrtcvad

from voxseal.audio import as_mono_pcm

__all__ = [
    "VAD_RATE",
    "SpeechEnded",
    "SpeechStarted",
    "UtteranceAudio",
    "UtteranceSegmenter",
    "VadEvent",
]

#: webrtcvad accepts 8/16/32/48 kHz; 16 kHz is also what every ASR engine here wants
VAD_RATE: Final = 16_000


@dataclass(frozen=True, eq=False)
class SpeechStarted:
    """The caller started talking. ``audio`` is the pre-roll plus the onset frames.

    ``start`` is the stream time of ``audio[0]``: ASR word times are relative to it.
    ``onset`` is the stream time the VAD first heard voice.
    """

    start: float
    onset: float
    audio: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class UtteranceAudio:
    """More audio of the current utterance (every frame between start and end, pauses too)."""

    audio: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance is over. ``end`` is the stream time voice was last heard (the caller's
    real end of speech); ``at`` is when that became certain (``end`` + hangover), or earlier if
    the utterance was cut at ``max_utterance_s``."""

    start: float
    end: float
    at: float
    truncated: bool = False


VadEvent = SpeechStarted | UtteranceAudio | SpeechEnded


class UtteranceSegmenter:
    """16 kHz mono int16 in (any chunk size), :data:`VadEvent` list out."""

    def __init__(
        self,
        *,
        aggressiveness: int = 2,
        frame_ms: int = 20,
        min_speech_ms: int = 80,
        hangover_ms: int = 600,
        pre_roll_ms: int = 300,
        max_utterance_s: float = 30.0,
    ) -> None:
        if frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad frames are 10, 20 or 30 ms")
        if not 0 <= aggressiveness <= 3:
            raise ValueError("aggressiveness is 0 (least) … 3 (most aggressive)")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.frame_samples = VAD_RATE * frame_ms // 1000
        self.frame_ms = frame_ms
        self._onset_frames = max(1, -(-min_speech_ms // frame_ms))
        self._hangover_frames = max(1, -(-hangover_ms // frame_ms))
        self._max_frames = max(1, round(max_utterance_s * 1000 / frame_ms))
        pre_roll = max(0, pre_roll_ms // frame_ms)
        #: frames heard while idle: the pre-roll plus the onset candidates
        self._recent: deque[np.ndarray] = deque(maxlen=pre_roll + self._onset_frames)
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames = 0  # frames consumed: the stream clock
        self._voiced_run = 0
        self._silent_run = 0
        self._in_speech = False
        self._utt_start_frame = 0
        self._utt_frames = 0
        self._last_voiced_frame = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def time(self) -> float:
        """Stream seconds consumed so far (whole frames)."""
        return self._frames * self.frame_ms / 1000

    def _t(self, frame: int) -> float:
        return frame * self.frame_ms / 1000

    def push(self, pcm: np.ndarray) -> list[VadEvent]:
        """Consume samples; return the events they complete (usually none or one)."""
        data = np.concatenate((self._pending, as_mono_pcm(pcm)))
        whole = len(data) - len(data) % self.frame_samples
        self._pending = data[whole:]
        events: list[VadEvent] = []
        for i in range(0, whole, self.frame_samples):
            self._frame(data[i : i + self.frame_samples], events)
        return events

    def _frame(self, frame: np.ndarray, events: list[VadEvent]) -> None:
        voiced = self._vad.is_speech(frame.tobytes(), VAD_RATE)
        index = self._frames
        self._frames += 1
        if not self._in_speech:
            self._recent.append(frame)
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self._onset_frames:
                audio = np.concatenate(self._recent)
                self._recent.clear()
                self._in_speech = True
                self._utt_frames = len(audio) // self.frame_samples
                self._utt_start_frame = self._frames - self._utt_frames
                self._silent_run = 0
                self._last_voiced_frame = index
                onset = self._t(self._frames - self._onset_frames)
                events.append(SpeechStarted(self._t(self._utt_start_frame), onset, audio))
            return
        self._utt_frames += 1
        events.append(UtteranceAudio(frame))
        if voiced:
            self._silent_run = 0
            self._last_voiced_frame = index
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            self._end(events, truncated=False)
        elif self._utt_frames >= self._max_frames:
            self._end(events, truncated=True)

    def _end(self, events: list[VadEvent], *, truncated: bool) -> None:
        self._in_speech = False
        self._voiced_run = 0
        events.append(
            SpeechEnded(
                start=self._t(self._utt_start_frame),
                end=self._t(self._last_voiced_frame + 1),
                at=self._t(self._frames),
                truncated=truncated,
            )
        )

    def flush(self) -> list[VadEvent]:
        """End the current utterance now (the call ended): returns a SpeechEnded or nothing."""
        events: list[VadEvent] = []
        if self._in_speech:
            self._end(events, truncated=True)
        self._pending = np.zeros(0, dtype=np.int16)
        return events
