"""Reading any PCM WAV as 48 kHz mono int16, and refusing everything else by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.audio.wavfiles import encode_wav, sine, tone_wav
from tests.media.helpers import dominant_frequency
from voxseal.audio import InvalidWav, WavSource, WavWriter, read_wav, wav_bytes, write_wav


@pytest.mark.parametrize(
    ("rate", "width", "channels", "extensible"),
    [
        (8_000, 1, 1, False),
        (16_000, 2, 2, False),
        (22_050, 2, 1, False),
        (44_100, 3, 2, True),
        (48_000, 2, 1, False),
        (48_000, 4, 1, False),
        (32_000, 3, 1, False),
    ],
)
def test_any_pcm_wav_becomes_48k_mono_int16(
    tmp_path: Path, rate: int, width: int, channels: int, extensible: bool
) -> None:
    path = tone_wav(
        tmp_path / "in.wav", 1000, rate, 0.5, width=width, channels=channels, extensible=extensible
    )
    pcm = read_wav(path)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert len(pcm) == 24_000
    assert abs(dominant_frequency(pcm) - 1000) < 3
    peak = np.abs(pcm[2000:-2000]).max() / 32768
    assert abs(peak - 0.5) < (0.01 if width > 1 else 0.02)  # 8-bit is coarse


def test_48k_16bit_mono_passes_through_unchanged(tmp_path: Path) -> None:
    x = np.random.default_rng(3).integers(-30000, 30000, 4801).astype(np.int16)
    path = tmp_path / "x.wav"
    path.write_bytes(encode_wav(x / 32767, 48_000))
    assert np.array_equal(read_wav(path), x)


def test_stereo_is_averaged_not_summed(tmp_path: Path) -> None:
    left = sine(1000, 16_000, 0.5, 0.9)
    path = tmp_path / "s.wav"
    path.write_bytes(encode_wav(np.stack([left, left], axis=1), 16_000))
    assert np.abs(read_wav(path)[2000:-2000]).max() / 32768 == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not audio at all, just some text" * 10, "not a usable WAV"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "truncated"),
        (None, "IEEE float"),
        ("extensible-float", "IEEE float"),
        ("alaw", "A-law"),
        ("empty", "no audio"),
        ("promised", "data chunk is empty or truncated"),
        ("odd-rate", "12345 Hz is not a common rate"),
    ],
)
def test_malformed_or_unsupported_wavs_are_refused_by_name(
    tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / "bad.wav"
    x = sine(440, 8000, 0.1)
    if content is None:
        path.write_bytes(encode_wav(x, 8000, 4, format_tag=3))
    elif content == "extensible-float":
        path.write_bytes(encode_wav(x, 8000, 4, format_tag=3, extensible=True))
    elif content == "alaw":
        path.write_bytes(encode_wav(x, 8000, 1, format_tag=6))
    elif content == "empty":
        path.write_bytes(encode_wav(x[:0], 8000))
    elif content == "promised":  # the header says 800 frames; the file ends after the header
        path.write_bytes(encode_wav(x, 8000)[:44])
    elif content == "odd-rate":
        path.write_bytes(encode_wav(x, 12_345))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(InvalidWav, match=message) as info:
        WavSource(path)
    assert str(path) in str(info.value) and info.value.reason == "invalid_wav"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidWav, match="cannot open"):
        WavSource(tmp_path / "nope.wav")


# -- WAV as bytes, and streamed headers -------------------------------------------------------


def _streamed(wav: bytes, size: int) -> bytes:
    """``wav`` as a writer on a pipe leaves it: RIFF and data sizes it could not patch."""
    head = bytearray(wav)
    head[4:8] = (0x7FFFF024).to_bytes(4, "little")
    data = head.index(b"data")
    head[data + 4 : data + 8] = size.to_bytes(4, "little")
    return bytes(head)


@pytest.mark.parametrize("size", [0, 0x7FFFF000, 0xFFFFFFFF])
def test_a_streamed_wav_plays_to_its_end(size: int) -> None:
    """espeak-ng's ``--stdout`` claims ~2 GiB of data; other writers claim 0 or 2³²-1."""
    x = sine(1000, 22_050, 0.5)
    whole = read_wav(encode_wav(x, 22_050), name="tts")
    src = WavSource(_streamed(encode_wav(x, 22_050), size), name="tts")
    assert src.info.frames == 11_025 and src.info.describe() == "0.50 s, 22050 Hz mono 16-bit"
    assert np.array_equal(np.concatenate(list(src.chunks())), whole)
    assert len(whole) == 24_000 and abs(dominant_frequency(whole) - 1000) < 3


def test_bytes_and_files_read_alike_and_refusals_name_the_source(tmp_path: Path) -> None:
    x = np.repeat(sine(440, 16_000, 0.3)[:, None], 2, axis=1)
    wav = encode_wav(x, 16_000, 3)
    (tmp_path / "s.wav").write_bytes(wav)
    assert np.array_equal(read_wav(wav), read_wav(tmp_path / "s.wav"))
    with pytest.raises(InvalidWav, match=r"^espeak-ng's output: the file contains no audio$"):
        read_wav(encode_wav(x[:0], 16_000), name="espeak-ng's output")
    with pytest.raises(InvalidWav, match=r"^WAV data: not a usable WAV"):
        WavSource(b"ID3\x04 an mp3 file")


def test_a_trailing_chunk_is_not_audio_and_a_half_frame_is_dropped() -> None:
    x = np.arange(-50, 50, dtype=np.int16)
    wav = encode_wav(x / 32767, 48_000)
    odd = wav[:-1]  # the last sample lost a byte
    assert np.array_equal(read_wav(odd), x[:-1])
    tail = b"LIST" + (6).to_bytes(4, "little") + b"INFOab"
    assert np.array_equal(read_wav(wav + tail), x)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w: w[:4] + w[4:8] + b"AVI " + w[12:], "a RIFF file, but not WAVE"),
        (lambda w: w[:12] + w[36:], "data chunk before fmt chunk"),
        (lambda w: w[:22] + b"\x00\x00" + w[24:], "no channels"),
        (lambda w: w[:10], "truncated"),
        (lambda w: w[:12] + b"fmt " + (8).to_bytes(4, "little") + w[20:28], "truncated"),
    ],
)
def test_broken_headers_are_refused_in_words(edit: object, message: str) -> None:
    wav = encode_wav(sine(440, 8000, 0.1), 8000)
    with pytest.raises(InvalidWav, match=message):
        WavSource(edit(wav))  # type: ignore[operator]


def test_a_vendor_sub_format_is_refused() -> None:
    wav = bytearray(encode_wav(sine(440, 8000, 0.1), 8000, 2, extensible=True))
    wav[-(1600 + 8) - 1] ^= 0xFF  # the GUID's last byte, just before the data chunk
    with pytest.raises(InvalidWav, match="vendor sub-format is not linear PCM"):
        WavSource(bytes(wav))


def test_written_wavs_read_back_exactly(tmp_path: Path) -> None:
    pcm = np.random.default_rng(5).integers(-32768, 32768, 4_800).astype(np.int16)
    write_wav(tmp_path / "w.wav", pcm)
    data = wav_bytes(pcm)
    assert (tmp_path / "w.wav").read_bytes() == data
    assert len(data) == 44 + 2 * len(pcm)
    assert np.array_equal(read_wav(data), pcm)
    w = WavWriter(tmp_path / "s.wav")
    w.write(pcm[:100])
    w.silence(50_000)
    w.close()
    assert w.frames == 50_100 and w.seconds == pytest.approx(50_100 / 48_000)
    back = read_wav(tmp_path / "s.wav")
    assert np.array_equal(back[:100], pcm[:100]) and not back[100:].any()
