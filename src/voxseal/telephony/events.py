"""What a phone media stream says, and what we ask of it, in no provider's words.

Each provider serializer (:mod:`.twilio`, :mod:`.vonage`, :mod:`.signalwire`) parses its wire
messages into the *inbound* events below and turns the *outbound* items into its wire
messages; the ingress edge and :class:`~voxseal.telephony.call_audio.CallAudio` see only these.
So a fourth provider is one serializer file: nothing above it learns the provider's protocol.

Audio is 48 kHz int16 on this side of the serializer, whatever the carrier streams (8 kHz
μ-law, 16 kHz L16, …): the serializer's resamplers keep it continuous across frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# -- inbound: provider → us ---------------------------------------------------------------


@dataclass(frozen=True)
class StreamConnected:
    """The provider opened its protocol before naming the call (Twilio's ``connected``).

    It carries nothing the call needs; it is the one message allowed before the stream token.
    """


@dataclass(frozen=True)
class StreamStarted:
    """The stream names its call and presents the stream token we issued for it.

    Nothing but this and :class:`StreamConnected` is accepted until the token is redeemed.
    """

    call_id: str | None
    "The provider's call id (Twilio ``callSid``, Vonage ``call`` header), None if absent."

    token: str | None = field(repr=False)
    "The single-use stream token, None if absent; a bearer secret, so not in the repr."


@dataclass(frozen=True)
class CallerAudio:
    """Audio from the caller: one provider frame, decoded."""

    pcm: np.ndarray = field(repr=False, compare=False)
    "48 kHz int16, continuous with the previous frame (any length; resampler delay aside)."

    chunk: int | None = None
    "The provider's frame counter (Twilio ``chunk``), None where frames are not numbered."

    timestamp_ms: int | None = None
    "Milliseconds since the stream started (Twilio ``timestamp``), None if not sent."


@dataclass(frozen=True)
class OtherTrackAudio:
    """Audio of a track that is not the caller's voice (Twilio's ``outbound`` track when a
    stream carries both): not forwarded to the room."""

    track: str
    "The provider's name for the track."


@dataclass(frozen=True)
class MarkPlayed:
    """The caller has heard our audio up to a :class:`Mark` (or the provider cleared it)."""

    name: str | None
    "The mark's name as echoed (Twilio ``mark``, Vonage ``notify`` payload), None if none."


@dataclass(frozen=True)
class DtmfReceived:
    """The caller pressed a key: counted, never logged or audited (callers type card
    numbers)."""

    digit: str = field(repr=False)
    "``0``-``9``, ``*``, ``#`` (Twilio also ``A``-``D``); kept out of the repr."

    duration_ms: int | None = None
    "How long the key was held, where the provider says (Vonage), else None."


@dataclass(frozen=True)
class PlaybackCleared:
    """The provider emptied its playback buffer after our :class:`Clear` (Vonage's
    ``websocket:cleared``; Twilio echoes the pending marks instead)."""


@dataclass(frozen=True)
class StreamStopped:
    """The provider ended the stream (Twilio ``stop``); nothing more can be sent to it.

    Vonage has no such message: its stream ends when the socket closes.
    """


@dataclass(frozen=True)
class UnknownEvent:
    """A well-formed message whose event this version does not know: ignored and counted.

    Providers add events (Twilio did, for ``dtmf``); hanging up on a caller because of one
    would turn a protocol addition into an outage.
    """

    name: str
    "The provider's event name (a short identifier; anything else is a malformed frame)."


InboundEvent = (
    StreamConnected
    | StreamStarted
    | CallerAudio
    | OtherTrackAudio
    | MarkPlayed
    | DtmfReceived
    | PlaybackCleared
    | StreamStopped
    | UnknownEvent
)


# -- outbound: us → provider --------------------------------------------------------------


@dataclass(frozen=True)
class PlayAudio:
    """Agent audio for the caller to hear."""

    pcm: np.ndarray = field(repr=False, compare=False)
    "48 kHz int16, any length; the serializer sends whole provider frames and keeps the rest."


@dataclass(frozen=True)
class FlushAudio:
    """The utterance's audio is complete: send what the serializer still holds, padded with
    silence to a whole frame, and resample the next utterance afresh."""


@dataclass(frozen=True)
class Mark:
    """Ask the provider to echo :class:`MarkPlayed` with this name once everything sent
    before it has played (Twilio ``mark``, Vonage ``notify``)."""

    name: str
    "1-256 printable ASCII characters."


@dataclass(frozen=True)
class Clear:
    """Barge-in: the provider drops the audio it has buffered, and the serializer its own."""


OutboundItem = PlayAudio | FlushAudio | Mark | Clear

__all__ = [
    "CallerAudio",
    "Clear",
    "DtmfReceived",
    "FlushAudio",
    "InboundEvent",
    "Mark",
    "MarkPlayed",
    "OtherTrackAudio",
    "OutboundItem",
    "PlayAudio",
    "PlaybackCleared",
    "StreamConnected",
    "StreamStarted",
    "StreamStopped",
    "UnknownEvent",
]
