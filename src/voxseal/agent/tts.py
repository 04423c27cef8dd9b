"""Text to speech with espeak-ng, into the call's format (48 kHz mono int16).

Why espeak-ng: it is a Debian package, small, fully offline and fast (it synthesises a sentence
in a few milliseconds), which keeps the agent's reply latency low and nothing leaves the agent
zone. Its voice is robotic; a neural engine can replace it behind the same
:class:`SpeechSynthesizer` protocol.

How: the ``espeak-ng`` binary writes a WAV to stdout (``--stdout``) in an asyncio subprocess,
so the event loop keeps moving media while it runs. The text goes in on **stdin**, not argv:
argv is visible to every user of the host in ``ps``, and a reply starting with ``-`` would be
read as an option. The WAV (22 050 Hz) is read and converted to 48 kHz by
:func:`voxseal.audio.read_wav`, the one WAV reader and resampler of the whole code base.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from typing import Final, Protocol, runtime_checkable

import numpy as np

from voxseal.agent.errors import TTSError, TTSUnavailable
from voxseal.audio import InvalidWav, read_wav

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
        try:  # its streamed header cannot carry the real sizes: the data runs to the end
            return read_wav(out, name="espeak-ng's output")
        except InvalidWav as exc:
            raise TTSError(str(exc)) from None
