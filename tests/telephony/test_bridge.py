"""The call's audio logic, without sockets: utterances end in a mark, the caller's voice over
unplayed agent audio is barge-in (``clear``), the jitter buffer keeps the stream continuous.

:class:`CallAudio` is driven through its public events only, and what it returns goes through
the real serializers' :meth:`serialize`, so the assertions are on the provider's wire
messages. Real espeak-ng speech, real webrtcvad."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from tests.agent.helpers import silence, speech
from tests.harness.ingress import twilio_media, twilio_start, twilio_stop
from voxseal.audio import FRAME_SAMPLES, ulaw_decode
from voxseal.telephony.audio import InboundAudio
from voxseal.telephony.call_audio import (
    END_QUIET_FRAMES,
    MAX_BUFFERED_FRAMES,
    PREBUFFER_FRAMES,
    SPEECH_PEAK,
    CallAudio,
)
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.events import (
    CallerAudio,
    Clear,
    DtmfReceived,
    FlushAudio,
    Mark,
    MarkPlayed,
    OtherTrackAudio,
    OutboundItem,
    PlayAudio,
    StreamStopped,
)
from voxseal.telephony.serializer import ProviderSerializer, WireFrame
from voxseal.telephony.twilio import TwilioSerializer
from voxseal.telephony.vonage import VonageSerializer


def frames_of(pcm: np.ndarray) -> list[np.ndarray]:
    n = len(pcm) // FRAME_SAMPLES
    return [pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


class Call:
    """A CallAudio and the serializer of its stream, as the bridge pairs them; ``now`` is the
    time handed in (the tests' own clock)."""

    def __init__(self, serializer: ProviderSerializer) -> None:
        self.serializer = serializer
        self.now = 0.0
        self.audio = CallAudio(started_at=self.now)
        self.items: list[OutboundItem] = []

    def agent(self, pcm: np.ndarray, identity: str = "agent:a") -> None:
        for f in frames_of(pcm):
            self.items += self.audio.room_audio(identity, f)

    def caller(self, pcm: np.ndarray) -> None:
        for f in frames_of(pcm):
            self.items += self.audio.receive(CallerAudio(f), self.now)

    def wire(self) -> list[WireFrame]:
        """What the provider would be sent since the last call."""
        items, self.items = self.items, []
        out: list[WireFrame] = []
        for item in items:
            out += self.serializer.serialize(item)
        return out

    def sent(self) -> list[dict[str, Any]]:
        out = []
        for frame in self.wire():
            assert isinstance(frame, str)
            out.append(json.loads(frame))
        return out


def twilio_call() -> Call:
    serializer = TwilioSerializer()
    serializer.deserialize(twilio_start("MZ1", "CA1", "t"))
    return Call(serializer)


def vonage_call() -> Call:
    serializer = VonageSerializer()
    serializer.deserialize(
        json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=16000"})
    )
    return Call(serializer)


@pytest.fixture(scope="module")
def reply() -> np.ndarray:
    return speech("Thank you, I have received your card number.")


def test_an_agent_utterance_is_media_then_one_mark(reply: np.ndarray) -> None:
    call = twilio_call()
    call.agent(silence(0.5))  # the agent's idle silence is not sent
    assert call.sent() == []
    for f in frames_of(np.concatenate([reply, silence(1.0)])):
        call.agent(f)
        call.agent(f, identity="caller-2")  # only the agent's voice goes to the phone
    messages = call.sent()
    kinds = [m["event"] for m in messages]
    assert kinds[-1] == "mark" and set(kinds[:-1]) == {"media"} and kinds.count("mark") == 1
    assert messages[-1]["mark"]["name"] == "utterance-1"
    payloads = [base64.b64decode(m["media"]["payload"]) for m in messages[:-1]]
    assert all(len(p) == 160 for p in payloads)
    audio = ulaw_decode(b"".join(payloads))
    # the whole reply (8 kHz) plus at most the quiet that ended it
    assert len(reply) / 6 <= len(audio) <= len(reply) / 6 + (END_QUIET_FRAMES + 2) * 160
    assert np.abs(audio.astype(np.int32)).max() > 3000
    assert call.audio.marks_outstanding == {"utterance-1"}
    assert call.audio.receive(MarkPlayed("utterance-1"), call.now) == []
    assert call.audio.receive(MarkPlayed("not-ours"), call.now) == []
    assert call.audio.receive(MarkPlayed(None), call.now) == []  # a notify without our mark
    assert not call.audio.marks_outstanding and call.audio.marks_played == 1
    assert call.audio.marks_sent == 1


def test_the_utterance_ends_with_flush_then_mark_after_the_quiet(reply: np.ndarray) -> None:
    """The items themselves: audio while the agent speaks, then FlushAudio and Mark exactly
    END_QUIET_FRAMES quiet frames after its last loud one, nothing after."""
    call = twilio_call()
    call.agent(np.concatenate([reply, silence(1.0)]))
    items = call.items
    assert items[-2:] == [FlushAudio(), Mark("utterance-1")]
    assert all(isinstance(i, PlayAudio) for i in items[:-2])
    played = [i for i in items if isinstance(i, PlayAudio)]
    loud = [i for i, p in enumerate(played) if np.abs(p.pcm.astype(np.int32)).max() >= SPEECH_PEAK]
    assert len(played) == loud[-1] + 1 + END_QUIET_FRAMES
    # the next utterance gets the next name
    call.items = []
    call.agent(np.concatenate([reply, silence(1.0)]))
    assert call.items[-1] == Mark("utterance-2")
    assert call.audio.marks_outstanding == {"utterance-1", "utterance-2"}


def test_caller_speaking_over_unplayed_agent_audio_is_barge_in(reply: np.ndarray) -> None:
    call = twilio_call()
    agent = frames_of(np.concatenate([reply, silence(1.0), reply, silence(1.0)]))
    half = len(frames_of(reply)) // 2
    for f in agent[:half]:
        call.agent(f)
    assert {m["event"] for m in call.sent()} == {"media"}
    call.caller(np.concatenate([silence(0.3), speech("wait, stop")]))
    messages = call.sent()
    assert [m["event"] for m in messages] == ["clear"] and messages[0]["streamSid"] == "MZ1"
    assert call.audio.barge_ins == 1
    # the rest of the interrupted utterance is dropped, and no mark is sent for it
    rest = len(frames_of(reply)) + len(frames_of(silence(1.0)))
    for f in agent[half:rest]:
        call.agent(f)
    assert call.sent() == [] and call.audio.marks_sent == 0
    # the agent's next utterance is played again, with its mark
    for f in agent[rest:]:
        call.agent(f)
    kinds = [m["event"] for m in call.sent()]
    assert kinds[0] == "media" and kinds[-1] == "mark" and "clear" not in kinds


def test_caller_speech_over_an_unechoed_mark_is_barge_in(reply: np.ndarray) -> None:
    """The agent finished, but the provider has not played it all yet (no echo): clear."""
    call = twilio_call()
    call.agent(np.concatenate([reply, silence(1.0)]))
    call.sent()
    call.caller(speech("hello there"))
    assert [m["event"] for m in call.sent()] == ["clear"]
    assert call.audio.barge_ins == 1 and not call.audio.marks_outstanding
    # Twilio echoes the cleared mark: no longer ours, not counted as played
    call.audio.receive(MarkPlayed("utterance-1"), call.now)
    assert call.audio.marks_played == 0


def test_caller_speech_with_nothing_unplayed_is_not_barge_in(reply: np.ndarray) -> None:
    call = twilio_call()
    call.agent(np.concatenate([reply, silence(1.0)]))
    call.sent()
    call.audio.receive(MarkPlayed("utterance-1"), call.now)  # the caller has heard it all
    call.caller(speech("hello there"))
    assert call.sent() == [] and call.audio.barge_ins == 0


def test_vonage_leg_sends_binary_l16_and_a_notify(reply: np.ndarray) -> None:
    call = vonage_call()
    call.agent(np.concatenate([reply, silence(1.0)]))
    out = call.wire()
    assert all(isinstance(f, bytes) and len(f) == 640 for f in out[:-1])
    assert isinstance(out[-1], str)
    assert json.loads(out[-1]) == {"action": "notify", "payload": {"mark": "utterance-1"}}
    # the echo comes back through the serializer's neutral parse
    echo = json.dumps({"event": "websocket:notify", "payload": {"mark": "utterance-1"}})
    call.audio.receive(call.serializer.parse(echo), call.now)
    assert call.audio.marks_played == 1 and not call.audio.marks_outstanding


def test_jitter_buffer_is_continuous_and_bounded() -> None:
    call = twilio_call()
    inbound = InboundAudio("mulaw", 8000)
    rng = np.random.default_rng(7)
    ulaw = rng.integers(0, 256, 160 * 40, dtype=np.uint8).tobytes()
    whole = InboundAudio("mulaw", 8000).push(ulaw)

    def drain(n: int) -> list[np.ndarray]:
        return [call.audio.next_room_frame() for _ in range(n)]

    # nothing buffered: silence; then the frames, in order, exactly as decoded in one go
    assert all(not f.any() and len(f) == FRAME_SAMPLES for f in drain(2))
    for i in range(0, len(ulaw), 160):
        call.audio.receive(CallerAudio(inbound.push(ulaw[i : i + 160])), call.now)
    assert call.audio.buffered_frames >= PREBUFFER_FRAMES
    got = np.concatenate(drain(call.audio.buffered_frames))
    assert np.array_equal(got, whole[: len(got)])
    assert call.audio.buffered_frames == 0 and not call.audio.next_room_frame().any()
    # a stalled room keeps at most MAX_BUFFERED_FRAMES, the newest
    for _ in range(3):
        for i in range(0, len(ulaw), 160):
            call.audio.receive(CallerAudio(inbound.push(ulaw[i : i + 160])), call.now)
    assert call.audio.buffered_frames == MAX_BUFFERED_FRAMES
    assert len(drain(MAX_BUFFERED_FRAMES)) == MAX_BUFFERED_FRAMES
    assert call.audio.buffered_frames == 0


def test_the_buffer_refills_to_the_prebuffer_before_playing_again() -> None:
    audio = CallAudio(started_at=0.0)
    tone = (np.arange(FRAME_SAMPLES) % 200 + 1).astype(np.int16)
    for n in range(1, PREBUFFER_FRAMES):
        audio.receive(CallerAudio(tone), now=1.0)
        assert not audio.next_room_frame().any() and audio.buffered_frames == n  # waits
    audio.receive(CallerAudio(tone), now=1.0)
    assert np.array_equal(audio.next_room_frame(), tone)


def test_audio_much_faster_than_real_time_is_a_flood() -> None:
    now = 0.0
    audio = CallAudio(started_at=now)
    frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    for _ in range(50 * 10):  # 10 s of audio over 10 s: real time
        now += 0.02
        audio.receive(CallerAudio(frame), now)
    for _ in range(50 * 4):  # a 4 s burst after a stall is tolerated
        audio.receive(CallerAudio(frame), now)
    with pytest.raises(TelephonyError) as info:
        for _ in range(50 * 30):
            audio.receive(CallerAudio(frame), now)
    assert info.value.reason == "stream_flood" and info.value.close_code == 1008


def test_after_the_stream_stops_nothing_more_is_sent(reply: np.ndarray) -> None:
    call = twilio_call()
    frames = frames_of(np.concatenate([reply, silence(1.0)]))
    half = len(frames_of(reply)) // 2
    call.agent(np.concatenate(frames[:half]))
    assert call.sent()
    event = call.serializer.parse(twilio_stop("MZ1", "CA1", 9))
    assert event == StreamStopped()
    assert call.audio.receive(event, call.now) == []
    call.agent(np.concatenate(frames[half:]))
    assert call.items == [] and call.audio.marks_sent == 0 and not call.audio.marks_outstanding


def test_dtmf_other_tracks_and_counters() -> None:
    audio = CallAudio(started_at=0.0)
    assert audio.receive(DtmfReceived("4"), 0.0) == []
    assert audio.receive(DtmfReceived("#", duration_ms=120), 0.0) == []
    assert "4" not in repr(DtmfReceived("4"))  # digits stay out of logs
    assert audio.receive(OtherTrackAudio("outbound"), 0.0) == []
    audio.receive(CallerAudio(np.zeros(FRAME_SAMPLES, np.int16)), 0.0)
    assert audio.buffered_frames == 1  # the outbound track was not buffered
    assert audio.summary() == {
        "frames_in": 1,
        "marks_sent": 0,
        "marks_played": 0,
        "barge_ins": 0,
        "dtmf_digits": 2,
    }


def test_twilio_frames_parse_into_neutral_events() -> None:
    s = TwilioSerializer()
    started = s.parse(twilio_start("MZ1", "CA1", "tok"))
    assert started.call_id == "CA1" and started.token == "tok"  # type: ignore[union-attr]
    assert "tok" not in repr(started)
    media = s.parse(twilio_media("MZ1", 2, 7, b"\xff" * 160))
    assert isinstance(media, CallerAudio)
    assert (media.chunk, media.timestamp_ms) == (7, 140) and media.pcm.dtype == np.int16
    outbound = json.loads(twilio_media("MZ1", 3, 8, b"\xff" * 160))
    outbound["media"]["track"] = "outbound"
    assert s.parse(json.dumps(outbound)) == OtherTrackAudio("outbound")


def test_vonage_headers_start_the_stream() -> None:
    s = VonageSerializer()
    started = s.parse(
        json.dumps(
            {
                "event": "websocket:connected",
                "content-type": "audio/l16;rate=16000",
                "token": "tok",
                "call": 5,  # not a string: no call id
            }
        )
    )
    assert started.call_id is None and started.token == "tok"  # type: ignore[union-attr]
    assert isinstance(s.parse(bytes(640)), CallerAudio)
    assert s.parse(json.dumps({"event": "websocket:notify", "payload": {}})) == MarkPlayed(None)


@pytest.mark.parametrize("make", [twilio_call, vonage_call])
def test_clear_drops_the_serializers_pending_audio(make: Any) -> None:
    call: Call = make()
    partial: Sequence[WireFrame] = call.serializer.serialize(
        PlayAudio(np.full(100, 3000, np.int16))
    )
    assert list(partial) == []  # less than a frame waits
    assert len(call.serializer.serialize(Clear())) == 1
    assert list(call.serializer.serialize(FlushAudio())) == []  # … and the clear dropped it
