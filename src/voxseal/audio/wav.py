"""WAV in and out: any PCM WAV → 48 kHz mono int16, and 16-bit mono WAV back out.

Why this module exists: the media plane speaks exactly one format (48 kHz mono int16, see
:mod:`voxseal.audio.pcm`), while the files people have are 8 kHz telephony captures, 16 kHz
ASR corpora, 44.1 kHz stereo music, 24-bit studio takes, and espeak-ng writes 22.05 kHz WAV to
a pipe. Reading them takes three conversions done properly:

* **sample format** — 8-bit unsigned, 16/24/32-bit signed little-endian → float;
* **channels** — stereo (or more) is averaged to mono, which cannot clip;
* **rate** — the streaming :class:`~voxseal.audio.resample.Resampler`, so a file converted in
  100 ms pieces is bit-for-bit the file converted at once.

The RIFF parser is our own (about sixty lines) rather than :mod:`wave`'s, for two reasons: the
stdlib reads WAVE_FORMAT_EXTENSIBLE (how 24-bit and multichannel files are written) only from
Python 3.12 on, and a WAV streamed to a pipe (espeak-ng's ``--stdout``) cannot seek back to
patch its sizes, so its data chunk claims 0 or ~2 GiB bytes. Here a data chunk whose size is 0
or runs past the end of the input holds everything up to the end, for files and bytes alike.

Files are read in chunks, so an hour-long WAV does not have to fit in memory. Anything that is
not a PCM WAV we can convert is refused with :class:`~voxseal.audio.errors.InvalidWav`, a
one-line reason that names the file and the problem — never a traceback from :mod:`struct`.
Writing uses :mod:`wave` (16-bit mono, header patched on close).
"""

from __future__ import annotations

import io
import os
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

from voxseal.audio.errors import InvalidWav
from voxseal.audio.pcm import SAMPLE_RATE, float_to_pcm
from voxseal.audio.resample import MAX_FACTOR, Resampler, ratio
from voxseal.errors import InvalidInput

__all__ = [
    "MAX_RATE",
    "MIN_RATE",
    "WavInfo",
    "WavSource",
    "WavWriter",
    "read_wav",
    "wav_bytes",
    "write_wav",
]

#: rates outside this range are not audio a voice call can use
MIN_RATE: Final = 4_000
MAX_RATE: Final = 384_000

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
_TRUNCATED: Final = "the file is truncated (incomplete WAV header)"
_NO_CHUNKS: Final = "the file is truncated or not a WAV (no complete fmt and data chunks)"


# -- reading ---------------------------------------------------------------------------------


class _Unusable(Exception):
    """Why the bytes are not a WAV we can play (becomes :class:`InvalidWav` with the name)."""


@dataclass(frozen=True)
class _Layout:
    """What the header says, and where in the input the samples really are."""

    tag: int
    channels: int
    rate: int
    sample_width: int
    declared_frames: int
    start: int
    stop: int

    @property
    def frame_size(self) -> int:
        return self.channels * self.sample_width


def _format_name(tag: int) -> str:
    name = _FORMAT_NAMES.get(tag)
    return f"{name} (format {tag})" if name else f"format {tag}"


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    """A ``fmt `` chunk → (format tag, channels, rate, bytes per sample); PCM only."""
    if len(body) < 16:
        raise _Unusable(_TRUNCATED)
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHLLHH", body)
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise _Unusable(_TRUNCATED)
        if body[26:40] != _GUID_TAIL:
            raise _Unusable(
                "encoding extensible with a vendor sub-format is not linear PCM;"
                " convert it to 16-bit PCM WAV"
            )
        tag = struct.unpack_from("<H", body, 24)[0]
    if tag != _WAVE_FORMAT_PCM:
        raise _Unusable(
            f"encoding {_format_name(tag)} is not linear PCM; convert it to 16-bit PCM WAV"
        )
    if not channels:
        raise _Unusable("not a usable WAV file (no channels)")
    width = (bits + 7) // 8
    if not width:
        raise _Unusable("not a usable WAV file (bad sample width)")
    return tag, channels, rate, width


def _parse(f: BinaryIO, end: int) -> _Layout:
    """Walk the RIFF chunks of ``f`` (``end`` bytes long) up to the start of the samples."""
    head = f.read(12)
    if len(head) >= 4 and head[:4] != b"RIFF":
        raise _Unusable("not a usable WAV file (it does not start with RIFF)")
    if len(head) < 12:
        raise _Unusable(_TRUNCATED)
    if head[8:12] != b"WAVE":
        raise _Unusable("not a usable WAV file (a RIFF file, but not WAVE)")
    fmt: tuple[int, int, int, int] | None = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:  # no complete chunk header left
            raise _Unusable(_NO_CHUNKS)
        cid, size = chunk[:4], struct.unpack_from("<L", chunk, 4)[0]
        if cid == b"fmt ":
            fmt = _parse_fmt(f.read(size))
            f.seek(size & 1, os.SEEK_CUR)
        elif cid == b"data":
            if fmt is None:
                raise _Unusable("not a usable WAV file (data chunk before fmt chunk)")
            start = f.tell()
            # a streamed WAV cannot patch its size: 0, or more than there is, means "to the end"
            stop = start + size if size and start + size <= end else end
            tag, channels, rate, width = fmt
            return _Layout(tag, channels, rate, width, size // (channels * width), start, stop)
        else:
            f.seek(size + (size & 1), os.SEEK_CUR)


@dataclass(frozen=True)
class WavInfo:
    """What a WAV holds: its header's format, and the frames that are really there."""

    name: str
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


def _to_float(raw: bytes, width: int, channels: int) -> npt.NDArray[np.float64]:
    """Interleaved little-endian PCM bytes → float64 mono in [-1, 1)."""
    usable = len(raw) - len(raw) % (width * channels)  # a truncated last frame is dropped
    data = np.frombuffer(raw[:usable], dtype=np.uint8)
    x: npt.NDArray[np.float64]
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


class WavSource:
    """A PCM WAV (a file, or bytes such as a subprocess's output) opened for playing: its header
    checked now, its audio read in chunks.

    Opening validates everything that can be validated without reading the whole file, so a
    command can refuse a bad ``--play`` before it joins a room. ``name`` (the path, for a file)
    starts every refusal's message.
    """

    def __init__(self, source: str | Path | bytes, *, name: str | None = None) -> None:
        f: BinaryIO
        if isinstance(source, bytes):
            self.name = name or "WAV data"
            f = io.BytesIO(source)
        else:
            self.name = name or str(source)
            try:
                f = Path(source).open("rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InvalidWav(f"cannot open {source}: {exc.strerror or exc}") from None
        self._file = f
        try:
            end = f.seek(0, os.SEEK_END)
            f.seek(0)
            self._layout = _parse(f, end)
        except _Unusable as exc:
            f.close()
            raise InvalidWav(f"{self.name}: {exc}") from None
        except OSError as exc:
            f.close()
            raise InvalidWav(f"{self.name}: cannot read it ({exc.strerror or exc})") from None
        lay = self._layout
        self.info = WavInfo(
            self.name,
            lay.rate,
            lay.channels,
            lay.sample_width,
            (lay.stop - lay.start) // lay.frame_size,
        )
        try:
            self._check()
        except InvalidWav:
            self.close()
            raise

    def _check(self) -> None:
        i, lay = self.info, self._layout
        if i.sample_width not in (1, 2, 3, 4):
            raise InvalidWav(f"{i.name}: {8 * i.sample_width}-bit samples are not supported")
        if not MIN_RATE <= i.rate <= MAX_RATE:
            raise InvalidWav(f"{i.name}: sample rate {i.rate} Hz is not supported")
        up, down = ratio(i.rate, SAMPLE_RATE)
        if max(up, down) > MAX_FACTOR:
            raise InvalidWav(
                f"{i.name}: sample rate {i.rate} Hz is not a common rate"
                " (8000, 16000, 22050, 32000, 44100, 48000, 96000 …)"
            )
        if lay.declared_frames == 0 and i.frames == 0:
            raise InvalidWav(f"{i.name}: the file contains no audio")
        if i.frames == 0:  # the header promises frames the file does not have
            raise InvalidWav(f"{i.name}: the data chunk is empty or truncated")

    def chunks(self, seconds: float = 0.1) -> Iterator[npt.NDArray[np.int16]]:
        """Yield the whole file as 48 kHz mono int16, ``seconds`` of input at a time.

        Raises :class:`InvalidWav` if the data turns out to be shorter than one frame.
        """
        i, lay = self.info, self._layout
        resampler = Resampler(i.rate, SAMPLE_RATE)
        step = max(1, round(i.rate * seconds)) * lay.frame_size
        pos = lay.start
        while pos < lay.stop:
            try:
                self._file.seek(pos)
                raw = self._file.read(min(step, lay.stop - pos))
            except OSError as exc:
                raise InvalidWav(f"{i.name}: cannot read it ({exc.strerror or exc})") from None
            if not raw:
                break
            pos += len(raw)
            out = float_to_pcm(resampler.push(_to_float(raw, i.sample_width, i.channels)))
            if len(out):
                yield out
        if resampler.consumed == 0:
            raise InvalidWav(f"{i.name}: the data chunk is empty or truncated")
        tail = float_to_pcm(resampler.flush())
        if len(tail):
            yield tail

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WavSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_wav(source: str | Path | bytes, *, name: str | None = None) -> npt.NDArray[np.int16]:
    """A whole PCM WAV (file or bytes) as 48 kHz mono int16 (for short files and tests)."""
    with WavSource(source, name=name) as src:
        parts = list(src.chunks(1.0))
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


# -- writing ---------------------------------------------------------------------------------


def _start(w: wave.Wave_write, rate: int) -> None:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)


def _le16(pcm: npt.ArrayLike) -> bytes:
    return np.asarray(pcm, dtype=np.int16).reshape(-1).astype("<i2", copy=False).tobytes()


class WavWriter:
    """A mono 16-bit WAV file (48 kHz by default) written as audio arrives; the header is
    patched on close.

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
        _start(self._w, rate)
        self.rate = rate
        self.frames = 0

    def write(self, pcm: npt.ArrayLike) -> None:
        data = _le16(pcm)
        self._w.writeframes(data)
        self.frames += len(data) // 2

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


def write_wav(path: str | Path, pcm: npt.ArrayLike, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 PCM as a WAV file."""
    w = WavWriter(path, rate)
    try:
        w.write(pcm)
    finally:
        w.close()


def wav_bytes(pcm: npt.ArrayLike, rate: int = SAMPLE_RATE) -> bytes:
    """Mono int16 PCM as the bytes of a WAV file (a recording handed to the vault)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        _start(w, rate)
        w.writeframes(_le16(pcm))
    return buf.getvalue()
