"""Twilio Media Streams: frames as Twilio sends them, every refusal, outbound frames, TwiML."""

from __future__ import annotations

import base64
import dataclasses
import json
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from voxseal.audio import ulaw_decode, ulaw_encode
from voxseal.telephony.errors import FrameTooLarge, MalformedFrame, TelephonyError
from voxseal.telephony.twilio import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    TwilioSerializer,
    UnknownEvent,
    connect_stream_twiml,
)

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA8f5b3f8d1ca7b5e2a7a6e4f2b0c3d1e9"
ACCOUNT = "AC11111111111111111111111111111111"


def connected() -> dict[str, Any]:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start(**over: Any) -> dict[str, Any]:
    body = {
        "accountSid": ACCOUNT,
        "streamSid": SID,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": "tok"},
    }
    body.update(over)
    return {"event": "start", "sequenceNumber": "1", "start": body, "streamSid": SID}


def media(payload: bytes = b"\xff" * 160, chunk: str = "1", ts: str = "5") -> dict[str, Any]:
    return {
        "event": "media",
        "sequenceNumber": "2",
        "media": {
            "track": "inbound",
            "chunk": chunk,
            "timestamp": ts,
            "payload": base64.b64encode(payload).decode(),
        },
        "streamSid": SID,
    }


def dtmf(digit: str = "1") -> dict[str, Any]:
    return {
        "event": "dtmf",
        "streamSid": SID,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": digit},
    }


def mark(name: str = "reply-1") -> dict[str, Any]:
    return {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": name}}


def stop() -> dict[str, Any]:
    return {
        "event": "stop",
        "sequenceNumber": "9",
        "streamSid": SID,
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    }


def opened() -> TwilioSerializer:
    s = TwilioSerializer()
    s.deserialize(json.dumps(connected()))
    s.deserialize(json.dumps(start()))
    return s


def test_a_whole_stream_parses_into_typed_events() -> None:
    s = TwilioSerializer()
    assert s.deserialize(json.dumps(connected())) == Connected("Call", "1.0.0")
    ev = s.deserialize(json.dumps(start()))
    assert isinstance(ev, Start)
    assert (ev.stream_sid, ev.call_sid, ev.custom_parameters) == (SID, CALL, {"token": "tok"})
    tone = np.rint(6000 * np.sin(np.arange(160) / 8000 * 2 * np.pi * 400)).astype(np.int16)
    m = s.deserialize(json.dumps(media(ulaw_encode(tone), chunk="3", ts="40")))
    assert isinstance(m, Media)
    assert (m.chunk, m.timestamp, m.track, m.sequence_number) == (3, 40, "inbound", 2)
    assert np.array_equal(ulaw_decode(m.payload), ulaw_decode(ulaw_encode(tone)))
    assert m.pcm.dtype == np.int16 and len(m.pcm) > 0  # 48 kHz, resampler delay aside
    assert s.deserialize(json.dumps(dtmf("#"))) == Dtmf(SID, "inbound_track", "#", 5)
    assert s.deserialize(json.dumps(mark())) == Mark(SID, "reply-1", 4)
    assert s.deserialize(json.dumps(stop())) == Stop(SID, CALL, ACCOUNT, 9)


def test_inbound_audio_is_continuous_across_frames() -> None:
    s = opened()
    tone = np.rint(6000 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 300)).astype(np.int16)
    payload = ulaw_encode(tone)
    pcm = np.concatenate(
        [
            s.deserialize(json.dumps(media(payload[i : i + 160], chunk=str(i // 160 + 1)))).pcm  # type: ignore[union-attr]
            for i in range(0, len(payload), 160)
        ]
    )
    assert abs(len(pcm) - 48000) < 200
    assert (
        np.max(np.abs(np.diff(pcm[1000:].astype(np.int32)))) < 6000 * 2 * np.pi * 300 / 48000 * 1.3
    )


BAD_FRAMES: list[tuple[str, object]] = [
    ("not json", "{nope"),
    ("json array", "[1, 2]"),
    ("event name not an identifier", {"event": "<hangup/>", "streamSid": SID}),
    ("event name with a newline", {"event": "hangup\n", "streamSid": SID}),
    ("unknown event of another stream", {"event": "hangup", "streamSid": "MZ" + "0" * 32}),
    ("no event", {"streamSid": SID}),
    ("event not a string", {"event": 7}),
    ("media without media", {"event": "media", "streamSid": SID}),
    ("bad base64", {**media(), "media": {**media()["media"], "payload": "!!notbase64!!"}}),
    ("base64 with junk", {**media(), "media": {**media()["media"], "payload": "AAAA\nAAAA"}}),
    ("empty payload", {**media(), "media": {**media()["media"], "payload": ""}}),
    ("oversized payload", media(b"\xff" * 9000)),
    ("chunk not a number", media(chunk="one")),
    ("negative timestamp", {**media(), "media": {**media()["media"], "timestamp": -5}}),
    ("bool chunk", {**media(), "media": {**media()["media"], "chunk": True}}),
    (
        "missing chunk",
        {**media(), "media": {k: v for k, v in media()["media"].items() if k != "chunk"}},
    ),
    ("unknown track", {**media(), "media": {**media()["media"], "track": "both"}}),
    ("other stream", {**media(), "streamSid": "MZother"}),
    ("no streamSid", {k: v for k, v in media().items() if k != "streamSid"}),
    ("dtmf not a digit", dtmf("x")),
    ("dtmf two digits", dtmf("12")),
    ("mark without name", {"event": "mark", "streamSid": SID, "mark": {}}),
    ("mark name control chars", mark("a\nb")),
    ("stop without callSid", {"event": "stop", "streamSid": SID, "stop": {"accountSid": ACCOUNT}}),
    ("second start", start()),
    ("connected after start", connected()),
]


@pytest.mark.parametrize(("why", "frame"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_malformed_frames_are_refused(why: str, frame: object) -> None:
    s = opened()
    text = frame if isinstance(frame, str) else json.dumps(frame)
    with pytest.raises(MalformedFrame) as e:
        s.deserialize(text)
    assert e.value.reason == "malformed_frame"
    assert e.value.close_code in (1007, 1009)


BAD_STARTS: list[tuple[str, dict[str, Any]]] = [
    (
        "wrong encoding",
        start(mediaFormat={"encoding": "audio/l16", "sampleRate": 8000, "channels": 1}),
    ),
    (
        "wrong rate",
        start(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1}),
    ),
    ("stereo", start(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2})),
    (
        "rate as string",
        start(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": "8000", "channels": 1}),
    ),
    ("no mediaFormat", start(mediaFormat=None)),
    ("no callSid", start(callSid=None)),
    ("empty streamSid", start(streamSid="")),
    ("params not strings", start(customParameters={"token": 5})),
    ("params not an object", start(customParameters=["token"])),
    ("unknown track", start(tracks=["sideways"])),
    ("mismatched outer streamSid", {**start(), "streamSid": "MZother"}),
]


@pytest.mark.parametrize(("why", "frame"), BAD_STARTS, ids=[b[0] for b in BAD_STARTS])
def test_bad_start_is_refused(why: str, frame: dict[str, Any]) -> None:
    with pytest.raises(MalformedFrame):
        TwilioSerializer().deserialize(json.dumps(frame))


def test_an_unknown_well_formed_event_is_ignorable_not_fatal() -> None:
    """A provider's new event must not hang up the call: it parses as UnknownEvent."""
    s = TwilioSerializer()
    assert s.deserialize(json.dumps({"event": "futureEvent"})) == UnknownEvent("futureEvent")
    s.deserialize(json.dumps(start()))
    new = {"event": "media:v2", "streamSid": SID, "sequenceNumber": "3", "x": {"y": 1}}
    assert s.deserialize(json.dumps(new)) == UnknownEvent("media:v2")
    assert isinstance(s.deserialize(json.dumps(media())), Media)  # the stream goes on


def test_order_is_enforced() -> None:
    for early in (media(), dtmf(), mark(), stop()):
        with pytest.raises(MalformedFrame, match="before start"):
            TwilioSerializer().deserialize(json.dumps(early))
    s = opened()
    s.deserialize(json.dumps(stop()))
    with pytest.raises(MalformedFrame, match="after stop"):
        s.deserialize(json.dumps(media()))


def test_binary_and_huge_frames_are_refused() -> None:
    with pytest.raises(MalformedFrame):
        opened().deserialize(b'{"event": "connected"}')
    with pytest.raises(FrameTooLarge) as e:
        opened().deserialize(" " * 70_000)
    assert e.value.close_code == 1009


def test_outbound_audio_is_whole_frames_with_mark_and_clear() -> None:
    s = opened()
    tone = np.rint(6000 * np.sin(np.arange(4800) / 48000 * 2 * np.pi * 400)).astype(np.int16)
    frames = s.serialize_audio(tone[:2000]) + s.serialize_audio(tone[2000:]) + s.flush_audio()
    sent = [json.loads(f) for f in frames]
    assert all(f["event"] == "media" and f["streamSid"] == SID for f in sent)
    payloads = [base64.b64decode(f["media"]["payload"]) for f in sent]
    assert all(len(p) == 160 for p in payloads)
    assert sum(map(len, payloads)) == 800  # 100 ms at 8 kHz
    assert json.loads(s.serialize_mark("reply-1")) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "reply-1"},
    }
    s.serialize_audio(tone[:100])  # a partial frame is pending …
    assert json.loads(s.serialize_clear()) == {"event": "clear", "streamSid": SID}
    assert s.flush_audio() == []  # … and barge-in dropped it
    with pytest.raises(MalformedFrame):
        s.serialize_mark("bad\nname")


def test_nothing_is_sent_before_start() -> None:
    with pytest.raises(TelephonyError, match="no open stream"):
        TwilioSerializer().serialize_audio(np.zeros(960, np.int16))
    with pytest.raises(TelephonyError):
        TwilioSerializer().serialize_clear()


def test_twiml_connects_a_stream_with_an_escaped_token() -> None:
    nasty = "a\"b<c>&d'e"
    xml = connect_stream_twiml(
        "wss://voice.example.com/v1/telephony/twilio/stream?x=1&y=2", {"token": nasty}
    )
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream ')
    root = ET.fromstring(xml)
    stream = root.find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://voice.example.com/v1/telephony/twilio/stream?x=1&y=2"
    params = stream.findall("Parameter")
    assert [(p.get("name"), p.get("value")) for p in params] == [("token", nasty)]
    assert "<c>" not in xml
    with pytest.raises(ValueError):
        connect_stream_twiml("https://voice.example.com/stream")
    with pytest.raises(ValueError):
        connect_stream_twiml("wss://voice.example.com/stream", {"token": "a\x00b"})


#: the mutations of the fuzz below the protocol allows, and the event field each one sets:
#: an absent sequence number, zero counters, a payload that is base64 after all, and SIDs the
#: parser only bounds in length. Every other mutation must be refused as a MalformedFrame.
#: (Keyed by the value's JSON text: the values include lists, and ``True == 1`` in Python.)
FUZZ_ACCEPTED: dict[tuple[str, str, str], tuple[str, Any]] = {
    **{
        (event, "sequenceNumber", json.dumps(value)): ("sequence_number", value)
        for event in ("media", "dtmf", "mark", "stop")
        for value in (None, 0)
    },
    ("media", "media.chunk", "0"): ("chunk", 0),
    ("media", "media.timestamp", "0"): ("timestamp", 0),
    ("media", "media.payload", json.dumps("x" * 300)): ("payload", base64.b64decode("x" * 300)),
    ("stop", "stop.callSid", json.dumps("\x00")): ("call_sid", "\x00"),
    ("stop", "stop.accountSid", json.dumps("\x00")): ("account_sid", "\x00"),
}


def test_mutated_frames_are_refused_or_parse_to_the_field_given() -> None:
    """A cheap fuzz: every field of every frame replaced by values of the wrong shape. Each
    mutation either raises MalformedFrame or — for the few the protocol allows — parses to
    the template's event with exactly the mutated field changed."""
    weird: list[Any] = [None, 0, -1, True, 1.5, "", "x" * 300, [], [1], {}, {"a": 1}, "\x00"]
    templates = [media(), dtmf(), mark(), stop()]
    accepted: set[tuple[str, str, str]] = set()
    for template in templates:
        original = opened().deserialize(json.dumps(template))
        for key in list(template) + [
            f"{k}.{s}" for k in template if isinstance(template[k], dict) for s in template[k]
        ]:
            for value in weird:
                frame = json.loads(json.dumps(template))
                if "." in key:
                    outer, inner = key.split(".")
                    frame[outer][inner] = value
                else:
                    frame[key] = value
                case = (template["event"], key, json.dumps(value))
                expected = FUZZ_ACCEPTED.get(case)
                if expected is None:
                    with pytest.raises(MalformedFrame):
                        opened().deserialize(json.dumps(frame))
                    continue
                event = opened().deserialize(json.dumps(frame))
                accepted.add(case)
                field, parsed = expected
                assert type(event) is type(original), case
                assert getattr(event, field) == parsed, case
                for name in (f.name for f in dataclasses.fields(original)):
                    if name not in (field, "pcm"):
                        assert getattr(event, name) == getattr(original, name), (case, name)
    assert accepted == set(FUZZ_ACCEPTED)
