"""Twilio Media Streams, sans-I/O: TwiML for a bidirectional stream and its WebSocket protocol.

Twilio sends JSON text frames — ``connected``, ``start``, ``media`` (base64 μ-law, 8 kHz),
``dtmf``, ``mark``, ``stop`` — and accepts ``media``, ``mark`` and ``clear``.
:class:`TwilioSerializer` turns one stream's frames into typed events (and inbound audio into
48 kHz int16) and room audio into Twilio frames; :meth:`~TwilioSerializer.parse` and
:meth:`~TwilioSerializer.serialize` speak the provider-neutral events of :mod:`.events` that
the ingress edge uses. It is strict: anything that is not the
protocol — a missing or invalid event name, a missing field, bad base64, an oversized frame,
audio before ``start`` or after ``stop``, another stream's id — raises
:class:`~voxseal.telephony.errors.MalformedFrame`, and the edge closes the socket. A
well-formed event it does not know becomes
:class:`~voxseal.telephony.events.UnknownEvent`, which the edge ignores
(after the stream token is redeemed) and counts: a provider's new event must not hang up calls.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from voxseal.audio.g711 import ULAW_SILENCE
from voxseal.telephony import events as neutral
from voxseal.telephony.audio import InboundAudio, OutboundAudio
from voxseal.telephony.errors import (
    FrameTooLarge,
    MalformedFrame,
    TelephonyError,
    unknown_event_name,
)
from voxseal.telephony.events import UnknownEvent

#: the only media format Twilio streams, and the one we send back
MEDIA_FORMAT: Final = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
#: 20 ms of μ-law at 8 kHz: what Twilio sends per frame and what we send back
FRAME_BYTES: Final = 160
#: largest text frame we parse; Twilio's are well under 1 KiB
MAX_MESSAGE_CHARS: Final = 64 * 1024
#: largest decoded audio payload in one inbound frame (1 s)
MAX_PAYLOAD_BYTES: Final = 8000
_TRACKS: Final = frozenset({"inbound", "outbound", "inbound_track", "outbound_track"})
_DTMF_DIGITS: Final = frozenset("0123456789*#ABCDabcd")
_MARK_NAME: Final = re.compile(r"^[\x20-\x7e]{1,256}$")
#: characters XML 1.0 cannot carry at all, even escaped
_NOT_XML: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    sequence_number: int | None


@dataclass(frozen=True)
class Media:
    stream_sid: str
    track: str
    chunk: int
    timestamp: int  # ms since the stream started
    payload: bytes  # μ-law, as received
    pcm: np.ndarray = field(repr=False, compare=False)  # 48 kHz int16, continuous across frames
    sequence_number: int | None = None


@dataclass(frozen=True)
class Dtmf:
    stream_sid: str
    track: str
    digit: str
    sequence_number: int | None


@dataclass(frozen=True)
class Mark:
    """Twilio played our audio up to the mark of this name (or it was cleared)."""

    stream_sid: str
    name: str
    sequence_number: int | None


@dataclass(frozen=True)
class Stop:
    stream_sid: str
    call_sid: str
    account_sid: str
    sequence_number: int | None


#: a well-formed message whose event this version does not know is the neutral
#: :class:`~voxseal.telephony.events.UnknownEvent`: it must still be a JSON object with a short
#: printable ``event`` and, once the stream started, this stream's id
Event = Connected | Start | Media | Dtmf | Mark | Stop | UnknownEvent


# -- field checks -----------------------------------------------------------------------------


def _obj(msg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise MalformedFrame(f"{key!r} must be an object")
    return value


def _str(msg: Mapping[str, Any], key: str, *, limit: int = 256) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MalformedFrame(f"{key!r} must be a non-empty string")
    return value


def _int(msg: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """Twilio sends counters as decimal strings; accept those and plain integers."""
    value = msg.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
    else:
        raise MalformedFrame(f"{key!r} must be a non-negative integer")
    if number < 0:
        raise MalformedFrame(f"{key!r} must be a non-negative integer")
    return number


def _track(msg: Mapping[str, Any]) -> str:
    track = _str(msg, "track")
    if track not in _TRACKS:
        raise MalformedFrame("unknown track")
    return track


def _mark_name(name: str) -> str:
    if not _MARK_NAME.match(name):
        raise MalformedFrame("mark name must be 1-256 printable ASCII characters")
    return name


# -- serializer -------------------------------------------------------------------------------


class TwilioSerializer:
    """One Twilio media stream: frames in → events, room audio out → frames.

    Order is enforced: ``connected`` (optional) → ``start`` → ``media``/``dtmf``/``mark`` →
    ``stop``. The stream id is learned from ``start`` and every later frame must carry it.
    """

    provider = "twilio"
    media_format: Mapping[str, Any] = MEDIA_FORMAT

    def __init__(self) -> None:
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.stopped = False
        self._connected = False
        self._inbound = InboundAudio("mulaw", 8000)
        self._outbound = OutboundAudio("mulaw", 8000)
        self._pending = b""

    # the provider-neutral side (what the ingress edge and CallAudio speak)

    def parse(self, frame: str | bytes) -> neutral.InboundEvent:
        """One message → one provider-neutral event (see :meth:`deserialize` for the checks).

        Only the caller's track is :class:`~voxseal.telephony.events.CallerAudio`; the
        ``outbound`` track, when a stream asks for both, is the audio the caller hears.
        """
        event = self.deserialize(frame)
        if isinstance(event, Media):
            if not event.track.startswith("inbound"):
                return neutral.OtherTrackAudio(event.track)
            return neutral.CallerAudio(event.pcm, chunk=event.chunk, timestamp_ms=event.timestamp)
        if isinstance(event, Start):
            return neutral.StreamStarted(event.call_sid, event.custom_parameters.get("token"))
        if isinstance(event, Mark):
            return neutral.MarkPlayed(event.name)
        if isinstance(event, Dtmf):
            return neutral.DtmfReceived(event.digit)
        if isinstance(event, Stop):
            return neutral.StreamStopped()
        if isinstance(event, Connected):
            return neutral.StreamConnected()
        return event

    def serialize(self, item: neutral.OutboundItem) -> Sequence[str]:
        """One neutral item → Twilio messages: ``media`` (whole 20 ms frames), ``mark``,
        ``clear``; raises TelephonyError when there is no open stream."""
        if isinstance(item, neutral.PlayAudio):
            return self.serialize_audio(item.pcm)
        if isinstance(item, neutral.FlushAudio):
            return self.flush_audio()
        if isinstance(item, neutral.Mark):
            return [self.serialize_mark(item.name)]
        return [self.serialize_clear()]

    # inbound

    def deserialize(self, text: str | bytes) -> Event:
        """Parse one WebSocket message from the provider; raise MalformedFrame if it is not
        the protocol. Binary frames are refused: Twilio sends text only."""
        if not isinstance(text, str):
            raise MalformedFrame(f"{self.provider} media streams send text frames only")
        if len(text) > MAX_MESSAGE_CHARS:
            raise FrameTooLarge("message too large")
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            raise MalformedFrame("message is not JSON") from None
        if not isinstance(msg, dict):
            raise MalformedFrame("message is not a JSON object")
        event = msg.get("event")
        if self.stopped:
            raise MalformedFrame("message after stop")
        handlers: dict[str, Callable[[Mapping[str, Any]], Event]] = {
            "connected": self._connected_event,
            "start": self._start_event,
            "media": self._media_event,
            "dtmf": self._dtmf_event,
            "mark": self._mark_event,
            "stop": self._stop_event,
        }
        handler = handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            name = unknown_event_name(event)
            if self.stream_sid is not None:
                self._check_stream(msg)
            return UnknownEvent(name)
        if event not in ("connected", "start"):
            self._check_stream(msg)
        return handler(msg)

    def _check_stream(self, msg: Mapping[str, Any]) -> None:
        if self.stream_sid is None:
            raise MalformedFrame("message before start")
        if msg.get("streamSid") != self.stream_sid:
            raise MalformedFrame("streamSid does not match the stream")

    def _connected_event(self, msg: Mapping[str, Any]) -> Connected:
        if self._connected or self.stream_sid is not None:
            raise MalformedFrame("connected out of order")
        self._connected = True
        return Connected(protocol=_str(msg, "protocol"), version=_str(msg, "version"))

    def _start_event(self, msg: Mapping[str, Any]) -> Start:
        if self.stream_sid is not None:
            raise MalformedFrame("second start")
        start = _obj(msg, "start")
        stream_sid = _str(start, "streamSid", limit=64)
        if msg.get("streamSid", stream_sid) != stream_sid:
            raise MalformedFrame("streamSid does not match the stream")
        fmt = _obj(start, "mediaFormat")
        if dict(fmt) != dict(self.media_format):
            raise MalformedFrame("unsupported mediaFormat")
        tracks = start.get("tracks", ["inbound"])
        if (
            not isinstance(tracks, list)
            or not tracks
            or not all(isinstance(t, str) and t in _TRACKS for t in tracks)
        ):
            raise MalformedFrame("'tracks' must list known tracks")
        params = start.get("customParameters", {})
        if not isinstance(params, dict) or len(params) > 32:
            raise MalformedFrame("'customParameters' must be an object")
        for name, value in params.items():
            if not isinstance(value, str) or len(name) > 256 or len(value) > 4096:
                raise MalformedFrame("'customParameters' must map names to strings")
        event = Start(
            stream_sid=stream_sid,
            call_sid=_str(start, "callSid", limit=64),
            account_sid=_str(start, "accountSid", limit=64),
            tracks=tuple(tracks),
            custom_parameters=dict(params),
            sequence_number=_int(msg, "sequenceNumber", required=False),
        )
        self.stream_sid, self.call_sid = event.stream_sid, event.call_sid
        return event

    def _media_event(self, msg: Mapping[str, Any]) -> Media:
        media = _obj(msg, "media")
        encoded = _str(media, "payload", limit=MAX_PAYLOAD_BYTES * 4 // 3 + 4)
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedFrame("media payload is not base64") from None
        if not payload:
            raise MalformedFrame("media payload is empty")
        track = _track(media) if "track" in media else "inbound"
        chunk, timestamp = _int(media, "chunk"), _int(media, "timestamp")
        assert chunk is not None and timestamp is not None
        return Media(
            stream_sid=self.stream_sid or "",
            track=track,
            chunk=chunk,
            timestamp=timestamp,
            payload=payload,
            pcm=self._inbound.push(payload),
            sequence_number=_int(msg, "sequenceNumber", required=False),
        )

    def _dtmf_event(self, msg: Mapping[str, Any]) -> Dtmf:
        dtmf = _obj(msg, "dtmf")
        digit = _str(dtmf, "digit", limit=1)
        if digit not in _DTMF_DIGITS:
            raise MalformedFrame("not a DTMF digit")
        return Dtmf(
            stream_sid=self.stream_sid or "",
            track=_track(dtmf) if "track" in dtmf else "inbound_track",
            digit=digit,
            sequence_number=_int(msg, "sequenceNumber", required=False),
        )

    def _mark_event(self, msg: Mapping[str, Any]) -> Mark:
        return Mark(
            stream_sid=self.stream_sid or "",
            name=_mark_name(_str(_obj(msg, "mark"), "name")),
            sequence_number=_int(msg, "sequenceNumber", required=False),
        )

    def _stop_event(self, msg: Mapping[str, Any]) -> Stop:
        stop = _obj(msg, "stop")
        self.stopped = True
        return Stop(
            stream_sid=self.stream_sid or "",
            call_sid=_str(stop, "callSid", limit=64),
            account_sid=_str(stop, "accountSid", limit=64),
            sequence_number=_int(msg, "sequenceNumber", required=False),
        )

    # outbound

    def _sid(self) -> str:
        if self.stream_sid is None or self.stopped:
            raise TelephonyError("no open stream to send to", reason="stream_not_started")
        return self.stream_sid

    def _media_message(self, payload: bytes) -> str:
        body = {"payload": base64.b64encode(payload).decode()}
        return json.dumps({"event": "media", "streamSid": self._sid(), "media": body})

    def serialize_audio(self, pcm48k: np.ndarray) -> list[str]:
        """Room audio (48 kHz int16) → ``media`` messages of whole 20 ms frames; a partial
        frame waits for the next call (or :meth:`flush_audio`)."""
        self._sid()
        self._pending += self._outbound.push(pcm48k)
        cut = len(self._pending) - len(self._pending) % FRAME_BYTES
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return [self._media_message(ready[i : i + FRAME_BYTES]) for i in range(0, cut, FRAME_BYTES)]

    def flush_audio(self) -> list[str]:
        """The end of an utterance: the resampler's tail, padded with silence to a frame."""
        self._sid()
        self._pending += self._outbound.flush()
        self._outbound = OutboundAudio("mulaw", 8000)
        if not self._pending:
            return []
        pad = -len(self._pending) % FRAME_BYTES
        data, self._pending = self._pending + bytes([ULAW_SILENCE]) * pad, b""
        return [
            self._media_message(data[i : i + FRAME_BYTES]) for i in range(0, len(data), FRAME_BYTES)
        ]

    def serialize_mark(self, name: str) -> str:
        """Ask Twilio to echo ``mark`` when the audio sent before it has played."""
        return json.dumps(
            {"event": "mark", "streamSid": self._sid(), "mark": {"name": _mark_name(name)}}
        )

    def serialize_clear(self) -> str:
        """Barge-in: Twilio drops the audio it has buffered (and echoes pending marks); we
        drop ours too."""
        sid = self._sid()
        self._pending = b""
        self._outbound = OutboundAudio("mulaw", 8000)
        return json.dumps({"event": "clear", "streamSid": sid})


# -- TwiML ------------------------------------------------------------------------------------


def connect_stream_twiml(
    stream_url: str,
    parameters: Mapping[str, str] | None = None,
    *,
    status_callback: str | None = None,
) -> str:
    """``<Response><Connect><Stream url=…>`` with ``<Parameter>`` children (the stream token
    travels as one), XML-escaped by ElementTree so no value can inject markup."""
    if not stream_url.startswith("wss://"):
        raise ValueError("the stream URL must be wss://")
    texts = [stream_url, status_callback or "", *(parameters or {}), *(parameters or {}).values()]
    if any(_NOT_XML.search(t) for t in texts):
        raise ValueError("TwiML values cannot contain control characters")
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    stream = ET.SubElement(connect, "Stream", {"url": stream_url})
    if status_callback is not None:
        stream.set("statusCallback", status_callback)
    for name, value in (parameters or {}).items():
        if not name:
            raise ValueError("a stream parameter needs a name")
        ET.SubElement(stream, "Parameter", {"name": name, "value": value})
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")
