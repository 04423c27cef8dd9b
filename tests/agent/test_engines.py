"""VAD, ASR and TTS on their own, with the real engines."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
import pytest

from tests.agent.helpers import run, silence, speech, transcriber
from voxseal.agent import (
    EngineUnavailable,
    EspeakTTS,
    FasterWhisperTranscriber,
    ModelNotFound,
    PocketSphinxTranscriber,
    SpeechEnded,
    SpeechStarted,
    TTSUnavailable,
    UtteranceAudio,
    UtteranceSegmenter,
    VoskTranscriber,
    transcribe,
)
from voxseal.agent.asr import AsrChannel
from voxseal.agent.errors import AgentError
from voxseal.audio import InvalidPcm, resample


def to16k(pcm48: np.ndarray) -> np.ndarray:
    x = resample(pcm48.astype(np.float64) / 32768.0, 48_000, 16_000)
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


# --- VAD ------------------------------------------------------------------------------------


def test_segmenter_finds_two_utterances_with_pre_roll_and_hangover() -> None:
    a, b = to16k(speech("hello there")), to16k(speech("what are your opening hours"))
    gap = np.zeros(16_000, dtype=np.int16)  # one second: longer than the hangover
    pcm = np.concatenate([np.zeros(8_000, np.int16), a, gap, b, gap])
    seg = UtteranceSegmenter(hangover_ms=600, pre_roll_ms=300)
    events = []
    for i in range(0, len(pcm), 480):  # odd chunk sizes are fine
        events += seg.push(pcm[i : i + 480])
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(starts) == len(ends) == 2
    first_voice = 0.5  # the first utterance begins after half a second of silence
    assert first_voice - 0.45 <= starts[0].start <= first_voice
    assert starts[0].onset - starts[0].start >= 0.29  # pre-roll
    for end in ends:
        assert end.at - end.end == pytest.approx(0.6, abs=0.021)  # hangover
        assert not end.truncated
    # every sample between start and end went out, once
    audio = sum(len(e.audio) for e in events if isinstance(e, SpeechStarted | UtteranceAudio))
    spoken = sum(e.at - e.start for e in ends)
    assert audio / 16_000 == pytest.approx(spoken, abs=0.001)


def test_segmenter_ignores_silence_and_cuts_endless_speech() -> None:
    seg = UtteranceSegmenter(max_utterance_s=1.0)
    assert seg.push(np.zeros(16_000, np.int16)) == []
    talk = to16k(speech("one two three four five six seven eight nine ten"))
    events = seg.push(talk)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends and ends[0].truncated
    assert ends[0].at - ends[0].start == pytest.approx(1.0, abs=0.021)


def test_segmenter_flush_ends_an_open_utterance() -> None:
    seg = UtteranceSegmenter()
    seg.push(to16k(speech("hello there and good morning")))
    assert seg.in_speech
    events = seg.flush()
    assert not seg.in_speech
    assert all(isinstance(e, SpeechEnded) for e in events)


def test_segmenter_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        UtteranceSegmenter(frame_ms=25)
    with pytest.raises(InvalidPcm, match="int16"):
        UtteranceSegmenter().push(np.zeros(320, np.float32))


# --- ASR ------------------------------------------------------------------------------------


def test_pocketsphinx_transcribes_with_word_times() -> None:
    pcm = to16k(np.concatenate([silence(0.3), speech("what are your opening hours")]))
    result = run(transcribe(transcriber(), pcm))
    assert "opening" in result.text.split() or "hours" in result.text.split(), result.text
    assert result.text == " ".join(w.text for w in result.words)
    times = [(w.start, w.end) for w in result.words]
    assert all(s < e for s, e in times)
    assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(times))
    assert times[-1][1] <= len(pcm) / 16_000 + 0.02
    assert not any(w.text.startswith(("<", "[", "+")) for w in result.words)


def test_pocketsphinx_streams_and_is_deterministic() -> None:
    pcm = to16k(np.concatenate([silence(0.3), speech("hello i would like to pay my bill")]))

    async def streamed() -> tuple[str, str]:
        stream = transcriber().stream(AsrChannel())
        for i in range(0, len(pcm), 320):
            await stream.feed(pcm[i : i + 320])
        partial = stream.partial
        return partial, (await stream.finish()).text

    partial, final = run(streamed())
    assert partial and final
    assert final == run(streamed())[1]  # seeded dither: same audio, same words


def test_pocketsphinx_concurrent_streams_do_not_share_decoders() -> None:
    a = to16k(speech("what are your opening hours"))
    b = to16k(speech("hello i would like to pay my bill"))

    async def both() -> list[str]:
        results = await asyncio.gather(
            *(transcribe(transcriber(), x, AsrChannel()) for x in (a, b, a, b))
        )
        return [r.text for r in results]

    texts = run(both())
    alone = [run(transcribe(transcriber(), x, AsrChannel())).text for x in (a, b)]
    assert texts == alone * 2


def test_abandoned_stream_releases_its_decoder() -> None:
    async def go() -> None:
        stream = transcriber().stream()
        await stream.feed(to16k(speech("hello there")))
        stream.close()
        stream.close()  # idempotent
        with pytest.raises(RuntimeError):
            await stream.feed(np.zeros(320, np.int16))

    run(go())


def test_missing_models_and_engines_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not download"):
        PocketSphinxTranscriber(tmp_path / "nope")
    for engine in (VoskTranscriber, FasterWhisperTranscriber):
        with pytest.raises((EngineUnavailable, ModelNotFound)) as info:
            engine(tmp_path / "no-model-here")
        assert isinstance(info.value, AgentError)
        message = str(info.value)
        assert "pip install" in message or "no-model-here" in message


# --- TTS ------------------------------------------------------------------------------------


def test_espeak_speaks_48k_int16() -> None:
    pcm = run(EspeakTTS().synthesize("Hello. -v this is not an option."))
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    seconds = len(pcm) / 48_000
    assert 1.0 < seconds < 6.0
    assert np.abs(pcm).max() > 5_000
    assert len(run(EspeakTTS().synthesize("   "))) == 0


def test_espeak_missing_is_a_clear_error() -> None:
    with pytest.raises(TTSUnavailable, match="apt-get install espeak-ng"):
        EspeakTTS(binary="espeak-ng-not-installed")
    with pytest.raises(ValueError):
        EspeakTTS(voice="en; rm -rf /")
