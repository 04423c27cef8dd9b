"""The agent's voice loop for one caller: VAD → streaming ASR → redaction → LLM → TTS.

Why it is shaped like this:

* **Push in, pull out.** The SDK delivers decoded caller audio by callback
  (``Audio(on_audio=...)``) and pulls the agent's audio from an async iterator
  (``Audio(publish=...)``), so :meth:`AgentPipeline.feed` is a cheap synchronous call (resample
  to 16 kHz, VAD) and :meth:`AgentPipeline.output` yields 20 ms frames on demand — silence when
  the agent has nothing to say, so the outbound track never stalls.
* **Streaming ASR.** Utterance audio goes to the transcriber while the caller is still
  talking; at end of speech only the tail remains to decode.
* **Barge-in.** When the VAD hears the caller start talking, everything the agent still has
  to say — queued frames, the reply being generated, the speech being synthesised — is
  dropped at once, inside :meth:`feed`: the very next frame :meth:`output` yields is silence.
* **Consent.** ``may_transcribe()`` is asked at the start of every utterance and again every
  ``consent_interval`` seconds (0.5 s by default) while it lasts; when it says no, the audio is
  not passed to ASR, the utterance in progress is abandoned, and nothing is kept. Withdrawal
  therefore stops transcription well within one second.
* **Privacy boundary.** Only :class:`~voxseal.privacy.RedactedText` leaves: the transcript
  event carries the redacted text and words whose PII is replaced by its placeholder, the
  responder gets redacted text only (it enforces that itself). Raw ASR text is never logged.
* **Timing.** Each :class:`Turn` records when the caller's voice really ended (the wall time
  the last voiced frame was fed) and when the first frame of the reply left :meth:`output`:
  the turn latency a caller feels, including the VAD hangover.

Stream times (``start``/``end`` in events) are seconds of caller audio fed so far: 0 is the
first sample passed to :meth:`feed`, which is how a recording of the inbound track lines up.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from voxseal.agent.asr import AsrChannel, Transcriber, Transcript, TranscriptStream
from voxseal.agent.errors import AgentError
from voxseal.agent.llm import Exchange, Responder
from voxseal.agent.tts import SpeechSynthesizer, split_sentences
from voxseal.agent.vad import (
    VAD_RATE,
    SpeechEnded,
    SpeechStarted,
    UtteranceAudio,
    UtteranceSegmenter,
)
from voxseal.audio import (
    FRAME_DURATION,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Resampler,
    as_mono_pcm,
    float_to_pcm,
    pcm_to_float,
)
from voxseal.privacy import RedactedText, TimedWord, redact, redact_words

__all__ = ["AgentPipeline", "TranscriptEvent", "Turn"]

log = logging.getLogger(__name__)

_SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)
_END: Final = object()
FALLBACK_REPLY: Final = "Sorry, I am having trouble answering right now. Please try again."


@dataclass(frozen=True)
class TranscriptEvent:
    """One redacted utterance, for the transcript store.

    ``words`` are the ASR words with every redacted span collapsed into one word whose text is
    the placeholder (``[CARD]``) — safe to store. ``silence`` are the stream-time spans of PII
    speech, which a recording must silence. All times are stream seconds.
    """

    speaker: str
    redacted: RedactedText
    words: tuple[TimedWord, ...]
    start: float
    end: float
    silence: tuple[tuple[float, float], ...] = ()


@dataclass
class Turn:
    """Timings of one caller utterance and the agent's answer (wall times: time.monotonic())."""

    index: int
    start: float  #: stream time the utterance (with pre-roll) starts
    end: float | None = None  #: stream time the caller's voice ended
    end_of_speech_at: float | None = None  #: wall time the last voiced frame was fed
    detected_at: float | None = None  #: wall time the VAD declared the end (hangover over)
    transcribed_at: float | None = None
    responded_at: float | None = None  #: the responder's text is ready
    first_audio_at: float | None = None  #: the first reply frame left output()
    audio_seconds: float = 0.0  #: utterance audio given to ASR
    asr_final_seconds: float | None = None  #: time to finish the transcript after end
    interrupted: bool = False  #: barge-in cut the reply
    skipped: str | None = None  #: "no_consent", "consent_withdrawn", "superseded", "no_reply"
    error: str | None = None  #: reason code of a failure (the turn fell back gracefully)

    @property
    def latency(self) -> float | None:
        """End of the caller's speech → first reply audio frame, seconds."""
        if self.first_audio_at is None or self.end_of_speech_at is None:
            return None
        return self.first_audio_at - self.end_of_speech_at

    @property
    def latency_after_detection(self) -> float | None:
        """VAD end-of-speech decision → first reply audio (the latency minus the hangover)."""
        if self.first_audio_at is None or self.detected_at is None:
            return None
        return self.first_audio_at - self.detected_at


@dataclass(eq=False)
class _Utterance:
    turn: Turn
    epoch: int
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    #: the previous utterance's task: transcripts are emitted in the order people spoke
    previous: asyncio.Task[None] | None = None
    next_consent_check: float = 0.0
    dropped: bool = False


Callback = Callable[[TranscriptEvent], object]


class AgentPipeline:
    """One caller ↔ one agent voice loop. Use inside a running event loop; ``feed`` and
    ``output`` must be called from the loop's thread (as the SDK's callbacks are)."""

    def __init__(
        self,
        transcriber: Transcriber,
        responder: Responder,
        tts: SpeechSynthesizer,
        *,
        phi: bool = False,
        on_transcript: Callback | None = None,
        may_transcribe: Callable[[], bool] | None = None,
        may_respond: Callable[[], bool] | None = None,
        speaker: str = "caller",
        agent_speaker: str | None = "agent",
        segmenter: UtteranceSegmenter | None = None,
        consent_interval: float = 0.5,
    ) -> None:
        self.transcriber = transcriber
        self.responder = responder
        self.tts = tts
        self.phi = phi
        self.speaker = speaker
        self.agent_speaker = agent_speaker
        self._on_transcript = on_transcript
        self._may_transcribe = may_transcribe or (lambda: True)
        self._may_respond = may_respond or (lambda: True)
        self._consent_interval = consent_interval
        self.segmenter = segmenter or UtteranceSegmenter()
        self._resampler = Resampler(SAMPLE_RATE, VAD_RATE)
        #: this caller's ASR adaptation (dies with the pipeline)
        self._channel = AsrChannel()
        self._feed_log: deque[tuple[float, float]] = deque(maxlen=2000)
        self._utt: _Utterance | None = None
        self._last_asr: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reply_task: asyncio.Task[None] | None = None
        self._out: deque[tuple[np.ndarray, Turn]] = deque()
        self._epoch = 0
        self._closed = False
        #: every utterance heard, in order, with its timings
        self.turns: list[Turn] = []
        #: the conversation so far, as the responder sees it (redacted)
        self.history: list[Exchange] = []
        #: how many times the caller interrupted the agent
        self.barge_ins = 0

    # --- input ------------------------------------------------------------------------------

    def feed(self, pcm: np.ndarray) -> None:
        """Caller audio: 48 kHz mono int16, any length (the SDK gives 20 ms frames)."""
        if self._closed:
            return
        x = self._resampler.push(pcm_to_float(as_mono_pcm(pcm)))
        if not len(x):
            return
        pcm16 = float_to_pcm(x)
        events = self.segmenter.push(pcm16)
        self._feed_log.append((self.segmenter.time, time.monotonic()))
        for event in events:
            if isinstance(event, SpeechStarted):
                self._speech_started(event)
            elif isinstance(event, UtteranceAudio):
                self._utterance_audio(event.audio)
            elif isinstance(event, SpeechEnded):
                self._speech_ended(event)

    def end_of_input(self) -> None:
        """The caller's audio ended (left the call): close the utterance in progress."""
        for event in self.segmenter.flush():
            if isinstance(event, SpeechEnded):
                self._speech_ended(event)

    def _wall_at(self, stream_time: float) -> float:
        """Wall time at which the audio up to ``stream_time`` had been fed."""
        for t, wall in self._feed_log:
            if t >= stream_time - 1e-9:
                return wall
        return time.monotonic()

    @property
    def agent_speaking(self) -> bool:
        """The agent has audio queued or a reply in the making."""
        return bool(self._out) or (self._reply_task is not None and not self._reply_task.done())

    def _barge_in(self) -> None:
        interrupted = {turn.index: turn for _, turn in self._out}
        self._out.clear()
        if self._reply_task is not None and not self._reply_task.done():
            self._reply_task.cancel()
            task_turn = getattr(self._reply_task, "voxseal_turn", None)
            if isinstance(task_turn, Turn):
                interrupted[task_turn.index] = task_turn
        self._reply_task = None
        for turn in interrupted.values():
            turn.interrupted = True
        self.barge_ins += 1

    def _speech_started(self, event: SpeechStarted) -> None:
        if self.agent_speaking:
            self._barge_in()
        self._epoch += 1
        turn = Turn(index=len(self.turns), start=event.start)
        self.turns.append(turn)
        utt = _Utterance(turn, self._epoch)
        self._utt = utt
        if not self._consent():
            utt.dropped = True
            turn.skipped = "no_consent"
            return
        utt.next_consent_check = event.start + self._consent_interval
        utt.previous = self._last_asr
        utt.task = self._spawn(self._transcribe(utt), f"asr-turn-{turn.index}")
        self._last_asr = utt.task
        self._utterance_audio(event.audio)

    def _utterance_audio(self, audio: np.ndarray) -> None:
        utt = self._utt
        if utt is None or utt.dropped:
            return  # no consent: the audio goes nowhere
        if self.segmenter.time >= utt.next_consent_check:
            utt.next_consent_check = self.segmenter.time + self._consent_interval
            if not self._consent():
                self._drop(utt, "consent_withdrawn")
                return
        utt.turn.audio_seconds += len(audio) / VAD_RATE
        utt.queue.put_nowait(audio)

    def _speech_ended(self, event: SpeechEnded) -> None:
        utt = self._utt
        self._utt = None
        if utt is None:
            return
        turn = utt.turn
        turn.end = event.end
        turn.end_of_speech_at = self._wall_at(event.end)
        turn.detected_at = time.monotonic()
        if not utt.dropped:
            utt.queue.put_nowait(_END)

    def _drop(self, utt: _Utterance, reason: str) -> None:
        utt.dropped = True
        utt.turn.skipped = reason
        if utt.task is not None:
            utt.task.cancel()
        while not utt.queue.empty():  # nothing of it is kept
            utt.queue.get_nowait()

    def _consent(self) -> bool:
        try:
            return bool(self._may_transcribe())
        except Exception:
            log.exception("may_transcribe() failed; treating it as no consent")
            return False

    # --- the work of one turn ------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _transcribe(self, utt: _Utterance) -> None:
        turn = utt.turn
        stream: TranscriptStream = self.transcriber.stream(self._channel)
        try:
            transcript = await self._run_asr(utt, stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            turn.error = getattr(exc, "reason", type(exc).__name__)
            log.warning("ASR failed on turn %d: %s", turn.index, turn.error)
            return
        finally:
            stream.close()
        turn.transcribed_at = time.monotonic()
        if utt.previous is not None and not utt.previous.done():
            # emit in speaking order (and answer the latest): wait for the one before
            await asyncio.wait([utt.previous])
        if utt.dropped or not self._consent():  # withdrawn while the tail was decoding
            utt.dropped = True
            turn.skipped = turn.skipped or "consent_withdrawn"
            return
        event = self._event(turn, transcript)
        await self._emit(event)
        if utt.epoch != self._epoch or self._closed:
            turn.skipped = "superseded"  # the caller is talking again: answer that instead
            self.history.append(Exchange(event.redacted, ""))
            return
        if not self._may_respond_now():
            turn.skipped = "no_reply"
            self.history.append(Exchange(event.redacted, ""))
            return
        task = self._spawn(self._reply(turn, event.redacted), f"reply-turn-{turn.index}")
        task.voxseal_turn = turn  # type: ignore[attr-defined]
        self._reply_task = task

    async def _run_asr(self, utt: _Utterance, stream: TranscriptStream) -> Transcript:
        while True:
            chunks = [await utt.queue.get()]
            while not utt.queue.empty():
                chunks.append(utt.queue.get_nowait())
            done = chunks[-1] is _END
            audio = [c for c in chunks if isinstance(c, np.ndarray)]
            if audio:
                await stream.feed(np.concatenate(audio))
            if done:
                break
        t0 = time.monotonic()
        transcript = await stream.finish()
        utt.turn.asr_final_seconds = time.monotonic() - t0
        return transcript

    def _event(self, turn: Turn, transcript: Transcript) -> TranscriptEvent:
        end = turn.end if turn.end is not None else self.segmenter.time
        if transcript.words:
            wr = redact_words(transcript.words, phi=self.phi)
            words = _placeholder_words(transcript.words, wr.redacted, turn.start)
            silence = tuple((turn.start + s, turn.start + e) for s, e in wr.silence)
            return TranscriptEvent(self.speaker, wr.redacted, words, turn.start, end, silence)
        return TranscriptEvent(
            self.speaker, redact(transcript.text, phi=self.phi), (), turn.start, end
        )

    async def _emit(self, event: TranscriptEvent) -> None:
        if self._on_transcript is None:
            return
        try:
            result = self._on_transcript(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("on_transcript callback failed (the call goes on)")

    def _may_respond_now(self) -> bool:
        try:
            return bool(self._may_respond())
        except Exception:
            log.exception("may_respond() failed; not replying")
            return False

    async def _reply(self, turn: Turn, text: RedactedText) -> None:
        try:
            reply = await self.responder.respond(tuple(self.history), text)
        except AgentError as exc:
            turn.error = exc.reason
            log.warning("responder failed on turn %d: %s", turn.index, exc.reason)
            reply = FALLBACK_REPLY
        turn.responded_at = time.monotonic()
        self.history.append(Exchange(text, reply))
        start = self.segmenter.time
        played = 0
        for sentence in split_sentences(reply):
            try:
                pcm = await self.tts.synthesize(sentence)
            except AgentError as exc:
                turn.error = exc.reason
                log.warning("TTS failed on turn %d: %s", turn.index, exc.reason)
                return
            frames = len(pcm) // FRAME_SAMPLES + (1 if len(pcm) % FRAME_SAMPLES else 0)
            padded = np.zeros(frames * FRAME_SAMPLES, dtype=np.int16)
            padded[: len(pcm)] = pcm
            for i in range(frames):
                self._out.append((padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES], turn))
            played += frames
        if self.agent_speaker is not None:
            await self._emit(
                TranscriptEvent(
                    self.agent_speaker,
                    redact(reply, phi=self.phi),
                    (),
                    start,
                    start + played * FRAME_DURATION,
                )
            )

    # --- output -----------------------------------------------------------------------------

    async def output(self, *, pace: bool = False) -> AsyncIterator[np.ndarray]:
        """The agent's audio: 960-sample 48 kHz frames, forever (silence when idle).

        The SDK's track paces itself at 20 ms per frame, so by default frames come as fast as
        they are asked for; ``pace=True`` keeps real time here (for consumers that do not).
        """
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._closed:
            if self._out:
                frame, turn = self._out.popleft()
                if turn.first_audio_at is None:
                    turn.first_audio_at = time.monotonic()
            else:
                frame = _SILENCE
            yield frame
            if pace:
                next_at += FRAME_DURATION
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            else:
                await asyncio.sleep(0)

    # --- lifecycle ----------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until every utterance is transcribed and every reply is queued (tests)."""
        while True:
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop: abandon utterances and replies, end :meth:`output`."""
        self._closed = True
        self._out.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> AgentPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _placeholder_words(
    words: tuple[TimedWord, ...], redacted: RedactedText, offset: float
) -> tuple[TimedWord, ...]:
    """ASR words in stream time, each redacted span collapsed into one placeholder word.

    Offsets follow :func:`~voxseal.privacy.redact_words`: the words joined by single spaces.
    """
    out: list[TimedWord] = []
    pos = 0
    spans = redacted.spans
    current: int | None = None  # index of the span the previous word was in
    for w in words:
        start, end = pos, pos + len(w.text)
        pos = end + 1
        hit = next((i for i, s in enumerate(spans) if s.start < end and s.end > start), None)
        if hit is None:
            out.append(TimedWord(w.text, offset + w.start, offset + w.end))
            current = None
        elif hit == current:
            last = out[-1]
            out[-1] = TimedWord(last.text, last.start, offset + w.end)
        else:
            out.append(TimedWord(spans[hit].kind.placeholder, offset + w.start, offset + w.end))
            current = hit
    return tuple(out)
