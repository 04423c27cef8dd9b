"""Vonage WebSocket: NCCO, first text frame, binary L16 frames, control messages, refusals."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from voxseal.audio import l16_encode
from voxseal.telephony.errors import FrameTooLarge, MalformedFrame, TelephonyError
from voxseal.telephony.vonage import (
    Audio,
    Cleared,
    Connected,
    Dtmf,
    Notify,
    UnknownEvent,
    VonageSerializer,
    connect_websocket_ncco,
)

WS = "wss://voice.example.com/v1/telephony/vonage/ws"


def first(rate: int = 16000, **headers: Any) -> str:
    return json.dumps(
        {"event": "websocket:connected", "content-type": f"audio/l16;rate={rate}", **headers}
    )


def opened(rate: int = 16000) -> VonageSerializer:
    s = VonageSerializer()
    s.deserialize(first(rate, token="tok"))
    return s


def test_ncco_connects_a_websocket_with_the_token_header() -> None:
    ncco = connect_websocket_ncco(WS, headers={"token": "tok"}, from_number="447700900000")
    assert ncco == [
        {
            "action": "connect",
            "from": "447700900000",
            "endpoint": [
                {
                    "type": "websocket",
                    "uri": WS,
                    "content-type": "audio/l16;rate=16000",
                    "headers": {"token": "tok"},
                }
            ],
        }
    ]
    assert (
        connect_websocket_ncco(WS, headers={}, rate=8000)[0]["endpoint"][0]["content-type"]
        == "audio/l16;rate=8000"
    )
    for bad in [
        lambda: connect_websocket_ncco("ws://insecure", headers={}),
        lambda: connect_websocket_ncco(WS, headers={}, rate=44100),
        lambda: connect_websocket_ncco(WS, headers={"token": 5}),  # type: ignore[dict-item]
    ]:
        with pytest.raises(ValueError):
            bad()


def test_a_whole_stream_parses_into_typed_events() -> None:
    s = VonageSerializer()
    ev = s.deserialize(first(token="tok", uuid="abc"))
    assert ev == Connected(16000, {"token": "tok", "uuid": "abc"})
    tone = np.rint(5000 * np.sin(np.arange(320) / 16000 * 2 * np.pi * 300)).astype(np.int16)
    audio = s.deserialize(l16_encode(tone))
    assert isinstance(audio, Audio) and len(audio.payload) == 640
    assert audio.pcm.dtype == np.int16
    assert s.deserialize(
        json.dumps({"event": "websocket:dtmf", "digit": "5", "duration": 260})
    ) == Dtmf("5", 260)
    assert s.deserialize(
        json.dumps({"event": "websocket:dtmf", "dtmf": {"digit": "#", "duration": 100}})
    ) == Dtmf("#", 100)
    assert s.deserialize(json.dumps({"event": "websocket:notify", "payload": {"m": 1}})) == Notify(
        {"m": 1}
    )
    assert s.deserialize(json.dumps({"event": "websocket:cleared"})) == Cleared()


def test_an_unknown_well_formed_event_is_ignorable_not_fatal() -> None:
    s = opened(16000)
    ev = s.deserialize(json.dumps({"event": "websocket:media:update", "x": 1}))
    assert ev == UnknownEvent("websocket:media:update")
    assert isinstance(s.deserialize(b"\x00\x00" * 320), Audio)  # the stream goes on


def test_inbound_audio_is_continuous_at_8_and_16_khz() -> None:
    for rate in (8000, 16000):
        s = opened(rate)
        tone = np.rint(5000 * np.sin(np.arange(rate) / rate * 2 * np.pi * 300)).astype(np.int16)
        data, size = l16_encode(tone), rate // 50 * 2
        pcm = np.concatenate(
            [s.deserialize(data[i : i + size]).pcm for i in range(0, len(data), size)]
        )  # type: ignore[union-attr]
        assert abs(len(pcm) - 48000) < 300
        assert (
            np.max(np.abs(np.diff(pcm[1000:].astype(np.int32))))
            < 5000 * 2 * np.pi * 300 / 48000 * 1.3
        )


BAD: list[tuple[str, str | bytes]] = [
    ("not json", "{nope"),
    ("json list", "[]"),
    ("event name not an identifier", json.dumps({"event": "websocket:hang up\n"})),
    ("event name too long", json.dumps({"event": "websocket:" + "x" * 80})),
    ("no event", json.dumps({"digit": "1"})),
    ("second connected", first()),
    ("dtmf letter", json.dumps({"event": "websocket:dtmf", "digit": "x"})),
    ("dtmf no digit", json.dumps({"event": "websocket:dtmf"})),
    (
        "dtmf negative duration",
        json.dumps({"event": "websocket:dtmf", "digit": "1", "duration": -1}),
    ),
    ("dtmf bad body", json.dumps({"event": "websocket:dtmf", "dtmf": "1"})),
    ("notify payload not object", json.dumps({"event": "websocket:notify", "payload": [1]})),
    ("odd audio", b"\x00" * 641),
    ("empty audio", b""),
    ("oversized audio", b"\x00" * 640 * 6),
]


@pytest.mark.parametrize(("why", "frame"), BAD, ids=[b[0] for b in BAD])
def test_malformed_frames_are_refused(why: str, frame: str | bytes) -> None:
    with pytest.raises(MalformedFrame) as e:
        opened().deserialize(frame)
    assert e.value.reason == "malformed_frame"


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00" * 640,  # audio before the headers
        json.dumps({"event": "websocket:dtmf", "digit": "1"}),
        json.dumps({"event": "websocket:connected", "content-type": "audio/pcmu;rate=8000"}),
        json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=44100"}),
        json.dumps({"event": "websocket:connected"}),
        "x" * 70_000,
    ],
)
def test_the_first_frame_must_be_valid_headers(frame: str | bytes) -> None:
    with pytest.raises(MalformedFrame):
        VonageSerializer().deserialize(frame)


def test_huge_text_is_too_big() -> None:
    with pytest.raises(FrameTooLarge) as e:
        opened().deserialize("x" * 70_000)
    assert e.value.close_code == 1009


def test_outbound_audio_is_exact_20ms_frames_with_notify_and_clear() -> None:
    s = opened(16000)
    tone = np.rint(5000 * np.sin(np.arange(4800) / 48000 * 2 * np.pi * 400)).astype(np.int16)
    frames = s.serialize_audio(tone[:1234]) + s.serialize_audio(tone[1234:]) + s.flush_audio()
    assert all(isinstance(f, bytes) and len(f) == 640 for f in frames)
    assert sum(map(len, frames)) == 1600 * 2  # 100 ms at 16 kHz
    assert json.loads(s.serialize_notify({"mark": "reply-1"})) == {
        "action": "notify",
        "payload": {"mark": "reply-1"},
    }
    s.serialize_audio(tone[:100])
    assert json.loads(s.serialize_clear()) == {"action": "clear"}
    assert s.flush_audio() == []


def test_nothing_is_sent_before_the_headers() -> None:
    with pytest.raises(TelephonyError, match="no open stream"):
        VonageSerializer().serialize_audio(np.zeros(960, np.int16))
    with pytest.raises(TelephonyError):
        VonageSerializer().serialize_clear()
