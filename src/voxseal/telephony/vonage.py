"""Vonage Voice API WebSockets, sans-I/O: the NCCO that connects a call, and its stream.

The answer webhook returns an NCCO ``connect`` action to a ``websocket`` endpoint; Vonage
then opens the socket, sends one JSON text frame (``websocket:connected``, carrying the
content type and the NCCO's ``headers`` — where the stream token travels), and after it binary
frames of 16-bit little-endian linear PCM, 20 ms each (640 bytes at 16 kHz, 320 at 8 kHz).
Control flows as JSON text: we may send ``notify`` (answered by ``websocket:notify`` once the
audio before it has played) and ``clear`` (barge-in; answered by ``websocket:cleared``).

:class:`VonageSerializer` is strict in the same way as the Twilio one: a non-JSON text frame or
one without a valid ``event``, audio before the headers, an odd or oversized audio frame raise
:class:`~voxseal.telephony.errors.MalformedFrame`; a well-formed event it does not know is
returned as :class:`~voxseal.telephony.events.UnknownEvent` and ignored.
:meth:`~VonageSerializer.parse` and :meth:`~VonageSerializer.serialize` speak the
provider-neutral events of :mod:`.events`: a ``notify`` carries the mark's name as
``{"mark": name}`` and comes back as :class:`~voxseal.telephony.events.MarkPlayed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from voxseal.telephony import events as neutral
from voxseal.telephony.audio import InboundAudio, OutboundAudio
from voxseal.telephony.errors import (
    FrameTooLarge,
    MalformedFrame,
    TelephonyError,
    unknown_event_name,
)
from voxseal.telephony.events import UnknownEvent

RATES: Final = (8000, 16000)
MAX_TEXT_CHARS: Final = 64 * 1024
#: audio frames longer than this many 20 ms frames are refused
MAX_FRAMES_PER_MESSAGE: Final = 5
_CONTENT_TYPE: Final = re.compile(r"^audio/l16;\s*rate=(8000|16000)$", re.IGNORECASE)
_DTMF_DIGITS: Final = frozenset("0123456789*#")


def content_type(rate: int) -> str:
    if rate not in RATES:
        raise ValueError(f"Vonage streams L16 at 8000 or 16000 Hz, not {rate}")
    return f"audio/l16;rate={rate}"


def frame_bytes(rate: int) -> int:
    """Bytes in one 20 ms L16 frame at ``rate``."""
    return rate // 50 * 2


def connect_websocket_ncco(
    uri: str,
    *,
    headers: Mapping[str, str],
    rate: int = 16000,
    from_number: str | None = None,
) -> list[dict[str, Any]]:
    """An NCCO whose single ``connect`` action streams the call to ``uri``.

    ``headers`` come back to us in the first text frame, so the stream token goes there;
    Vonage expects string values.
    """
    if not uri.startswith("wss://"):
        raise ValueError("the websocket URI must be wss://")
    if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("websocket headers must map names to strings")
    endpoint = {
        "type": "websocket",
        "uri": uri,
        "content-type": content_type(rate),
        "headers": dict(headers),
    }
    action: dict[str, Any] = {"action": "connect", "endpoint": [endpoint]}
    if from_number is not None:
        action["from"] = from_number
    return [action]


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """The first text frame: the content type and the NCCO's headers (stream token)."""

    rate: int
    headers: dict[str, Any]


@dataclass(frozen=True)
class Audio:
    payload: bytes  # L16 little-endian, as received
    pcm: np.ndarray = field(repr=False, compare=False)  # 48 kHz int16, continuous


@dataclass(frozen=True)
class Dtmf:
    digit: str
    duration_ms: int | None


@dataclass(frozen=True)
class Notify:
    """Vonage played our audio up to a ``notify`` we sent; ``payload`` is what we attached."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class Cleared:
    """Vonage emptied its playback buffer after our ``clear``."""


#: a well-formed ``event`` this version does not know is the neutral
#: :class:`~voxseal.telephony.events.UnknownEvent`: ignored rather than ending the call
Event = Connected | Audio | Dtmf | Notify | Cleared | UnknownEvent


# -- serializer -------------------------------------------------------------------------------


class VonageSerializer:
    """One Vonage call's WebSocket: frames in → events, room audio out → frames."""

    provider = "vonage"

    def __init__(self) -> None:
        self.rate: int | None = None
        self._inbound: InboundAudio | None = None
        self._outbound: OutboundAudio | None = None
        self._pending = b""

    @property
    def frame_bytes(self) -> int:
        return frame_bytes(self._rate())

    def _rate(self) -> int:
        if self.rate is None:
            raise TelephonyError("no open stream to send to", reason="stream_not_started")
        return self.rate

    # the provider-neutral side (what the ingress edge and CallAudio speak)

    def parse(self, frame: str | bytes) -> neutral.InboundEvent:
        """One message → one provider-neutral event (see :meth:`deserialize` for the checks).

        The headers of ``websocket:connected`` carry the stream token and the call id
        (``token``, ``call``: the NCCO we answered put them there).
        """
        event = self.deserialize(frame)
        if isinstance(event, Audio):
            return neutral.CallerAudio(event.pcm)
        if isinstance(event, Connected):
            call, token = event.headers.get("call"), event.headers.get("token")
            return neutral.StreamStarted(
                call if isinstance(call, str) else None, token if isinstance(token, str) else None
            )
        if isinstance(event, Notify):
            mark = event.payload.get("mark")
            return neutral.MarkPlayed(mark if isinstance(mark, str) else None)
        if isinstance(event, Dtmf):
            return neutral.DtmfReceived(event.digit, event.duration_ms)
        if isinstance(event, Cleared):
            return neutral.PlaybackCleared()
        return event

    def serialize(self, item: neutral.OutboundItem) -> Sequence[str | bytes]:
        """One neutral item → Vonage messages: binary L16 frames of exactly 20 ms, ``notify``
        for a mark, ``clear``; raises TelephonyError before ``websocket:connected``."""
        if isinstance(item, neutral.PlayAudio):
            return self.serialize_audio(item.pcm)
        if isinstance(item, neutral.FlushAudio):
            return self.flush_audio()
        if isinstance(item, neutral.Mark):
            return [self.serialize_notify({"mark": item.name})]
        return [self.serialize_clear()]

    def deserialize(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes | bytearray | memoryview):
            return self._audio(bytes(frame))
        if not isinstance(frame, str):
            raise MalformedFrame("unexpected frame type")
        if len(frame) > MAX_TEXT_CHARS:
            raise FrameTooLarge("message too large")
        try:
            msg = json.loads(frame)
        except (ValueError, RecursionError):
            raise MalformedFrame("text frame is not JSON") from None
        if not isinstance(msg, dict):
            raise MalformedFrame("text frame is not a JSON object")
        event = msg.get("event")
        if self.rate is None:
            if event != "websocket:connected":
                raise MalformedFrame("the first frame must be websocket:connected")
            return self._connected(msg)
        if event == "websocket:dtmf":
            return self._dtmf(msg)
        if event == "websocket:notify":
            payload = msg.get("payload", {})
            if not isinstance(payload, dict):
                raise MalformedFrame("notify payload must be an object")
            return Notify(payload)
        if event == "websocket:cleared":
            return Cleared()
        if event == "websocket:connected":
            raise MalformedFrame("second websocket:connected")
        return UnknownEvent(unknown_event_name(event))

    def _connected(self, msg: Mapping[str, Any]) -> Connected:
        ctype = msg.get("content-type")
        match = _CONTENT_TYPE.match(ctype) if isinstance(ctype, str) else None
        if match is None:
            raise MalformedFrame("unsupported content-type")
        headers = {k: v for k, v in msg.items() if k not in ("event", "content-type")}
        if len(headers) > 64:
            raise MalformedFrame("too many headers")
        self.rate = int(match.group(1))
        self._inbound = InboundAudio("l16", self.rate)
        self._outbound = OutboundAudio("l16", self.rate)
        return Connected(self.rate, headers)

    def _audio(self, data: bytes) -> Audio:
        if self._inbound is None:
            raise MalformedFrame("audio before websocket:connected")
        if not data or len(data) % 2:
            raise MalformedFrame("audio must be whole 16-bit samples")
        if len(data) > MAX_FRAMES_PER_MESSAGE * self.frame_bytes:
            raise FrameTooLarge("audio frame too large")
        return Audio(data, self._inbound.push(data))

    def _dtmf(self, msg: Mapping[str, Any]) -> Dtmf:
        # Vonage has sent the digit at the top level and inside "dtmf"; accept either shape
        body = msg.get("dtmf", msg)
        if not isinstance(body, dict):
            raise MalformedFrame("dtmf must be an object")
        digit = body.get("digit")
        if not isinstance(digit, str) or digit not in _DTMF_DIGITS:
            raise MalformedFrame("not a DTMF digit")
        duration = body.get("duration")
        if duration is not None and (
            not isinstance(duration, int) or isinstance(duration, bool) or duration < 0
        ):
            raise MalformedFrame("dtmf duration must be a non-negative integer")
        return Dtmf(digit, duration)

    # outbound

    def serialize_audio(self, pcm48k: np.ndarray) -> list[bytes]:
        """Room audio (48 kHz int16) → binary frames of exactly 20 ms."""
        size = self.frame_bytes
        assert self._outbound is not None
        self._pending += self._outbound.push(pcm48k)
        cut = len(self._pending) - len(self._pending) % size
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return [ready[i : i + size] for i in range(0, cut, size)]

    def flush_audio(self) -> list[bytes]:
        """The end of an utterance: the resampler's tail, padded with silence to a frame."""
        size = self.frame_bytes
        assert self._outbound is not None
        self._pending += self._outbound.flush()
        self._outbound = OutboundAudio("l16", self._rate())
        data, self._pending = self._pending + bytes(-len(self._pending) % size), b""
        return [data[i : i + size] for i in range(0, len(data), size)]

    def serialize_notify(self, payload: Mapping[str, Any]) -> str:
        """Ask for ``websocket:notify`` with ``payload`` when the audio sent so far has played
        (the Vonage counterpart of a Twilio mark)."""
        self._rate()
        return json.dumps({"action": "notify", "payload": dict(payload)})

    def serialize_clear(self) -> str:
        """Barge-in: Vonage drops its buffered audio; we drop ours too."""
        rate = self._rate()
        self._pending = b""
        self._outbound = OutboundAudio("l16", rate)
        return json.dumps({"action": "clear"})
