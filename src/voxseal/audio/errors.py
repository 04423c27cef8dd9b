"""Typed refusals of the audio package: samples or files we cannot take.

Both are :class:`~voxseal.errors.InvalidInput` (bad input, HTTP 422 if one ever reaches the
edge). :class:`InvalidPcm` is also a :class:`ValueError`, which is what the PCM checks raised
before they were gathered here, so callers that catch that keep working.
"""

from __future__ import annotations

from voxseal.errors import InvalidInput

__all__ = ["InvalidPcm", "InvalidWav"]


class InvalidPcm(InvalidInput, ValueError):
    """Samples that are not mono 16-bit PCM: another dtype, several channels, half a sample."""

    reason = "invalid_pcm"


class InvalidWav(InvalidInput):
    """A file we cannot play: missing, not a WAV, or an encoding other than linear PCM."""

    reason = "invalid_wav"
