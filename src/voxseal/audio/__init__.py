"""Audio facts and formats, one small module per concern (as aiortc's ``codecs/`` does).

* :mod:`~voxseal.audio.pcm` — the internal format (48 kHz mono int16, 20 ms frames), the one
  check of what counts as such PCM, int16 ↔ float, re-framing;
* :mod:`~voxseal.audio.resample` — the streaming polyphase resampler every rate change uses;
* :mod:`~voxseal.audio.wav` — WAV files and bytes in (any PCM WAV) and out (16-bit mono);
* :mod:`~voxseal.audio.g711` — G.711 μ-law (Twilio, SignalWire);
* :mod:`~voxseal.audio.l16` — 16-bit linear PCM bytes (Vonage).

Pure functions and sans-I/O classes on numpy arrays and bytes, nothing else: the package sits
just above :mod:`voxseal.crypto` and imports only numpy, the stdlib and :mod:`voxseal.errors`,
so the media plane, the SDK, the agent and telephony can all share it without importing each
other. Opus stays in :mod:`voxseal.media.audio`, next to the RTP plumbing it serves.
"""

from voxseal.audio.errors import InvalidPcm, InvalidWav
from voxseal.audio.g711 import ulaw_decode, ulaw_encode
from voxseal.audio.l16 import l16_decode, l16_encode
from voxseal.audio.pcm import (
    FRAME_DURATION,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    PcmFramer,
    as_mono_pcm,
    float_to_pcm,
    pcm_to_float,
)
from voxseal.audio.resample import Resampler, resample
from voxseal.audio.wav import WavInfo, WavSource, WavWriter, read_wav, wav_bytes, write_wav

__all__ = [
    "FRAME_DURATION",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "InvalidPcm",
    "InvalidWav",
    "PcmFramer",
    "Resampler",
    "WavInfo",
    "WavSource",
    "WavWriter",
    "as_mono_pcm",
    "float_to_pcm",
    "l16_decode",
    "l16_encode",
    "pcm_to_float",
    "read_wav",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
    "wav_bytes",
    "write_wav",
]
