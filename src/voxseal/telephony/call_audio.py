"""One phone call's audio logic, sans-I/O: jitter buffer, utterances and marks, barge-in.

:class:`CallAudio` is the call's state machine in the manner of aioquic's ``QuicConnection``:
it owns no socket, task or clock. The I/O shell (:mod:`.bridge`) feeds it what happens —
provider-neutral events from the caller's stream (:mod:`.events`), the room's decoded audio,
the published track asking for its next frame — with the time passed in, and sends what it
returns: provider-neutral outbound items for the serializer, 20 ms frames for the room.

Caller → room: the provider's frames (already 48 kHz, click-free across frames) go through a
small jitter buffer that the published track drains at its own 20 ms pace
(:meth:`CallAudio.next_room_frame`); a late network burst is absorbed, a stall becomes
silence, never a gap.

Room → caller: the agent's decoded audio is forwarded while it speaks. An utterance ends after
:data:`END_QUIET_FRAMES` of silence: :class:`~.events.FlushAudio` (the serializer's tail)
then a :class:`~.events.Mark`, which the provider echoes (:class:`~.events.MarkPlayed`) once
the caller has heard everything before it. When the caller starts talking while agent audio
is still unplayed (marks outstanding, or the agent mid-utterance), that is barge-in:
:class:`~.events.Clear`, and the rest of the agent's current utterance is dropped.

Only the agent's voice (identities ``agent:…``) is forwarded to the phone; other participants
are not mixed into the phone leg.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import numpy as np

from voxseal.agent.vad import VAD_RATE, SpeechStarted, UtteranceSegmenter
from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE, Resampler, float_to_pcm, pcm_to_float
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.events import (
    CallerAudio,
    Clear,
    DtmfReceived,
    FlushAudio,
    InboundEvent,
    Mark,
    MarkPlayed,
    OutboundItem,
    PlayAudio,
    StreamStopped,
)

#: frames the jitter buffer holds before the track starts draining it (60 ms)
PREBUFFER_FRAMES: Final = 3
#: most caller audio kept while the room is not draining it (1 s); the oldest goes first
MAX_BUFFERED_FRAMES: Final = 50
#: the agent is speaking while its frames peak above this (about -42 dBFS)
SPEECH_PEAK: Final = 256
#: this many quiet frames (600 ms; espeak pauses 320 ms between sentences) end an agent
#: utterance: flush, then mark
END_QUIET_FRAMES: Final = 30
#: carriers stream in real time; a burst after a network stall may run ahead by this much
#: (seconds of audio) beyond twice real time, more is a flood and ends the stream
FLOOD_ALLOWANCE: Final = 5.0
#: whose room audio goes to the phone
AGENT_PREFIX: Final = "agent:"
_SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class CallAudio:
    """One call's audio both ways; ``started_at`` is the clock reading the call began at
    (the flood check measures real time from it, in the same clock as every ``now``)."""

    def __init__(self, *, started_at: float) -> None:
        self._started_at = started_at
        self._stream_open = True
        # caller → room
        self._in_frames: deque[np.ndarray] = deque(maxlen=MAX_BUFFERED_FRAMES)
        self._in_pending = np.zeros(0, dtype=np.int16)
        self._playing = False
        self._to_vad = Resampler(SAMPLE_RATE, VAD_RATE)
        self._vad = UtteranceSegmenter(min_speech_ms=120, hangover_ms=300)
        # room → caller
        self._speaking = False
        self._suppress = False
        self._quiet = 0
        self._utterances = 0
        self._marks_outstanding: set[str] = set()
        # counters for the end-of-call audit event (no content, no digits)
        self.audio_in_seconds = 0.0
        self.frames_in = 0
        self.marks_sent = 0
        self.marks_played = 0
        self.barge_ins = 0
        self.dtmf_digits = 0

    @property
    def marks_outstanding(self) -> frozenset[str]:
        """Marks sent whose echo has not come back: agent audio the caller has not heard."""
        return frozenset(self._marks_outstanding)

    @property
    def buffered_frames(self) -> int:
        """20 ms frames of caller audio waiting for the room."""
        return len(self._in_frames)

    # -- the caller's stream --------------------------------------------------------------

    def receive(self, event: InboundEvent, now: float) -> list[OutboundItem]:
        """One event from the caller's stream; returns what to send back to the provider.

        Raises :class:`TelephonyError` (``stream_flood``, 1008) when the provider sends audio
        much faster than real time: decoding and resampling cost CPU every other call shares.
        Events that concern only the edge (start, unknown events) change nothing here.
        """
        if isinstance(event, CallerAudio):
            return self._caller_audio(event.pcm, now)
        if isinstance(event, MarkPlayed):
            if event.name is not None and event.name in self._marks_outstanding:
                self._marks_outstanding.discard(event.name)
                self.marks_played += 1
        elif isinstance(event, DtmfReceived):
            self.dtmf_digits += 1
        elif isinstance(event, StreamStopped):
            self._stream_open = False
        return []

    def _caller_audio(self, pcm48k: np.ndarray, now: float) -> list[OutboundItem]:
        self.frames_in += 1
        self.audio_in_seconds += len(pcm48k) / SAMPLE_RATE
        if self.audio_in_seconds > 2 * (now - self._started_at) + FLOOD_ALLOWANCE:
            raise TelephonyError("audio arrives faster than real time", reason="stream_flood")
        pending = np.concatenate((self._in_pending, pcm48k))
        whole = len(pending) - len(pending) % FRAME_SAMPLES
        for i in range(0, whole, FRAME_SAMPLES):
            self._in_frames.append(pending[i : i + FRAME_SAMPLES])
        self._in_pending = pending[whole:]
        speech16k = float_to_pcm(self._to_vad.push(pcm_to_float(pcm48k)))
        out: list[OutboundItem] = []
        for event in self._vad.push(speech16k):
            if isinstance(event, SpeechStarted):
                out += self._barge_in()
        return out

    def _barge_in(self) -> list[OutboundItem]:
        if not (self._marks_outstanding or (self._speaking and not self._suppress)):
            return []
        self.barge_ins += 1
        self._marks_outstanding.clear()
        if self._speaking:
            self._suppress = True
        return [Clear()] if self._stream_open else []

    # -- the room -------------------------------------------------------------------------

    def next_room_frame(self) -> np.ndarray:
        """The published track's next 20 ms: the jitter buffer once it holds
        :data:`PREBUFFER_FRAMES`, silence while it refills."""
        if not self._playing and len(self._in_frames) >= PREBUFFER_FRAMES:
            self._playing = True
        if self._playing and self._in_frames:
            return self._in_frames.popleft()
        self._playing = False
        return _SILENCE

    def room_audio(self, identity: str, pcm: np.ndarray) -> list[OutboundItem]:
        """One decoded 20 ms frame of a room participant; returns what to send the provider."""
        if not identity.startswith(AGENT_PREFIX) or not self._stream_open:
            return []
        loud = len(pcm) > 0 and int(np.abs(pcm.astype(np.int32)).max()) >= SPEECH_PEAK
        if loud:
            if not self._speaking:
                self._speaking, self._suppress = True, False
            self._quiet = 0
        elif not self._speaking:
            return []
        else:
            self._quiet += 1
        out: list[OutboundItem] = []
        if not self._suppress:
            out.append(PlayAudio(pcm))
        if not loud and self._quiet >= END_QUIET_FRAMES:
            self._speaking = False
            if not self._suppress:
                self._utterances += 1
                name = f"utterance-{self._utterances}"
                self._marks_outstanding.add(name)
                self.marks_sent += 1
                out += [FlushAudio(), Mark(name)]
            self._suppress = False
        return out

    def summary(self) -> dict[str, int]:
        """The end-of-call counters this class keeps (the shell adds the frames it sent)."""
        return {
            "frames_in": self.frames_in,
            "marks_sent": self.marks_sent,
            "marks_played": self.marks_played,
            "barge_ins": self.barge_ins,
            "dtmf_digits": self.dtmf_digits,
        }


__all__ = [
    "AGENT_PREFIX",
    "END_QUIET_FRAMES",
    "FLOOD_ALLOWANCE",
    "MAX_BUFFERED_FRAMES",
    "PREBUFFER_FRAMES",
    "SPEECH_PEAK",
    "CallAudio",
]
