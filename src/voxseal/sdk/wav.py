"""WAV files in and out of a call: any PCM WAV → 48 kHz mono int16, and recordings back out.

Why this module exists: the media plane speaks exactly one format (48 kHz mono int16, see
:mod:`voxseal.media.audio`), while the files people have are 8 kHz telephony captures, 16 kHz
ASR corpora, 44.1 kHz stereo music, 24-bit studio takes. Playing those into a call needs three
conversions done properly, with nothing but the stdlib :mod:`wave` module and numpy:

* **sample format** — 8-bit unsigned, 16/24/32-bit signed little-endian → float;
* **channels** — stereo (or more) is averaged to mono, which cannot clip;
* **rate** — a rational polyphase resampler (up by ``L``, low-pass, down by ``M``) with a
  Kaiser-windowed sinc. Its cut-off sits just below the lower of the two Nyquist frequencies, so
  it removes the spectral images of upsampling and is the anti-aliasing filter when the input
  rate is above 48 kHz. It is *streaming*: it keeps the input history it still needs between
  chunks, so a file converted in 100 ms pieces is bit-for-bit the file converted at once — no
  clicks at chunk boundaries (a per-chunk resampler would restart its filter at every edge).

Files are read in chunks, so an hour-long WAV does not have to fit in memory. Anything that is
not a PCM WAV we can convert is refused with :class:`InvalidWav`, a one-line reason that names
the file and the problem — never a traceback from :mod:`wave` or :mod:`struct`.
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np

from voxseal.errors import InvalidInput
from voxseal.media.audio import SAMPLE_RATE

__all__ = [
    "InvalidWav",
    "Resampler",
    "WavInfo",
    "WavSource",
    "WavWriter",
    "read_wav",
    "resample",
    "write_wav",
]

#: rates outside this range are not audio a voice call can use
MIN_RATE: Final = 4_000
MAX_RATE: Final = 384_000
#: the largest reduced up/down factor we build a filter for (44.1 kHz → 48 kHz is 160/147);
#: odd rates such as 44 056 Hz would need a filter bank of tens of thousands of phases
MAX_FACTOR: Final = 2_048

_WAVE_FORMAT_PCM: Final = 0x0001
_WAVE_FORMAT_EXTENSIBLE: Final = 0xFFFE
#: the KSDATAFORMAT_SUBTYPE_PCM GUID's tail; its first two bytes are the format tag
_GUID_TAIL: Final = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_FORMAT_NAMES: Final = {
    0x0002: "Microsoft ADPCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "µ-law",
    0x0011: "IMA ADPCM",
    0x0055: "MP3",
}


class InvalidWav(InvalidInput):
    """A file we cannot play: missing, not a WAV, or an encoding other than linear PCM."""

    reason = "invalid_wav"


# -- reading ---------------------------------------------------------------------------------


class _WaveRead(wave.Wave_read):
    """``wave.Wave_read`` that also accepts WAVE_FORMAT_EXTENSIBLE with a PCM sub-format.

    24-bit and multichannel files are usually written as WAVE_FORMAT_EXTENSIBLE, which the
    stdlib reader only understands from Python 3.12 on; on 3.11 this override parses the
    extension (the same fields 3.12 reads) and refuses every non-PCM sub-format by name.
    """

    def _read_fmt_chunk(self, chunk: Any) -> None:
        head = chunk.read(16)
        if len(head) < 16:
            raise EOFError
        tag, channels, rate, _, _, bits = struct.unpack("<HHLLHH", head)
        if tag == _WAVE_FORMAT_EXTENSIBLE:
            ext = chunk.read(24)
            if len(ext) < 24:
                raise EOFError
            subtag, tail = struct.unpack_from("<H", ext, 8)[0], ext[10:]
            if tail != _GUID_TAIL:
                raise wave.Error("unknown format: extensible with a vendor sub-format")
            tag = subtag
        if tag != _WAVE_FORMAT_PCM:
            raise wave.Error(f"unknown format: {tag}")
        if not channels:
            raise wave.Error("bad # of channels")
        self._nchannels, self._framerate = channels, rate
        self._sampwidth = (bits + 7) // 8
        if not self._sampwidth:
            raise wave.Error("bad sample width")
        self._framesize = self._nchannels * self._sampwidth
        self._comptype = "NONE"
        self._compname = "not compressed"


def _open_wave(f: BinaryIO) -> wave.Wave_read:
    if sys.version_info >= (3, 12):  # the stdlib reads WAVE_FORMAT_EXTENSIBLE itself
        return wave.open(f, "rb")
    return _WaveRead(f)


def _explain(exc: BaseException) -> str:
    """A ``wave``/``struct`` failure in words a user can act on."""
    text = str(exc)
    if text.startswith("unknown format: "):
        code = text.removeprefix("unknown format: ")
        name = _FORMAT_NAMES.get(int(code)) if code.isdigit() else None
        what = f"{name} (format {code})" if name else f"format {code}"
        return f"encoding {what} is not linear PCM; convert it to 16-bit PCM WAV"
    if isinstance(exc, EOFError | struct.error):
        return "the file is truncated (incomplete WAV header)"
    if "chunk missing" in text:
        return "the file is truncated or not a WAV (no complete fmt and data chunks)"
    return f"not a usable WAV file ({text or type(exc).__name__})"


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file holds (from its header)."""

    path: Path
    rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def describe(self) -> str:
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}-channel")
        return f"{self.seconds:.2f} s, {self.rate} Hz {layout} {8 * self.sample_width}-bit"


def _to_float(raw: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM bytes → float64 mono in [-1, 1)."""
    usable = len(raw) - len(raw) % (width * channels)  # a truncated last frame is dropped
    data = np.frombuffer(raw[:usable], dtype=np.uint8)
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = data.view("<i2").astype(np.float64) / 32768.0
    elif width == 3:  # assemble 24-bit samples in the top of an int32, then shift back down
        b = data.reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8).astype(np.float64) / 8388608.0
    else:
        x = data.view("<i4").astype(np.float64) / 2147483648.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


class WavSource:
    """A PCM WAV file opened for playing: its header checked now, its audio read in chunks.

    Opening validates everything that can be validated without reading the whole file, so a
    command can refuse a bad ``--play`` before it joins a room.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            f = self.path.open("rb")
        except OSError as exc:
            raise InvalidWav(f"cannot open {self.path}: {exc.strerror or exc}") from None
        try:
            w = _open_wave(f)
        except (wave.Error, EOFError, struct.error, ValueError) as exc:
            f.close()
            raise InvalidWav(f"{self.path}: {_explain(exc)}") from None
        self._file, self._wave = f, w
        self.info = WavInfo(
            self.path, w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        )
        try:
            self._check()
        except InvalidWav:
            self.close()
            raise

    def _check(self) -> None:
        i = self.info
        if i.sample_width not in (1, 2, 3, 4):
            raise InvalidWav(f"{i.path}: {8 * i.sample_width}-bit samples are not supported")
        if not MIN_RATE <= i.rate <= MAX_RATE:
            raise InvalidWav(f"{i.path}: sample rate {i.rate} Hz is not supported")
        up, down = _ratio(i.rate, SAMPLE_RATE)
        if max(up, down) > MAX_FACTOR:
            raise InvalidWav(
                f"{i.path}: sample rate {i.rate} Hz is not a common rate"
                " (8000, 16000, 22050, 32000, 44100, 48000, 96000 …)"
            )
        if i.frames == 0:
            raise InvalidWav(f"{i.path}: the file contains no audio")
        try:  # the header may promise frames the file does not have
            first = self._wave.readframes(1)
            self._wave.rewind()
        except (wave.Error, EOFError, struct.error, OSError) as exc:
            raise InvalidWav(f"{i.path}: {_explain(exc)}") from None
        if len(first) < i.channels * i.sample_width:
            raise InvalidWav(f"{i.path}: the data chunk is empty or truncated")

    def chunks(self, seconds: float = 0.1) -> Iterator[np.ndarray]:
        """Yield the whole file as 48 kHz mono int16, ``seconds`` of input at a time.

        Raises :class:`InvalidWav` if the data turns out to be shorter than one frame.
        """
        i = self.info
        resampler = Resampler(i.rate, SAMPLE_RATE)
        step = max(1, round(i.rate * seconds))
        self._wave.rewind()
        while True:
            try:
                raw = self._wave.readframes(step)
            except (wave.Error, EOFError, struct.error, OSError) as exc:
                raise InvalidWav(f"{i.path}: {_explain(exc)}") from None
            if not raw:
                break
            out = _to_int16(resampler.push(_to_float(raw, i.sample_width, i.channels)))
            if len(out):
                yield out
        if resampler.consumed == 0:
            raise InvalidWav(f"{i.path}: the data chunk is empty or truncated")
        tail = _to_int16(resampler.flush())
        if len(tail):
            yield tail

    def close(self) -> None:
        self._wave.close()
        self._file.close()

    def __enter__(self) -> WavSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_wav(path: str | Path) -> np.ndarray:
    """A whole PCM WAV file as 48 kHz mono int16 (convenient for short files and tests)."""
    with WavSource(path) as src:
        parts = list(src.chunks(1.0))
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


# -- resampling ------------------------------------------------------------------------------


def _ratio(rate_in: int, rate_out: int) -> tuple[int, int]:
    g = math.gcd(rate_in, rate_out)
    return rate_out // g, rate_in // g


#: up to this many filter phases a resampler computes one phase's outputs at a time
GROUPED_MAX_PHASES = 16


class Resampler:
    """Streaming rational resampler: polyphase FIR, Kaiser-windowed sinc low-pass.

    Output sample ``n`` sits at input time ``n·M/L`` (zero phase: no delay, no shift), computed
    as ``y[n] = Σₖ H[r, k] · x[j − k]`` with ``j, r = divmod(n·M + D, L)``, where ``H`` holds the
    ``L`` phases of the filter and ``D`` is its centre. Only the ``K`` taps of one phase are
    evaluated per output sample, never the zeros that upsampling would insert.

    ``zero_crossings`` per side set the filter length, ``rolloff`` the cut-off as a fraction of
    the lower Nyquist frequency, ``beta`` the Kaiser window (8.6 ≈ 85 dB stop-band).
    """

    def __init__(
        self,
        rate_in: int,
        rate_out: int = SAMPLE_RATE,
        *,
        zero_crossings: int = 16,
        rolloff: float = 0.92,
        beta: float = 8.6,
    ) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError("sample rates must be positive")
        self.rate_in, self.rate_out = rate_in, rate_out
        self.up, self.down = _ratio(rate_in, rate_out)
        self.identity = self.up == self.down == 1
        widest = max(self.up, self.down)
        cutoff = rolloff / (2 * widest)  # cycles per sample at the upsampled rate
        half = math.ceil(zero_crossings / (2 * cutoff))
        taps = np.arange(-half, half + 1, dtype=np.float64)
        h = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.kaiser(len(taps), beta) * self.up
        self.delay = half
        self.width = math.ceil(len(h) / self.up)
        padded = np.zeros(self.width * self.up)
        padded[: len(h)] = h
        phases = padded.reshape(self.width, self.up).T.copy()  # phases[r, k] = h[r + k·L]
        # each phase is its own filter: give every one exactly unit gain at DC
        self._phases = phases / phases.sum(axis=1, keepdims=True)
        # the same taps oldest-first, to meet the input windows in memory order
        self._phases_rev = np.ascontiguousarray(self._phases[:, ::-1])
        # input history: _buf[0] is input sample number _first (negative = the zeros before t=0)
        self._first = -self.width
        self._buf = np.zeros(self.width)
        self.consumed = 0  # input samples pushed
        self.produced = 0  # output samples returned

    def _compute(self, stop: int) -> np.ndarray:
        """Outputs ``produced … stop−1`` from the history buffer (which must cover them).

        The phase ``r`` repeats every ``L`` outputs (``gcd(L, M) = 1``), so the outputs fall
        into ``L`` interleaved groups, each a plain FIR with one phase's taps whose input
        position advances by ``M`` per output: one matrix-vector product over a strided,
        copy-free window view per group, instead of gathering an index matrix per sample
        (about 20 µs instead of 100+ for a 20 ms telephone frame at 8 → 48 kHz).
        """
        start = self.produced
        count = stop - start
        if count <= 0:
            return np.zeros(0)
        if self.up > GROUPED_MAX_PHASES:
            return self._compute_gathered(stop)
        out = np.empty(count)
        # windows[i] = _buf[i : i + width], reversed below so that column k is x[j − k]
        windows = np.lib.stride_tricks.sliding_window_view(self._buf, self.width)
        for offset in range(min(self.up, count)):
            n0 = start + offset
            j0, r = divmod(n0 * self.down + self.delay, self.up)
            group = len(range(offset, count, self.up))
            # the window ending at input j0 starts at j0 − width + 1 (buffer coordinates)
            first = j0 - self.width + 1 - self._first
            rows = windows[first : first + (group - 1) * self.down + 1 : self.down]
            out[offset :: self.up] = np.einsum("nk,k->n", rows, self._phases_rev[r])
        self.produced = max(stop, self.produced)
        return out

    def _compute_gathered(self, stop: int) -> np.ndarray:
        """The same outputs by gathering each one's inputs: for ratios with many phases
        (22.05 → 48 kHz has 320), where one product per phase would be a Python loop."""
        parts = []
        ks = np.arange(self.width)
        for start in range(self.produced, stop, 8192):
            n = np.arange(start, min(stop, start + 8192), dtype=np.int64)
            j, r = np.divmod(n * self.down + self.delay, self.up)
            idx = j[:, None] - ks[None, :] - self._first
            parts.append(np.einsum("nk,nk->n", self._phases[r], self._buf[idx]))
        self.produced = max(stop, self.produced)
        return np.concatenate(parts) if parts else np.zeros(0)

    def _last_output_for(self, available: int) -> int:
        """One past the last output index whose inputs are all within ``available`` samples."""
        top = available * self.up - 1 - self.delay
        return top // self.down + 1 if top >= 0 else 0

    def _trim(self) -> None:
        """Forget input the next output no longer needs (keeps memory flat on long files)."""
        j_next = (self.produced * self.down + self.delay) // self.up
        keep_from = j_next - (self.width - 1)
        if keep_from > self._first:
            self._buf = self._buf[keep_from - self._first :]
            self._first = keep_from

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed input samples (float, mono); return every output sample now computable."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if self.identity:
            self.consumed += len(x)
            self.produced += len(x)
            return x.copy()
        self._buf = np.concatenate((self._buf, x))
        self.consumed += len(x)
        out = self._compute(self._last_output_for(self.consumed))
        self._trim()
        return out

    def flush(self) -> np.ndarray:
        """The remaining output, as if the input were followed by silence.

        The total length is ``ceil(consumed · L / M)``: exactly ``seconds × rate_out``.
        """
        total = -(-self.consumed * self.up // self.down)
        if self.identity or self.produced >= total:
            return np.zeros(0)
        j_last = ((total - 1) * self.down + self.delay) // self.up
        have = self._first + len(self._buf)
        if j_last >= have:
            self._buf = np.concatenate((self._buf, np.zeros(j_last - have + 1)))
        out = self._compute(total)
        self._trim()
        return out


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a whole float signal at once (same result as streaming it through chunks)."""
    r = Resampler(rate_in, rate_out)
    return np.concatenate((r.push(x), r.flush()))


# -- writing ---------------------------------------------------------------------------------


class WavWriter:
    """A 48 kHz mono 16-bit WAV written as audio arrives (the header is patched on close).

    Streaming matters for recordings: a long call is never held in memory, and what was
    written survives a crash up to the last chunk (only the header's length would be stale).
    """

    def __init__(self, path: str | Path, rate: int = SAMPLE_RATE) -> None:
        self.path = Path(path)
        try:
            self._w = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise InvalidInput(
                f"cannot write {self.path}: {exc.strerror or exc}", reason="invalid_output"
            ) from None
        self._w.setnchannels(1)
        self._w.setsampwidth(2)
        self._w.setframerate(rate)
        self.rate = rate
        self.frames = 0

    def write(self, pcm: np.ndarray) -> None:
        data = np.asarray(pcm, dtype=np.int16).reshape(-1)
        self._w.writeframes(data.astype("<i2", copy=False).tobytes())
        self.frames += len(data)

    def silence(self, samples: int) -> None:
        while samples > 0:
            n = min(samples, self.rate)
            self.write(np.zeros(n, dtype=np.int16))
            samples -= n

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def close(self) -> None:
        self._w.close()


def write_wav(path: str | Path, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 PCM as a WAV file."""
    w = WavWriter(path, rate)
    try:
        w.write(pcm)
    finally:
        w.close()
