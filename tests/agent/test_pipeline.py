"""The whole loop with real engines: espeak-ng voice in → webrtcvad → pocketsphinx →
redaction → responder → espeak-ng voice out, plus barge-in and consent."""

from __future__ import annotations

import asyncio
import re
import socket

import numpy as np
import pytest

from tests.agent.helpers import (
    CARD_PHRASE,
    DIGIT_WORDS,
    GREETING,
    CountingTranscriber,
    collect_reply,
    run,
    say,
    silence,
    speech,
    transcriber,
)
from voxseal.agent import (
    AgentPipeline,
    EspeakTTS,
    Exchange,
    OpenAICompatibleResponder,
    RuleBasedResponder,
    TranscriptEvent,
)
from voxseal.audio import FRAME_SAMPLES
from voxseal.privacy import PiiKind, RedactedText


class RecordingResponder(RuleBasedResponder):
    """The real rule-based responder, remembering exactly what it was given."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    async def respond(self, history, text):  # type: ignore[no-untyped-def]
        self.seen.append(text)
        return await super().respond(history, text)


@pytest.mark.slow
def test_card_number_is_transcribed_redacted_and_answered() -> None:
    greeting, card = speech(GREETING), speech(CARD_PHRASE)
    asr = CountingTranscriber(transcriber())
    responder = RecordingResponder()
    events: list[TranscriptEvent] = []
    pipeline: AgentPipeline | None = None

    async def call() -> tuple[np.ndarray, np.ndarray]:
        nonlocal pipeline
        pipeline = AgentPipeline(asr, responder, EspeakTTS(), on_transcript=events.append)
        await say(pipeline, np.concatenate([silence(0.3), greeting, silence(0.8)]))
        first = await collect_reply(pipeline)
        await say(pipeline, np.concatenate([card, silence(0.8)]))
        second = await collect_reply(pipeline)
        await pipeline.aclose()
        return first, second

    first, second = run(call())
    assert pipeline is not None

    # pocketsphinx heard the digits (ASR is imperfect: assert several digit words, "four")
    raw = asr.raw[-1].text.split()
    assert sum(w in DIGIT_WORDS for w in raw) >= 12, asr.raw[-1].text
    assert "four" in raw, asr.raw[-1].text
    # what left the pipeline is redacted: [CARD], no digit word, the digits' audio to silence
    caller = [e for e in events if e.speaker == "caller"]
    assert len(caller) == 2
    card_event = caller[1]
    assert PiiKind.CARD in card_event.redacted.kinds
    assert "[CARD]" in card_event.redacted.text
    assert not DIGIT_WORDS & set(re.findall(r"[a-z]+", card_event.redacted.text))
    assert [w.text for w in card_event.words].count("[CARD]") == 1
    assert not DIGIT_WORDS & {w.text for w in card_event.words}
    (s, e), *_ = card_event.silence
    assert card_event.start <= s < e <= card_event.end + 0.1
    assert e - s > 2.0  # sixteen digits take seconds to say
    # the responder saw only RedactedText, never the digits
    assert len(responder.seen) == 2
    assert all(isinstance(t, RedactedText) for t in responder.seen)
    assert all("one one" not in t.text for t in responder.seen)  # type: ignore[attr-defined]
    assert all(isinstance(x, Exchange) for x in pipeline.history)
    # it acknowledged the card without repeating it, and that reply was spoken
    agent = [e for e in events if e.speaker == "agent"]
    assert "card details" in agent[-1].redacted.text
    assert np.abs(first).max() > 1000
    assert (np.abs(second) > 1000).sum() / 48_000 > 0.5  # about two seconds of reply
    # timings recorded for the benchmark
    for turn in pipeline.turns:
        assert turn.latency is not None and 0 < turn.latency < 10  # fed faster than real time
        assert turn.latency_after_detection is not None
        assert not turn.interrupted and turn.skipped is None and turn.error is None


@pytest.mark.slow
def test_barge_in_cuts_the_reply_within_one_frame() -> None:
    greeting, interruption = speech(GREETING), speech("what are your opening hours")

    async def call() -> AgentPipeline:
        pipeline = AgentPipeline(transcriber(), RuleBasedResponder(), EspeakTTS())
        await say(pipeline, np.concatenate([silence(0.3), greeting, silence(0.8)]))
        out = pipeline.output()
        # wait for the agent to start talking
        async for frame in out:
            if frame.any():
                break
            await asyncio.sleep(0.005)
        assert pipeline.agent_speaking
        # the caller talks over it, 20 ms at a time, while the agent's frames are pulled
        barged_at = None
        frames_after: list[np.ndarray] = []
        pcm = np.concatenate([interruption, silence(0.8)])
        for i in range(0, len(pcm), FRAME_SAMPLES):
            before = pipeline.barge_ins
            pipeline.feed(pcm[i : i + FRAME_SAMPLES])
            frame = await anext(out)
            if pipeline.barge_ins > before:
                barged_at = i
            if barged_at is not None and len(frames_after) < 20:
                frames_after.append(frame)
        assert barged_at is not None, "the VAD never heard the caller start"
        # the very first frame after the caller's onset frame is silence, and so is the rest
        assert not any(f.any() for f in frames_after)
        assert pipeline.turns[0].interrupted
        # the interruption itself is answered
        await out.aclose()
        reply = await collect_reply(pipeline)
        assert np.abs(reply).max() > 1000
        await pipeline.aclose()
        return pipeline

    pipeline = run(call())
    assert pipeline.barge_ins == 1
    assert len(pipeline.turns) == 2
    assert not pipeline.turns[1].interrupted
    assert pipeline.turns[1].first_audio_at is not None


def test_no_consent_means_no_asr_at_all() -> None:
    greeting = speech(GREETING)
    asr = CountingTranscriber(transcriber())
    events: list[TranscriptEvent] = []
    asked = 0

    def may_transcribe() -> bool:
        nonlocal asked
        asked += 1
        return False

    async def call() -> AgentPipeline:
        pipeline = AgentPipeline(
            asr,
            RuleBasedResponder(),
            EspeakTTS(),
            on_transcript=events.append,
            may_transcribe=may_transcribe,
        )
        await say(pipeline, np.concatenate([silence(0.3), greeting, silence(0.8)]))
        await pipeline.idle()
        out = [await anext(pipeline.output()) for _ in range(10)]
        assert not any(f.any() for f in out)
        await pipeline.aclose()
        return pipeline

    pipeline = run(call())
    assert asked >= 1
    assert asr.streams == 0 and asr.feeds == 0
    assert events == [] and pipeline.history == []
    assert [t.skipped for t in pipeline.turns] == ["no_consent"]


def test_consent_withdrawn_mid_utterance_stops_asr_within_half_a_second() -> None:
    long_speech = speech(CARD_PHRASE)  # about five seconds of talking
    asr = CountingTranscriber(transcriber())
    events: list[TranscriptEvent] = []
    granted = True

    async def call() -> tuple[AgentPipeline, float]:
        nonlocal granted
        pipeline = AgentPipeline(
            asr,
            RuleBasedResponder(),
            EspeakTTS(),
            on_transcript=events.append,
            may_transcribe=lambda: granted,
        )
        pcm = np.concatenate([silence(0.3), long_speech, silence(0.8)])
        withdrawn_at = 0.0
        for i in range(0, len(pcm), FRAME_SAMPLES):
            pipeline.feed(pcm[i : i + FRAME_SAMPLES])
            await asyncio.sleep(0)
            if granted and pipeline.segmenter.time >= 2.0:
                granted = False  # the caller withdraws consent two seconds in
                withdrawn_at = pipeline.segmenter.time
        await pipeline.idle()
        await pipeline.aclose()
        return pipeline, withdrawn_at

    pipeline, withdrawn_at = run(call())
    turn = pipeline.turns[0]
    assert turn.skipped == "consent_withdrawn"
    assert asr.streams == 1 and asr.raw == []  # started, abandoned, never finished
    assert events == []
    # audio handed to ASR stopped at most 0.5 s (+ one frame) after the withdrawal
    assert turn.start + turn.audio_seconds <= withdrawn_at + 0.5 + 0.02


def test_responder_failure_falls_back_to_a_spoken_apology() -> None:
    greeting = speech(GREETING)
    # a real HTTP client aimed at a loopback port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def call() -> tuple[AgentPipeline, np.ndarray]:
        llm = OpenAICompatibleResponder(f"http://127.0.0.1:{port}/v1", "sk-test", "m", 2.0)
        pipeline = AgentPipeline(transcriber(), llm, EspeakTTS())
        await say(pipeline, np.concatenate([silence(0.3), greeting, silence(0.8)]))
        reply = await collect_reply(pipeline)
        await pipeline.aclose()
        await llm.aclose()
        return pipeline, reply

    pipeline, reply = run(call())
    assert pipeline.turns[0].error == "llm_unreachable"
    assert np.abs(reply).max() > 1000
    assert "trouble" in pipeline.history[0].agent


def test_may_respond_false_transcribes_but_stays_quiet() -> None:
    greeting = speech(GREETING)
    events: list[TranscriptEvent] = []

    async def call() -> AgentPipeline:
        pipeline = AgentPipeline(
            transcriber(),
            RuleBasedResponder(),
            EspeakTTS(),
            on_transcript=events.append,
            may_respond=lambda: False,
        )
        await say(pipeline, np.concatenate([silence(0.3), greeting, silence(0.8)]))
        await pipeline.idle()
        assert not pipeline.agent_speaking
        await pipeline.aclose()
        return pipeline

    pipeline = run(call())
    assert [e.speaker for e in events] == ["caller"]
    assert pipeline.turns[0].skipped == "no_reply"
