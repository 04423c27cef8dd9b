"""Agent turn latency: the caller stops talking → the first frame of the agent's reply.

    python benchmarks/agent_bench.py [--rounds 2] [--hangover-ms 600]

A conversation in real time with the real engines: espeak-ng speaks each caller utterance,
which is fed to :class:`~voxseal.agent.AgentPipeline` in 20 ms frames at 20 ms intervals (as
the SDK delivers a call), while a consumer pulls :meth:`~voxseal.agent.AgentPipeline.output`
at 20 ms per frame (as the SDK's track does). webrtcvad segments, pocketsphinx transcribes
while the caller talks, the transcript is redacted, the rule-based responder answers and
espeak-ng speaks. The next utterance starts after the reply has played (no barge-in here).

Reported, p50 and p90 over all turns:

* **turn latency** — the wall time the caller's last voiced frame was fed → the first reply
  frame left ``output()``. This is what a caller hears; it includes the VAD hangover (the
  silence the agent must hear before it may assume the caller is done), so it cannot be
  below ``--hangover-ms``;
* **after end-of-speech detection** — the same minus the hangover: the pipeline's own work
  (ASR tail, redaction, responder, first sentence of TTS, the next 20 ms frame slot);
* **ASR tail** — decoding left at end of speech (streaming leaves little).

Baseline measured in the same run on the same audio: a bare pocketsphinx ``Decoder`` decoding
each whole utterance at once (``process_raw(full_utt=True)``), no VAD, no threads, no dither.
Its real-time factor (decode time / audio time) is set against the transcriber's own
(``transcribe()``: dither, thread hand-off, word extraction), and its per-utterance decode
time against the ASR tail left at end of speech in the streaming pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
from pocketsphinx import Decoder

from voxseal.agent import (
    AgentPipeline,
    EspeakTTS,
    PocketSphinxTranscriber,
    RuleBasedResponder,
    UtteranceSegmenter,
    transcribe,
)
from voxseal.agent.asr import AsrChannel
from voxseal.audio import FRAME_DURATION, FRAME_SAMPLES, resample

UTTERANCES = (
    "hello, I would like to pay my bill",
    "the card number is four one one one one one one one one one one one one one one one",
    "what are your opening hours",
    "I want to check my balance",
    "can I speak to a person",
    "thank you, goodbye",
)


def p(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def to16k(pcm48: np.ndarray) -> np.ndarray:
    x = resample(pcm48.astype(np.float64) / 32768.0, 48_000, 16_000)
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


async def conversation(
    speech: list[np.ndarray], transcriber: PocketSphinxTranscriber, hangover_ms: int
) -> AgentPipeline:
    pipeline = AgentPipeline(
        transcriber,
        RuleBasedResponder(),
        EspeakTTS(),
        segmenter=UtteranceSegmenter(hangover_ms=hangover_ms),
        agent_speaker=None,
    )
    done = asyncio.Event()
    agent_frames = 0

    async def listen() -> None:  # the SDK's track: one frame every 20 ms
        nonlocal agent_frames
        async for frame in pipeline.output(pace=True):
            if frame.any():
                agent_frames += 1
            if done.is_set():
                break

    listener = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    for pcm in speech:
        pcm = np.concatenate([pcm, np.zeros(round(hangover_ms / 1000 * 48_000) + 9_600, np.int16)])
        start = loop.time()
        for i in range(0, len(pcm), FRAME_SAMPLES):  # the caller, in real time
            frame = np.zeros(FRAME_SAMPLES, np.int16)
            chunk = pcm[i : i + FRAME_SAMPLES]
            frame[: len(chunk)] = chunk
            pipeline.feed(frame)
            await asyncio.sleep(
                max(0.0, start + (i // FRAME_SAMPLES + 1) * FRAME_DURATION - loop.time())
            )
        await pipeline.idle()
        while pipeline.agent_speaking:  # let the reply play out before the next utterance
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    done.set()
    await listener
    await pipeline.aclose()
    return pipeline


def baseline_rtf(utterances16: list[np.ndarray]) -> tuple[float, list[float]]:
    """Bare pocketsphinx: whole-utterance decode time and RTF (model shipped with the wheel)."""
    decoder = Decoder(logfn=os.devnull)
    times = []
    for pcm in utterances16:
        t0 = time.perf_counter()
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), False, True)
        decoder.end_utt()
        times.append(time.perf_counter() - t0)
    audio = sum(len(x) for x in utterances16) / 16_000
    return sum(times) / audio, times


async def transcriber_rtf(
    transcriber: PocketSphinxTranscriber, utterances16: list[np.ndarray]
) -> float:
    t0 = time.perf_counter()
    for pcm in utterances16:
        await transcribe(transcriber, pcm, AsrChannel())
    return (time.perf_counter() - t0) / (sum(len(x) for x in utterances16) / 16_000)


async def main(rounds: int, hangover_ms: int) -> None:
    tts = EspeakTTS()
    speech = [await tts.synthesize(text) for text in UTTERANCES]
    utterances16 = [to16k(x) for x in speech]
    transcriber = PocketSphinxTranscriber()
    await transcriber.warm(2)

    base_rtf, base_times = baseline_rtf(utterances16)
    ours_rtf = await transcriber_rtf(transcriber, utterances16)

    turns = []
    for _ in range(rounds):
        pipeline = await conversation(speech, transcriber, hangover_ms)
        turns += [t for t in pipeline.turns if t.latency is not None]
    if not turns:
        sys.exit("no turn produced a reply")
    ms = 1000.0
    latency = [t.latency * ms for t in turns if t.latency is not None]
    after = [t.latency_after_detection * ms for t in turns if t.latency_after_detection]
    tail = [t.asr_final_seconds * ms for t in turns if t.asr_final_seconds is not None]
    reply = [
        (t.first_audio_at - t.transcribed_at) * ms
        for t in turns
        if t.first_audio_at is not None and t.transcribed_at is not None
    ]
    base_ms = [x * ms for x in base_times]
    n = len(turns)
    print(f"agent turns, {n} over {rounds} conversation(s), hangover {hangover_ms} ms")
    print("  (ms)                                               p50      p90")
    rows = [
        ("end of speech -> first reply frame (turn latency)", latency),
        ("end-of-speech detected -> first reply frame", after),
        ("  ASR tail left at end of speech (streaming)", tail),
        ("  transcript -> first reply frame (redact+LLM+TTS)", reply),
        ("baseline: bare pocketsphinx, whole utterance", base_ms),
    ]
    for label, values in rows:
        print(f"  {label:<50} {p(values, 50):7.1f}  {p(values, 90):7.1f}")
    print(
        f"  ASR tail vs baseline whole-utterance decode (p50)  {p(tail, 50) / p(base_ms, 50):7.2f}x"
    )
    print("ASR real-time factor (decode time / audio time)")
    print(f"  bare pocketsphinx decoder (baseline)               {base_rtf:7.3f}")
    print(f"  PocketSphinxTranscriber.transcribe()               {ours_rtf:7.3f}")
    print(f"  ratio to baseline                                  {ours_rtf / base_rtf:7.2f}x")
    interrupted = sum(t.interrupted for t in turns)
    if interrupted:
        print(f"note: {interrupted} turn(s) were interrupted")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="conversations to run")
    parser.add_argument("--hangover-ms", type=int, default=600)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.hangover_ms))
