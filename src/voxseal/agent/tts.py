"""Text to speech with espeak-ng, into the call's format (48 kHz mono int16).

Why espeak-ng: it is a Debian package, small, fully offline and fast (it synthesises a sentence
in a few milliseconds), which keeps the agent's reply latency low and nothing leaves the agent
zone. Its voice is robotic; a neural engine can replace it behind the same
:class:`SpeechSynthesizer` protocol.

How: the ``espeak-ng`` binary writes a WAV to stdout (``--stdout``) in an asyncio subprocess,
so the event loop keeps moving media while it runs. The text goes in on **stdin**, not argv:
argv is visible to every user of the host in ``ps``, and a reply starting with ``-`` would be
read as an option. The WAV (22 050 Hz) is converted to 48 kHz with the SDK's streaming
polyphase :class:`~voxseal.sdk.wav.Resampler` — one resampler for the whole code base.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import struct
from typing import Final, Protocol, runtime_checkable

import numpy as np

from voxseal.agent.errors import TTSError, TTSUnavailable
from voxseal.media.audio import SAMPLE_RATE
from voxseal.sdk.wav import resample

__all__ = ["EspeakTTS", "SpeechSynthesizer", "split_sentences"]

_MAX_TEXT: Final = 4_000  # a spoken reply longer than this is a bug upstream, not speech


@runtime_checkable
class SpeechSynthesizer(Protocol):
    """Text → 48 kHz mono int16 PCM."""

    async def synthesize(self, text: str) -> np.ndarray: ...


_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


def split_sentences(text: str) -> list[str]:
    """Split a reply at sentence ends, so the first sentence can play while the rest is made."""
    return [s for s in (p.strip() for p in _SENTENCE.split(text)) if s]


def _parse_wav(data: bytes) -> tuple[int, np.ndarray]:
    """espeak-ng's stdout WAV → (rate, int16 mono). Its streamed header may carry bogus sizes
    (it cannot seek back on a pipe), so the data chunk runs to the end of the output."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TTSError("espeak-ng did not produce a WAV")
    pos, rate, channels, width = 12, 0, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            width = bits // 8
        elif cid == b"data":
            if width != 2 or channels < 1 or rate <= 0:
                raise TTSError(f"espeak-ng produced an unexpected WAV format ({8 * width}-bit)")
            end = min(len(data), body + size) if size else len(data)
            raw = data[body:end]
            pcm = np.frombuffer(raw[: len(raw) - len(raw) % (2 * channels)], dtype="<i2")
            if channels > 1:
                pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
            return rate, pcm.astype(np.int16)
        pos = body + size + (size & 1)
    raise TTSError("espeak-ng's WAV has no data chunk")


class EspeakTTS:
    """espeak-ng in a subprocess; raises :class:`TTSUnavailable` if the binary is missing.

    ``rate`` is words per minute (espeak's ``-s``), ``pitch`` 0–99, ``gap`` extra pause between
    words in 10 ms units.
    """

    def __init__(
        self,
        voice: str = "en-us",
        rate: int = 175,
        *,
        pitch: int | None = None,
        gap: int | None = None,
        binary: str = "espeak-ng",
        timeout: float = 10.0,
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise TTSUnavailable(binary)
        if not 80 <= rate <= 450:
            raise ValueError("espeak-ng speaks 80–450 words per minute")
        if not re.fullmatch(r"[A-Za-z0-9_+\-]+", voice):
            raise ValueError(f"not an espeak-ng voice name: {voice!r}")
        self.voice, self.rate, self.binary, self.timeout = voice, rate, path, timeout
        self._args = ["-v", voice, "-s", str(rate)]
        if pitch is not None:
            self._args += ["-p", str(int(pitch))]
        if gap is not None:
            self._args += ["-g", str(int(gap))]

    def __repr__(self) -> str:
        return f"EspeakTTS(voice={self.voice!r}, rate={self.rate})"

    async def synthesize(self, text: str) -> np.ndarray:
        """Speak ``text``; returns 48 kHz mono int16 (empty for empty text)."""
        text = " ".join(text.split())[:_MAX_TEXT]
        if not text:
            return np.zeros(0, dtype=np.int16)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                *self._args,
                "--stdout",
                "--stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise TTSUnavailable(self.binary) from None
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(text.encode("utf-8") + b"\n"), self.timeout
            )
        except TimeoutError:
            raise TTSError(f"espeak-ng took longer than {self.timeout:.0f} s") from None
        finally:  # cancelled (barge-in) or timed out: do not leave the process behind
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await proc.wait()
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()[:1]
            raise TTSError(f"espeak-ng exited with status {proc.returncode}: {''.join(detail)}")
        rate, pcm = _parse_wav(out)
        converted = resample(pcm.astype(np.float64) / 32768.0, rate, SAMPLE_RATE)
        return np.clip(np.rint(converted * 32768.0), -32768, 32767).astype(np.int16)
