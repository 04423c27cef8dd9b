"""One phone call bridged into a voxseal room: provider stream ↔ E2EE room participant.

The bridge joins the call's room through the SDK like any endpoint — its own identity key,
sealed SFrame sender keys, DTLS-SRTP — so the gateway and its SFU relay only ciphertext. The
phone leg itself cannot be end to end (the carrier decodes it); that is why this process lives
in the agent zone, not in the gateway.

Caller → room: the provider's 20 ms frames (already converted to 48 kHz by the serializer,
click-free across frames) go through a small jitter buffer that the published track drains at
its own 20 ms pace; a late network burst is absorbed, a stall becomes silence, never a gap.

Room → caller: the agent's decoded audio is forwarded while it speaks. An utterance ends after
:data:`END_QUIET_FRAMES` of silence: the serializer's tail is flushed and a ``mark`` (Twilio,
SignalWire) or ``notify`` (Vonage) follows, which the provider echoes once the caller has
heard everything before it. When the caller starts talking while agent audio is still
unplayed (marks outstanding, or the agent mid-utterance), that is barge-in: we send ``clear``
and drop the rest of the agent's current utterance.

Only the agent's voice (identities ``agent:…``) is forwarded to the phone; other participants
are not mixed into the phone leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, Protocol

import numpy as np

from voxseal.agent.vad import VAD_RATE, SpeechStarted, UtteranceSegmenter
from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE, Resampler
from voxseal.sdk.client import Audio, RoomClient
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.ingress import Ingress, room_for
from voxseal.telephony.twilio import TwilioSerializer
from voxseal.telephony.vonage import VonageSerializer

log = logging.getLogger("voxseal.telephony")

#: frames the jitter buffer holds before the track starts draining it (60 ms)
PREBUFFER_FRAMES: Final = 3
#: most caller audio kept while the room is not draining it (1 s); the oldest goes first
MAX_BUFFERED_FRAMES: Final = 50
#: the agent is speaking while its frames peak above this (about -42 dBFS)
SPEECH_PEAK: Final = 256
#: this many quiet frames (600 ms; espeak pauses 320 ms between sentences) end an agent
#: utterance: flush, then mark
END_QUIET_FRAMES: Final = 30
#: joining the room (HTTPS, WSS, keys, DTLS-SRTP) must finish within this
JOIN_TIMEOUT: Final = 20.0
#: carriers stream in real time; a burst after a network stall may run ahead by this much
#: (seconds of audio) beyond twice real time, more is a flood and ends the stream
FLOOD_ALLOWANCE: Final = 5.0
_SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)

Frame = str | bytes


class ProviderLeg(Protocol):
    """What the bridge asks of one provider's serializer, in provider-neutral words."""

    provider: str

    def audio(self, pcm48k: np.ndarray) -> list[Frame]: ...

    def end_utterance(self, mark: str) -> list[Frame]: ...

    def clear(self) -> list[Frame]: ...


class TwilioLeg:
    """Twilio and SignalWire: base64 μ-law ``media``, then a ``mark``; ``clear`` on barge-in."""

    def __init__(self, serializer: TwilioSerializer) -> None:
        self.serializer = serializer
        self.provider = serializer.provider

    def audio(self, pcm48k: np.ndarray) -> list[Frame]:
        return list(self.serializer.serialize_audio(pcm48k))

    def end_utterance(self, mark: str) -> list[Frame]:
        return [*self.serializer.flush_audio(), self.serializer.serialize_mark(mark)]

    def clear(self) -> list[Frame]:
        return [self.serializer.serialize_clear()]


class VonageLeg:
    """Vonage: binary L16 frames, then a ``notify`` carrying the mark; ``clear`` on barge-in."""

    provider = "vonage"

    def __init__(self, serializer: VonageSerializer) -> None:
        self.serializer = serializer

    def audio(self, pcm48k: np.ndarray) -> list[Frame]:
        return list(self.serializer.serialize_audio(pcm48k))

    def end_utterance(self, mark: str) -> list[Frame]:
        return [*self.serializer.flush_audio(), self.serializer.serialize_notify({"mark": mark})]

    def clear(self) -> list[Frame]:
        return [self.serializer.serialize_clear()]


class CallBridge:
    """One call: joins the room, pumps audio both ways, ends with the stream or the room."""

    def __init__(
        self,
        ingress: Ingress,
        leg: ProviderLeg,
        send: Callable[[Frame], Awaitable[None]],
        *,
        call_id: str,
        subject_id: str | None,
        on_room_closed: Callable[[str], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ingress = ingress
        self.leg = leg
        self._send = send
        self.call_id = call_id
        self.subject_id = subject_id
        self.room_name = room_for(leg.provider, call_id)
        self.identity = f"phone:{leg.provider}"
        self._on_room_closed = on_room_closed
        self._clock = clock
        self._started_at = clock()
        self.audio_in_seconds = 0.0
        self.room: RoomClient | None = None
        self.job: str | None = None
        self._closed = False
        # caller → room
        self._in_frames: deque[np.ndarray] = deque(maxlen=MAX_BUFFERED_FRAMES)
        self._in_pending = np.zeros(0, dtype=np.int16)
        self._to_vad = Resampler(SAMPLE_RATE, VAD_RATE)
        self._vad = UtteranceSegmenter(min_speech_ms=120, hangover_ms=300)
        # room → caller
        self._out: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._speaking = False
        self._suppress = False
        self._quiet = 0
        self._utterances = 0
        self.marks_outstanding: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        # counters for the end-of-call audit event (no content, no digits)
        self.frames_in = 0
        self.frames_out = 0
        self.marks_sent = 0
        self.marks_played = 0
        self.barge_ins = 0
        self.dtmf = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Ask for the agent, mint our join token, join with E2EE (raises on failure)."""
        access = self.ingress.access
        self.job = await access.request_agent(self.room_name, self.subject_id)
        token = await access.join_token(self.room_name, self.identity)
        self.room = await RoomClient.connect(
            access.url,
            token,
            ca_file=self.ingress.ca_file,
            audio=Audio(publish=self._frames(), receive_slots=2, on_audio=self._on_room_audio),
            timeout=JOIN_TIMEOUT,
        )
        self._tasks = [
            asyncio.create_task(self._pump_out(), name=f"telephony-out-{self.call_id}"),
            asyncio.create_task(self._watch_room(), name=f"telephony-room-{self.call_id}"),
        ]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._out.put_nowait(None)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            if task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.room is not None:
            with contextlib.suppress(Exception):
                await self.room.leave()

    async def _watch_room(self) -> None:
        assert self.room is not None
        async for _ in self.room.events():
            pass
        if not self._closed and self._on_room_closed is not None:
            closed = self.room.closed
            await self._on_room_closed(f"room closed ({closed.close_code if closed else None})")

    # -- caller → room --------------------------------------------------------------------

    def caller_audio(self, pcm48k: np.ndarray) -> None:
        """48 kHz audio from the phone (any length): to the jitter buffer and the VAD.

        Raises :class:`TelephonyError` (``stream_flood``, 1008) when the provider sends audio
        much faster than real time: decoding and resampling cost CPU every other call shares.
        """
        self.frames_in += 1
        self.audio_in_seconds += len(pcm48k) / SAMPLE_RATE
        elapsed = self._clock() - self._started_at
        if self.audio_in_seconds > 2 * elapsed + FLOOD_ALLOWANCE:
            raise TelephonyError("audio arrives faster than real time", reason="stream_flood")
        pending = np.concatenate((self._in_pending, pcm48k))
        whole = len(pending) - len(pending) % FRAME_SAMPLES
        for i in range(0, whole, FRAME_SAMPLES):
            self._in_frames.append(pending[i : i + FRAME_SAMPLES])
        self._in_pending = pending[whole:]
        speech16k = np.clip(
            np.rint(self._to_vad.push(pcm48k.astype(np.float64) / 32768.0) * 32768.0),
            -32768,
            32767,
        ).astype(np.int16)
        for event in self._vad.push(speech16k):
            if isinstance(event, SpeechStarted):
                self._barge_in()

    async def _frames(self) -> AsyncIterator[np.ndarray]:
        """The published track's source: the jitter buffer, silence while it refills."""
        playing = False
        while not self._closed:
            if not playing and len(self._in_frames) >= PREBUFFER_FRAMES:
                playing = True
            if playing and self._in_frames:
                yield self._in_frames.popleft()
            else:
                playing = False
                yield _SILENCE
            await asyncio.sleep(0)

    def dtmf_digit(self) -> None:
        """A key press: counted, never logged or audited (callers type card numbers)."""
        self.dtmf += 1

    # -- room → caller --------------------------------------------------------------------

    def _emit(self, frames: list[Frame]) -> None:
        for f in frames:
            self._out.put_nowait(f)

    def _on_room_audio(self, identity: str, pcm: np.ndarray) -> None:
        if self._closed or not identity.startswith("agent:"):
            return
        try:
            loud = len(pcm) > 0 and int(np.abs(pcm.astype(np.int32)).max()) >= SPEECH_PEAK
            if loud:
                if not self._speaking:
                    self._speaking, self._suppress = True, False
                self._quiet = 0
            elif not self._speaking:
                return
            else:
                self._quiet += 1
            if not self._suppress:
                frames = self.leg.audio(pcm)
                self.frames_out += len(frames)
                self._emit(frames)
            if not loud and self._quiet >= END_QUIET_FRAMES:
                self._speaking = False
                if not self._suppress:
                    self._utterances += 1
                    name = f"utterance-{self._utterances}"
                    self.marks_outstanding.add(name)
                    self.marks_sent += 1
                    tail = self.leg.end_utterance(name)
                    self.frames_out += len(tail) - 1  # the flushed audio, not the mark
                    self._emit(tail)
                self._suppress = False
        except TelephonyError:
            # the provider stopped the stream: nothing more can be sent to it
            self._suppress = True

    def _barge_in(self) -> None:
        if not (self.marks_outstanding or (self._speaking and not self._suppress)):
            return
        self.barge_ins += 1
        self.marks_outstanding.clear()
        if self._speaking:
            self._suppress = True
        with contextlib.suppress(TelephonyError):
            self._emit(self.leg.clear())

    def mark_played(self, name: object) -> None:
        if isinstance(name, str) and name in self.marks_outstanding:
            self.marks_outstanding.discard(name)
            self.marks_played += 1

    async def _pump_out(self) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                return
            try:
                await self._send(frame)
            except Exception:  # the provider hung up; the stream handler ends the call
                return

    def summary(self) -> dict[str, object]:
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "marks_sent": self.marks_sent,
            "marks_played": self.marks_played,
            "barge_ins": self.barge_ins,
            "dtmf_digits": self.dtmf,
        }


__all__ = ["CallBridge", "ProviderLeg", "TwilioLeg", "VonageLeg"]
