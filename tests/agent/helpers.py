"""Shared pieces of the agent tests: real engines, speech made with espeak-ng, a call driver.

Nothing here is a mock: audio is synthesised by the real espeak-ng, segmented by the real
webrtcvad and transcribed by the real pocketsphinx. :class:`CountingTranscriber` *wraps* the
real transcriber to count how often ASR is asked for anything (the consent tests need to prove
"not at all") and to keep the raw text (so tests can check what ASR heard, which the pipeline
itself never exposes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from voxseal.agent import AgentPipeline, EspeakTTS, PocketSphinxTranscriber
from voxseal.agent.asr import AsrChannel, Transcript, TranscriptStream
from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE

T = TypeVar("T")

#: Luhn-valid test card 4111 1111 1111 1111, read digit by digit
CARD_DIGITS = "four one one one one one one one one one one one one one one one"
#: why "the card number is" at 175 wpm after a greeting: pocketsphinx's generic English model
#: is weak on espeak-ng's synthetic voice, and most of all on the first words a fresh decoder
#: hears (its cepstral mean has not adapted). A call opens with a greeting anyway; after it,
#: the caller's channel is adapted and this phrase decodes exactly (deterministically: the
#: dither is seeded). "my card number is …" comes out as "my guard armory …" — the digits
#: still survive, but "four" is often heard as "for", which breaks Luhn.
CARD_PHRASE = f"the card number is {CARD_DIGITS}"
GREETING = "hello, I would like to pay my bill"
RATE = 175
DIGIT_WORDS = frozenset(
    ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@lru_cache(maxsize=1)
def transcriber() -> PocketSphinxTranscriber:
    """One transcriber for the whole session (decoders are pooled inside)."""
    return PocketSphinxTranscriber()


@lru_cache(maxsize=32)
def _speech(text: str, rate: int) -> np.ndarray:
    return asyncio.run(EspeakTTS(rate=rate).synthesize(text))


def speech(text: str, rate: int = RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng, 48 kHz mono int16 (cached: tests share phrases)."""
    return _speech(text, rate).copy()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    """20 ms frames, the last one zero-padded (what the SDK's on_audio delivers)."""
    n = -(-len(pcm) // FRAME_SAMPLES)
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


async def say(pipeline: AgentPipeline, pcm: np.ndarray, *, realtime: bool = False) -> None:
    """Feed caller audio as 20 ms frames; yield to the loop between frames like a call does."""
    for frame in frames(pcm):
        pipeline.feed(frame)
        await asyncio.sleep(0.02 if realtime else 0)


async def collect_reply(pipeline: AgentPipeline, max_seconds: float = 20.0) -> np.ndarray:
    """Pull output() until a reply has played and silence follows (or ``max_seconds`` of wall
    time pass). Frames are pulled faster than real time once the reply is there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    got: list[np.ndarray] = []
    quiet = 0
    heard = False
    out = pipeline.output()
    async for frame in out:
        if frame.any():
            heard, quiet = True, 0
        else:
            quiet += 1
        if heard:
            got.append(frame)
            if quiet > 50 and not pipeline.agent_speaking:
                break
        else:
            await asyncio.sleep(0.002)  # the reply is still being made: do not spin
        if loop.time() > deadline:
            break
    await out.aclose()
    return np.concatenate(got) if got else np.zeros(0, dtype=np.int16)


class CountingTranscriber:
    """The real transcriber, wrapped to count streams/feeds and keep the raw transcripts."""

    name = "counting"

    def __init__(self, inner: PocketSphinxTranscriber) -> None:
        self.inner = inner
        self.streams = 0
        self.feeds = 0
        self.raw: list[Transcript] = []

    def stream(self, channel: AsrChannel | None = None) -> TranscriptStream:
        self.streams += 1
        return _CountingStream(self, self.inner.stream(channel))


class _CountingStream:
    def __init__(self, owner: CountingTranscriber, inner: TranscriptStream) -> None:
        self._owner, self._inner = owner, inner

    @property
    def partial(self) -> str:
        return self._inner.partial

    async def feed(self, pcm: np.ndarray) -> None:
        self._owner.feeds += 1
        await self._inner.feed(pcm)

    async def finish(self) -> Transcript:
        result = await self._inner.finish()
        self._owner.raw.append(result)
        return result

    def close(self) -> None:
        self._inner.close()
