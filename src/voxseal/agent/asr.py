"""Speech recognition on-premises: caller audio never leaves the agent zone to be transcribed.

Why these shapes:

* A :class:`Transcriber` is an engine with its model loaded once; :meth:`Transcriber.stream`
  opens one utterance. The pipeline feeds the utterance *while the caller is still talking*
  (streaming), so at end of speech only the tail is left to decode — that is most of the turn
  latency won back. A final result at the end is the contract; ``partial`` is a bonus.
* Engines are blocking C/C++ code. Every engine call runs on the transcriber's own thread pool,
  so the event loop that carries the call's media never waits for a decoder, and one utterance's
  calls run strictly in order (a decoder is a state machine, not thread-safe).
* Word timestamps (:class:`~voxseal.privacy.TimedWord`, seconds from the utterance start) are
  part of the result because redaction uses them to silence PII in the stored recording.
* pocketsphinx is the default: its wheel ships an English model, so it runs offline with
  nothing to fetch. Vosk and faster-whisper run from a *local* model path; a missing package or
  path is a :class:`~voxseal.agent.errors.EngineUnavailable` /
  :class:`~voxseal.agent.errors.ModelNotFound` — never a download.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import numpy as np

from voxseal.agent.errors import EngineUnavailable, ModelNotFound
from voxseal.audio import as_mono_pcm
from voxseal.privacy import TimedWord

__all__ = [
    "ASR_RATE",
    "AsrChannel",
    "FasterWhisperTranscriber",
    "PocketSphinxTranscriber",
    "Transcriber",
    "Transcript",
    "TranscriptStream",
    "VoskTranscriber",
    "transcribe",
]

#: every engine here decodes 16 kHz mono int16
ASR_RATE: Final = 16_000

T = TypeVar("T")


@dataclass(frozen=True)
class Transcript:
    """The final text of one utterance and its words with times (seconds from its start)."""

    text: str
    words: tuple[TimedWord, ...]


class AsrChannel:
    """Adaptation state of one audio channel (one caller), kept between their utterances.

    Why: engines adapt to the channel — pocketsphinx's cepstral mean, for example, which a
    fresh decoder starts from a generic guess and gets badly wrong for the first seconds. The
    pipeline owns one :class:`AsrChannel` per caller, so what is learned from a caller's
    audio helps only that caller's next utterance and dies with their call: nothing derived
    from one caller's voice reaches another's decoder.
    """

    __slots__ = ("__weakref__", "state")

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"AsrChannel(engines={sorted(self.state)})"


@runtime_checkable
class TranscriptStream(Protocol):
    """One utterance being recognised. Calls are awaited one after another, never overlapped."""

    @property
    def partial(self) -> str:
        """The best hypothesis so far ("" if the engine has none)."""
        ...

    async def feed(self, pcm: np.ndarray) -> None:
        """More 16 kHz mono int16 audio of the utterance."""
        ...

    async def finish(self) -> Transcript:
        """No more audio: the final transcript. The stream is closed afterwards."""
        ...

    def close(self) -> None:
        """Abandon the utterance (barge-in, consent withdrawn); idempotent, never blocks."""
        ...


@runtime_checkable
class Transcriber(Protocol):
    """An ASR engine with its model loaded; opens one stream per utterance."""

    name: str

    def stream(self, channel: AsrChannel | None = None) -> TranscriptStream:
        """Open one utterance; ``channel`` carries the caller's adaptation between them."""
        ...


async def transcribe(
    transcriber: Transcriber, pcm: np.ndarray, channel: AsrChannel | None = None
) -> Transcript:
    """Transcribe a whole 16 kHz utterance at once (tests, benchmarks, batch jobs)."""
    stream = transcriber.stream(channel)
    try:
        await stream.feed(pcm)
        return await stream.finish()
    finally:
        stream.close()


# --- the thread hand-off shared by every engine --------------------------------------------


class _Session(Protocol):
    """The blocking side of one utterance; only ever called from one thread at a time."""

    def accept(self, pcm: np.ndarray) -> str: ...

    def finish(self) -> Transcript: ...

    def abandon(self) -> None: ...


class _ThreadedStream:
    """Runs a :class:`_Session`'s calls in order on an executor; the event loop only awaits.

    Calls are chained on a concurrent future, so a call whose awaiting task was cancelled
    (barge-in) still finishes in its thread before the next one — or the release — starts.
    """

    def __init__(
        self,
        executor: concurrent.futures.Executor,
        open_session: Callable[[], _Session],
        release: Callable[[_Session], None],
    ) -> None:
        self._executor = executor
        self._open = open_session
        self._release = release
        self._session: _Session | None = None
        self._last: concurrent.futures.Future[Any] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._partial = ""

    @property
    def partial(self) -> str:
        return self._partial

    def _session_now(self) -> _Session:
        if self._session is None:
            self._session = self._open()
        return self._session

    def _submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._closed:
                raise RuntimeError("this transcript stream is closed")
            previous = self._last

            def run() -> T:
                if previous is not None:
                    concurrent.futures.wait([previous])
                return fn()

            future = self._executor.submit(run)
            self._last = future
            return future

    async def feed(self, pcm: np.ndarray) -> None:
        pcm = as_mono_pcm(pcm)
        if not len(pcm):
            return
        data = pcm.copy()  # the caller may reuse its buffer
        self._partial = await asyncio.wrap_future(
            self._submit(lambda: self._session_now().accept(data))
        )

    async def finish(self) -> Transcript:
        def final() -> Transcript:
            return self._session_now().finish()

        try:
            return await asyncio.wrap_future(self._submit(final))
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            last = self._last

        def release() -> None:
            if self._session is not None:
                session, self._session = self._session, None
                self._release(session)

        if last is None:
            release()
        else:  # after the call in flight, in its thread (or now, if it is done)
            last.add_done_callback(lambda _: release())


def _words(items: list[tuple[str, float, float]]) -> tuple[TimedWord, ...]:
    return tuple(TimedWord(w, round(s, 3), round(e, 3)) for w, s, e in items if w)


def _require(engine: str, package: str) -> Any:
    if importlib.util.find_spec(package) is None:
        raise EngineUnavailable(engine, package)
    return importlib.import_module(package)


# --- pocketsphinx ---------------------------------------------------------------------------

_CMN_KEY: Final = "pocketsphinx.cmn"
#: the cepstral mean a caller's first utterance starts from: the mean over clearly spoken
#: speech at a normal level (measured with espeak-ng through this pipeline's resampling and
#: dither). pocketsphinx's built-in start (40,3,-1) is far from it, and live CMN takes seconds
#: to recover — in our measurement a fresh decoder got 0 of 24 test utterances right, this
#: start 7 of 24. From the second utterance on, the caller's own mean is used.
DEFAULT_CMN: Final = "54.43,-7.80,-4.82,15.45,-9.83,-1.47,-3.55,-14.78,-2.87,-4.98,6.55,-6.29,-7.92"

#: pocketsphinx marks pronunciation variants as ``word(2)``
_VARIANT = re.compile(r"\(\d+\)$")


class _SphinxSession:
    """One pocketsphinx decoder, reused across utterances (loading one takes ~0.25 s)."""

    def __init__(self, decoder: Any, noise_floor: float, seed: int, cmn: str) -> None:
        self.decoder = decoder
        self.frate = int(decoder.config["frate"])
        self._noise_floor = noise_floor
        self._seed = seed
        self._default_cmn = cmn
        self._started = False
        self._rng = np.random.default_rng(seed)
        self.channel: AsrChannel | None = None

    def _begin(self) -> None:
        if not self._started:
            self._rng = np.random.default_rng(self._seed)  # same audio → same transcript
            # the front end keeps state across utterances (CMN accumulators and more): reset
            # it (0.1 ms), so a pooled decoder behaves like a fresh one and the result depends
            # on this caller's audio only — then start from this caller's cepstral mean
            self.decoder.reinit_feat()
            state = self.channel.state if self.channel is not None else {}
            self.decoder.set_cmn(state.get(_CMN_KEY, self._default_cmn))
            self.decoder.start_utt()
            self._started = True

    def _dither(self, pcm: np.ndarray) -> np.ndarray:
        if self._noise_floor <= 0:
            return pcm
        noisy = pcm.astype(np.float64) + self._rng.normal(0.0, self._noise_floor, len(pcm))
        return np.clip(np.rint(noisy), -32768, 32767).astype(np.int16)

    def accept(self, pcm: np.ndarray) -> str:
        self._begin()
        self.decoder.process_raw(self._dither(pcm).tobytes(), False, False)
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def finish(self) -> Transcript:
        self._begin()
        self.decoder.end_utt()
        self._started = False
        if self.channel is not None:  # only a finished utterance teaches the channel
            self.channel.state[_CMN_KEY] = self.decoder.get_cmn(False)
        hyp = self.decoder.hyp()
        items = []
        for seg in self.decoder.seg():
            word = _VARIANT.sub("", seg.word)
            if word.startswith(("<", "[", "+")) or word == "(NULL)":
                continue  # <s>, </s>, <sil>, [NOISE], ++GARBAGE++: not words
            items.append((word, seg.start_frame / self.frate, (seg.end_frame + 1) / self.frate))
        words = _words(items)
        text = " ".join(w.text for w in words) if words else (hyp.hypstr if hyp else "")
        return Transcript(text, words)

    def abandon(self) -> None:
        if self._started:
            self.decoder.end_utt()
            self._started = False


class PocketSphinxTranscriber:
    """CMU pocketsphinx with the English model its wheel ships (or another local model).

    ``noise_floor`` adds seeded Gaussian dither of that RMS (in int16 LSB, ~ -57 dBFS by
    default) before decoding. Why: pocketsphinx's features take the log of the frame energy and
    normalise it with a running cepstral mean; stretches of *digital* silence (TTS output,
    Opus DTX, a muted microphone) drive both to degenerate values and the decoder then garbles
    the next words. Measured on espeak-ng speech: "my card number is four one … one" comes out
    right with dither, and as "my daughter or well well …" without it. A fixed seed keeps the
    result reproducible. Set 0 to disable.

    Decoders are pooled: a stream takes one from the pool (creating one if none is free) and
    gives it back when it finishes, so concurrent calls never share a decoder.
    """

    name = "pocketsphinx"

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        noise_floor: float = 48.0,
        seed: int = 0,
        cmn: str = DEFAULT_CMN,
        max_concurrency: int | None = None,
        **config: Any,
    ) -> None:
        module = _require("pocketsphinx", "pocketsphinx")
        self._module = module
        if model_dir is None:
            base = Path(module.get_model_path())
            hmm, lm = base / "en-us" / "en-us", base / "en-us" / "en-us.lm.bin"
            dic = base / "en-us" / "cmudict-en-us.dict"
        else:
            base = Path(model_dir)
            hmm, lm, dic = base, base / "lm.bin", base / "dict"
            if "hmm" in config:
                hmm = Path(config.pop("hmm"))
            if "lm" in config:
                lm = Path(config.pop("lm"))
            if "dict" in config:
                dic = Path(config.pop("dict"))
        for what, path in (("acoustic model", hmm), ("language model", lm), ("dictionary", dic)):
            if not path.exists():
                raise ModelNotFound("pocketsphinx", str(path), f"({what}) does not exist")
        self._config = {"hmm": str(hmm), "lm": str(lm), "dict": str(dic), **config}
        self.noise_floor = noise_floor
        self.seed = seed
        self.cmn = cmn
        self._free: list[_SphinxSession] = []
        self._pool_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency or max(2, os.cpu_count() or 2),
            thread_name_prefix="asr-pocketsphinx",
        )

    def __repr__(self) -> str:
        return f"PocketSphinxTranscriber(hmm={self._config['hmm']!r})"

    def _new_session(self) -> _SphinxSession:
        decoder = self._module.Decoder(logfn=os.devnull, **self._config)
        return _SphinxSession(decoder, self.noise_floor, self.seed, self.cmn)

    def _acquire(self, channel: AsrChannel | None) -> _SphinxSession:
        with self._pool_lock:
            session = self._free.pop() if self._free else None
        if session is None:
            session = self._new_session()
        session.channel = channel
        return session

    def _release(self, session: _Session) -> None:
        assert isinstance(session, _SphinxSession)
        session.channel = None
        try:
            session.abandon()
        except Exception:  # a decoder in a bad state is dropped, not reused
            return
        with self._pool_lock:
            self._free.append(session)

    async def warm(self, decoders: int = 1) -> None:
        """Load ``decoders`` decoders now (at agent start), not on the first caller's words."""
        loop = asyncio.get_running_loop()
        made = await asyncio.gather(
            *(loop.run_in_executor(self._executor, self._new_session) for _ in range(decoders))
        )
        with self._pool_lock:
            self._free.extend(made)

    def stream(self, channel: AsrChannel | None = None) -> TranscriptStream:
        return _ThreadedStream(self._executor, lambda: self._acquire(channel), self._release)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# --- Vosk (Kaldi) -----------------------------------------------------------------------------


class _VoskSession:
    def __init__(self, recognizer: Any) -> None:
        self._rec = recognizer
        self._words: list[tuple[str, float, float]] = []

    def _collect(self, result: str) -> None:
        for w in json.loads(result).get("result", []):
            self._words.append((str(w["word"]), float(w["start"]), float(w["end"])))

    def accept(self, pcm: np.ndarray) -> str:
        if self._rec.AcceptWaveform(pcm.tobytes()):  # Vosk closed a segment at a pause
            self._collect(self._rec.Result())
        partial = json.loads(self._rec.PartialResult()).get("partial", "")
        done = " ".join(w for w, _, _ in self._words)
        return f"{done} {partial}".strip()

    def finish(self) -> Transcript:
        self._collect(self._rec.FinalResult())
        words = _words(self._words)
        return Transcript(" ".join(w.text for w in words), words)

    def abandon(self) -> None:
        self._words.clear()


class VoskTranscriber:
    """Vosk (Kaldi) from a local model directory, e.g. an unpacked ``vosk-model-small-en-us``."""

    name = "vosk"

    def __init__(self, model_path: str | os.PathLike[str], *, max_concurrency: int = 2) -> None:
        module = _require("vosk", "vosk")
        path = Path(model_path)
        if not path.is_dir():
            raise ModelNotFound("vosk", str(path), "is not a directory")
        if not (path / "am").exists() and not (path / "conf").exists():
            raise ModelNotFound("vosk", str(path), "is not a Vosk model (no am/ or conf/)")
        module.SetLogLevel(-1)
        self._module = module
        self._model = module.Model(str(path))
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="asr-vosk"
        )

    def _open(self) -> _VoskSession:
        rec = self._module.KaldiRecognizer(self._model, ASR_RATE)
        rec.SetWords(True)
        return _VoskSession(rec)

    def stream(self, channel: AsrChannel | None = None) -> TranscriptStream:
        return _ThreadedStream(self._executor, self._open, lambda s: None)


# --- faster-whisper (CTranslate2) ------------------------------------------------------------


class _WhisperSession:
    """Whisper decodes whole utterances: buffer while the caller talks, decode at the end."""

    def __init__(self, model: Any, language: str | None) -> None:
        self._model = model
        self._language = language
        self._chunks: list[np.ndarray] = []

    def accept(self, pcm: np.ndarray) -> str:
        self._chunks.append(pcm)
        return ""

    def finish(self) -> Transcript:
        if not self._chunks:
            return Transcript("", ())
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        segments, _ = self._model.transcribe(
            audio, language=self._language, word_timestamps=True, vad_filter=False
        )
        items = [
            (w.word.strip(), float(w.start), float(w.end))
            for seg in segments
            for w in (seg.words or ())
        ]
        words = _words(items)
        return Transcript(" ".join(w.text for w in words), words)

    def abandon(self) -> None:
        self._chunks.clear()


class FasterWhisperTranscriber:
    """faster-whisper from a local CTranslate2 model directory (``model.bin`` inside).

    A model *name* such as ``"small"`` is refused: faster-whisper would fetch it from a hub.
    """

    name = "faster-whisper"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        language: str | None = "en",
        compute_type: str = "int8",
        max_concurrency: int = 1,
    ) -> None:
        module = _require("faster-whisper", "faster_whisper")
        path = Path(model_path)
        if not path.is_dir():
            raise ModelNotFound("faster-whisper", str(path), "is not a directory")
        if not (path / "model.bin").exists():
            raise ModelNotFound(
                "faster-whisper", str(path), "has no model.bin (not a CTranslate2 model)"
            )
        self._model = module.WhisperModel(
            str(path), device="cpu", compute_type=compute_type, local_files_only=True
        )
        self._language = language
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="asr-whisper"
        )

    def stream(self, channel: AsrChannel | None = None) -> TranscriptStream:
        return _ThreadedStream(
            self._executor, lambda: _WhisperSession(self._model, self._language), lambda s: None
        )
