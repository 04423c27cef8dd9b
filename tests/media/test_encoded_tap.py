"""The encoded-frame tap never leaves aiortc's decoder thread behind.

aiortc starts a receiver's (non-daemon) decoder thread from its connect task when DTLS comes
up. A close that lands while the handshake finishes can stop the receiver *before* that task
starts the thread; nothing then ends it, and the process cannot exit (seen on CI: the test run
finished, then hung at interpreter shutdown on a dozen ``audio-decoder`` threads). These tests
replay that order of events deterministically: close first, then the late ``receive()``.
"""

from __future__ import annotations

import threading

from aiortc import RTCRtpCodecParameters
from aiortc.rtcrtpparameters import RTCRtpDecodingParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack

from voxseal.media.encoded import close_tapped, tap_encoded_frames
from voxseal.media.peer import new_peer_connection

from .helpers import run

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def _late_receive_params() -> RTCRtpReceiveParameters:
    return RTCRtpReceiveParameters(
        codecs=[OPUS], encodings=[RTCRtpDecodingParameters(ssrc=1234, payloadType=111)]
    )


def _as_after_remote_description(receiver: object) -> None:
    """What ``setRemoteDescription`` gives a receiver: the remote track the decoder feeds."""
    receiver._track = RemoteStreamTrack(kind="audio")  # type: ignore[attr-defined]


def _decoder_thread(receiver: object) -> threading.Thread:
    thread = receiver._RTCRtpReceiver__decoder_thread  # type: ignore[attr-defined]
    assert isinstance(thread, threading.Thread) and not thread.daemon
    return thread


def test_a_decoder_thread_started_after_close_still_ends() -> None:
    async def scenario() -> None:
        pc = new_peer_connection()
        transceiver = pc.addTransceiver("audio", direction="recvonly")
        _as_after_remote_description(transceiver.receiver)
        frames: list[bytes] = []
        tap_encoded_frames(transceiver.receiver, lambda payload, ts: frames.append(payload))
        await close_tapped(pc)
        # aiortc's connect task, finishing its DTLS handshake after the close
        await transceiver.receiver.receive(_late_receive_params())
        thread = _decoder_thread(transceiver.receiver)
        thread.join(timeout=5)
        assert not thread.is_alive()
        await transceiver.receiver.stop()
        assert frames == []

    run(scenario())


def test_a_plain_close_would_leave_it_running() -> None:
    """The control: what ``close_tapped`` prevents does happen with aiortc's ``close()``."""

    async def scenario() -> None:
        pc = new_peer_connection()
        transceiver = pc.addTransceiver("audio", direction="recvonly")
        _as_after_remote_description(transceiver.receiver)
        tap_encoded_frames(transceiver.receiver, lambda payload, ts: None)
        await pc.close()
        await transceiver.receiver.receive(_late_receive_params())
        thread = _decoder_thread(transceiver.receiver)
        thread.join(timeout=0.5)
        try:
            assert thread.is_alive()
        finally:
            await transceiver.receiver.stop()  # ends it, so this test leaves nothing behind
        thread.join(timeout=5)
        assert not thread.is_alive()

    run(scenario())
