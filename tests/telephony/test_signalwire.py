"""SignalWire: Twilio-shaped stream frames with UUID ids, cXML, and its own signature header."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from twilio.request_validator import RequestValidator

from voxseal.telephony.errors import InvalidSignature, MalformedFrame
from voxseal.telephony.signalwire import (
    SignalWireSerializer,
    SignalWireWebhookVerifier,
    connect_stream_cxml,
)
from voxseal.telephony.twilio import Media, Start

STREAM = "b3f8d2c0-5a6e-4f1b-9c1d-2e3f4a5b6c7d"
CALL = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
PROJECT = "9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789"


def test_signalwire_stream_parses_with_uuid_ids() -> None:
    s = SignalWireSerializer()
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": STREAM,
        "start": {
            "streamSid": STREAM,
            "callSid": CALL,
            "accountSid": PROJECT,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": "tok"},
        },
    }
    ev = s.deserialize(json.dumps(start))
    assert isinstance(ev, Start) and ev.call_sid == CALL and ev.custom_parameters["token"] == "tok"
    media = {
        "event": "media",
        "streamSid": STREAM,
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "0",
            "payload": base64.b64encode(b"\xff" * 160).decode(),
        },
    }
    assert isinstance(s.deserialize(json.dumps(media)), Media)
    with pytest.raises(MalformedFrame):
        s.deserialize(json.dumps({**media, "streamSid": "another"}))
    assert json.loads(s.serialize_clear()) == {"event": "clear", "streamSid": STREAM}


def test_cxml_is_the_connect_stream_document() -> None:
    xml = connect_stream_cxml(
        "wss://voice.example.com/v1/telephony/signalwire/stream", {"token": "t&k"}
    )
    stream = ET.fromstring(xml).find("./Connect/Stream")
    assert stream is not None
    assert stream.find("Parameter").get("value") == "t&k"  # type: ignore[union-attr]


def test_signature_is_checked_with_the_signing_key() -> None:
    key, url = "PSKsigningkey", "https://voice.example.com/v1/telephony/signalwire/voice"
    form = {"CallSid": CALL, "AccountSid": PROJECT, "From": "+15551230000"}
    sig = RequestValidator(key).compute_signature(url, form)
    v = SignalWireWebhookVerifier(key, public_base_url="https://voice.example.com")
    v.verify(
        "http://127.0.0.1:9000/v1/telephony/signalwire/voice",
        {"X-SignalWire-Signature": sig},
        params=form,
    )
    with pytest.raises(InvalidSignature):
        v.verify(url, {"X-SignalWire-Signature": sig}, params={**form, "From": "+1"})
