"""The call bridge's audio logic, without sockets: utterances end in a mark, the caller's
voice over unplayed agent audio is barge-in (``clear``), the jitter buffer keeps the stream
continuous. Real serializers, real espeak-ng speech, real webrtcvad."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import pytest

from tests.agent.helpers import silence, speech
from tests.harness.ingress import twilio_start
from voxseal.media.audio import FRAME_SAMPLES
from voxseal.telephony.audio import InboundAudio, ulaw_decode
from voxseal.telephony.bridge import (
    END_QUIET_FRAMES,
    MAX_BUFFERED_FRAMES,
    PREBUFFER_FRAMES,
    CallBridge,
    TwilioLeg,
    VonageLeg,
)
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.twilio import TwilioSerializer
from voxseal.telephony.vonage import VonageSerializer


class _NoIngress:
    """The bridge only touches the ingress in start(), which these tests do not call."""


def frames_of(pcm: np.ndarray) -> list[np.ndarray]:
    n = len(pcm) // FRAME_SAMPLES
    return [pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


def twilio_bridge() -> CallBridge:
    serializer = TwilioSerializer()
    serializer.deserialize(twilio_start("MZ1", "CA1", "t"))

    async def send(frame: Any) -> None:  # pragma: no cover - no pump in these tests
        raise AssertionError("not used")

    return CallBridge(_NoIngress(), TwilioLeg(serializer), send, call_id="CA1", subject_id=None)  # type: ignore[arg-type]


def sent(bridge: CallBridge) -> list[dict[str, Any]]:
    out = []
    while not bridge._out.empty():
        frame = bridge._out.get_nowait()
        assert isinstance(frame, str)
        out.append(json.loads(frame))
    return out


@pytest.fixture(scope="module")
def reply() -> np.ndarray:
    return speech("Thank you, I have received your card number.")


def test_an_agent_utterance_is_media_then_one_mark(reply: np.ndarray) -> None:
    bridge = twilio_bridge()
    for f in frames_of(silence(0.5)):  # the agent's idle silence is not sent
        bridge._on_room_audio("agent:a", f)
    assert sent(bridge) == []
    for f in frames_of(np.concatenate([reply, silence(1.0)])):
        bridge._on_room_audio("agent:a", f)
        bridge._on_room_audio("caller-2", f)  # only the agent's voice goes to the phone
    messages = sent(bridge)
    kinds = [m["event"] for m in messages]
    assert kinds[-1] == "mark" and set(kinds[:-1]) == {"media"} and kinds.count("mark") == 1
    assert messages[-1]["mark"]["name"] == "utterance-1"
    payloads = [base64.b64decode(m["media"]["payload"]) for m in messages[:-1]]
    assert all(len(p) == 160 for p in payloads)
    audio = ulaw_decode(b"".join(payloads))
    # the whole reply (8 kHz) plus at most the quiet that ended it
    assert len(reply) / 6 <= len(audio) <= len(reply) / 6 + (END_QUIET_FRAMES + 2) * 160
    assert np.abs(audio.astype(np.int32)).max() > 3000
    assert bridge.marks_outstanding == {"utterance-1"}
    bridge.mark_played("utterance-1")
    bridge.mark_played("not-ours")
    assert not bridge.marks_outstanding and bridge.marks_played == 1


def test_caller_speaking_over_unplayed_agent_audio_is_barge_in(reply: np.ndarray) -> None:
    bridge = twilio_bridge()
    agent = frames_of(np.concatenate([reply, silence(1.0), reply, silence(1.0)]))
    half = len(frames_of(reply)) // 2
    for f in agent[:half]:
        bridge._on_room_audio("agent:a", f)
    assert {m["event"] for m in sent(bridge)} == {"media"}
    for f in frames_of(silence(0.3)) + frames_of(speech("wait, stop")):
        bridge.caller_audio(f)
    messages = sent(bridge)
    assert [m["event"] for m in messages] == ["clear"] and messages[0]["streamSid"] == "MZ1"
    assert bridge.barge_ins == 1
    # the rest of the interrupted utterance is dropped, and no mark is sent for it
    rest = len(frames_of(reply)) + len(frames_of(silence(1.0)))
    for f in agent[half:rest]:
        bridge._on_room_audio("agent:a", f)
    assert sent(bridge) == []
    # the agent's next utterance is played again, with its mark
    for f in agent[rest:]:
        bridge._on_room_audio("agent:a", f)
    kinds = [m["event"] for m in sent(bridge)]
    assert kinds[0] == "media" and kinds[-1] == "mark" and "clear" not in kinds


def test_caller_speech_with_nothing_unplayed_is_not_barge_in(reply: np.ndarray) -> None:
    bridge = twilio_bridge()
    for f in frames_of(np.concatenate([reply, silence(1.0)])):
        bridge._on_room_audio("agent:a", f)
    sent(bridge)
    bridge.mark_played("utterance-1")  # the caller has heard it all
    for f in frames_of(speech("hello there")):
        bridge.caller_audio(f)
    assert sent(bridge) == [] and bridge.barge_ins == 0


def test_vonage_leg_sends_binary_l16_and_a_notify(reply: np.ndarray) -> None:
    serializer = VonageSerializer()
    serializer.deserialize(
        json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=16000"})
    )

    async def send(frame: Any) -> None:  # pragma: no cover
        raise AssertionError("not used")

    bridge = CallBridge(_NoIngress(), VonageLeg(serializer), send, call_id="u", subject_id=None)  # type: ignore[arg-type]
    for f in frames_of(np.concatenate([reply, silence(1.0)])):
        bridge._on_room_audio("agent:a", f)
    out = []
    while not bridge._out.empty():
        out.append(bridge._out.get_nowait())
    assert all(isinstance(f, bytes) and len(f) == 640 for f in out[:-1])
    assert json.loads(out[-1]) == {"action": "notify", "payload": {"mark": "utterance-1"}}


def test_jitter_buffer_is_continuous_and_bounded() -> None:
    bridge = twilio_bridge()
    inbound = InboundAudio("mulaw", 8000)
    rng = np.random.default_rng(7)
    ulaw = rng.integers(0, 256, 160 * 40, dtype=np.uint8).tobytes()
    whole = InboundAudio("mulaw", 8000).push(ulaw)

    async def drain(n: int) -> list[np.ndarray]:
        gen = bridge._frames()
        return [await anext(gen) for _ in range(n)]

    # nothing buffered: silence; then the frames, in order, exactly as decoded in one go
    assert all(not f.any() for f in asyncio.run(drain(2)))
    for i in range(0, len(ulaw), 160):
        bridge.caller_audio(inbound.push(ulaw[i : i + 160]))
    assert len(bridge._in_frames) >= PREBUFFER_FRAMES
    got = np.concatenate(asyncio.run(drain(len(bridge._in_frames))))
    assert np.array_equal(got, whole[: len(got)])
    # a stalled room keeps at most MAX_BUFFERED_FRAMES, the newest
    for _ in range(3):
        for i in range(0, len(ulaw), 160):
            bridge.caller_audio(inbound.push(ulaw[i : i + 160]))
    assert len(bridge._in_frames) == MAX_BUFFERED_FRAMES


def test_audio_much_faster_than_real_time_is_a_flood() -> None:
    now = [0.0]
    serializer = TwilioSerializer()
    serializer.deserialize(twilio_start("MZ1", "CA1", "t"))

    async def send(frame: Any) -> None:  # pragma: no cover
        raise AssertionError("not used")

    bridge = CallBridge(
        _NoIngress(),  # type: ignore[arg-type]
        TwilioLeg(serializer),
        send,
        call_id="CA1",
        subject_id=None,
        clock=lambda: now[0],
    )
    frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    for _ in range(50 * 10):  # 10 s of audio over 10 s: real time
        now[0] += 0.02
        bridge.caller_audio(frame)
    for _ in range(50 * 4):  # a 4 s burst after a stall is tolerated
        bridge.caller_audio(frame)
    with pytest.raises(TelephonyError) as info:
        for _ in range(50 * 30):
            bridge.caller_audio(frame)
    assert info.value.reason == "stream_flood" and info.value.close_code == 1008
