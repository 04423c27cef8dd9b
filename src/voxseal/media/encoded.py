"""Encoded-frame I/O on aiortc: take encoded payloads out of a receiver, put them into a sender.

This is the seam the WebRTC Encoded Transform API gives browsers (``RTCRtpScriptTransform``),
rebuilt on aiortc 1.16, which has no such API. Both directions work on whole encoded frames —
after depacketisation and the jitter buffer on receive, before packetisation on send — so the
bytes here are exactly what SFrame protects (RFC 9605 §4.1).

**Receive** (:func:`tap_encoded_frames`). In ``RTCRtpReceiver._handle_rtp_packet`` aiortc runs
SRTP → RTP parsing → depayload → jitter buffer and then puts ``(codec, JitterFrame)`` on the
receiver's private decoder queue, which a thread drains into the codec picked by the module
global ``get_decoder``. Options considered:

* replacing ``get_decoder`` (or registering a "decoder") is global: every receiver in the process
  would change, including the SFU's, and the decoder runs on a thread, far from the asyncio code
  that must count failures and fire callbacks;
* overriding ``_handle_rtp_packet`` would copy aiortc's RTX/NACK/jitter-buffer logic;
* the decoder queue is the one point where "a complete encoded frame" exists. So we swap **this
  receiver's** queue for a proxy: frames go to our sink (on the event loop, in order), the stop
  sentinel still goes to aiortc's decoder thread so the remote track ends as usual. aiortc's
  decoder therefore never sees media bytes — ciphertext is never decoded as if it were audio.

**Send** (:class:`EncodedAudioTrack`). ``RTCRtpSender._next_encoded_frame`` calls
``track.recv()``; a ``Frame`` is encoded, anything else (an ``av.Packet``) goes through
``Encoder.pack``, which for Opus returns ``[bytes(packet)]`` with the timestamp converted from the
packet's ``pts``/``time_base`` — no re-encoding. So a track that yields packets sends exactly our
bytes as the RTP payload, and aiortc still owns SSRC, sequence numbers, the random timestamp
origin, SRTP and RTCP.

Nothing here imports SFrame: the SFU forwards with these pieces alone.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from av.stream import Stream

from voxseal.audio import FRAME_SAMPLES
from voxseal.media.audio import TIME_BASE
from voxseal.media.errors import MediaError

__all__ = ["EncodedAudioTrack", "EncodedFrameSink", "close_tapped", "tap_encoded_frames"]

logger = logging.getLogger(__name__)

#: ``sink(payload, rtp_timestamp)``: one complete encoded frame; the timestamp is in RTP clock
#: units (48 kHz for Opus) relative to the first frame this receiver saw
EncodedFrameSink = Callable[[bytes, int], None]

_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"


class _PassThroughJitterBuffer:
    """Hands each packet on at once, in arrival order: what a forwarding hop wants.

    aiortc's audio jitter buffer prefetches 4 packets (80 ms) before releasing a frame; an SFU
    that waited for it would add that delay to every call, and reordering is the *endpoint's*
    job (its own jitter buffer still runs). For Opus one RTP packet is one encoded frame, so
    forwarding per packet is still forwarding encoded frames.
    """

    capacity = 1

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        return False, JitterFrame(packet._data, packet.timestamp)


class _EncodedFrameTap:
    """Stands in for one receiver's decoder queue: frames to the sink, stop sentinel onwards."""

    __slots__ = ("_inner", "closed", "errors", "sink")

    def __init__(self, inner: queue.Queue[Any], sink: EncodedFrameSink) -> None:
        self._inner = inner
        self.sink = sink
        self.errors = 0
        self.closed = False

    def close(self) -> None:
        """Queue the stop sentinel now, whether or not aiortc's decoder thread exists yet."""
        if not self.closed:
            self.closed = True
            self._inner.put(None)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # receiver stopping: let aiortc's decoder thread end the track
            self._inner.put(None, block, timeout)
            return
        if self.closed:  # the peer connection is gone; nobody listens any more
            return
        _codec, frame = item
        try:
            self.sink(bytes(frame.data), frame.timestamp)
        except Exception:  # a bug in a sink must not kill aiortc's DTLS receive loop
            self.errors += 1
            logger.exception("encoded-frame sink failed")

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self._inner.get(block, timeout)


def tap_encoded_frames(
    receiver: RTCRtpReceiver, sink: EncodedFrameSink, *, bypass_jitter_buffer: bool = False
) -> None:
    """Route every complete encoded frame of ``receiver`` to ``sink`` instead of its decoder.

    Scoped to this one receiver (no aiortc globals change). Install it before the first RTP
    packet arrives, i.e. right after ``addTransceiver`` / ``setRemoteDescription``; installing
    again replaces the sink. ``bypass_jitter_buffer`` (forwarding hops) delivers each packet on
    arrival instead of after aiortc's 80 ms audio prefetch; frames may then be out of order.
    """
    if bypass_jitter_buffer:
        if not hasattr(receiver, _JITTER_ATTR):
            raise MediaError(
                "aiortc's RTCRtpReceiver layout changed; cannot bypass its jitter buffer",
                reason="encoded_tap_unavailable",
            )
        setattr(receiver, _JITTER_ATTR, _PassThroughJitterBuffer())
    inner = getattr(receiver, _QUEUE_ATTR, None)
    if isinstance(inner, _EncodedFrameTap):
        inner.sink = sink
        return
    if not isinstance(inner, queue.Queue):
        raise MediaError(
            "aiortc's RTCRtpReceiver layout changed; cannot tap encoded frames",
            reason="encoded_tap_unavailable",
        )
    setattr(receiver, _QUEUE_ATTR, _EncodedFrameTap(inner, sink))


async def close_tapped(pc: RTCPeerConnection) -> None:
    """Close ``pc`` and make sure none of its tapped receivers leaves a thread behind.

    aiortc starts a receiver's decoder thread (a non-daemon thread) when DTLS comes up, in a
    task of its own. If ``close()`` lands while that handshake is finishing, the task can start
    the thread *after* the receiver was stopped, and nothing ever tells it to end: one thread
    per such call, and a process that cannot exit. The sentinel queued here ends the thread
    whenever it starts.
    """
    try:
        await pc.close()
    finally:
        for transceiver in pc.getTransceivers():
            tap = getattr(transceiver.receiver, _QUEUE_ATTR, None)
            if isinstance(tap, _EncodedFrameTap):
                tap.close()


class EncodedAudioTrack(MediaStreamTrack):
    """An outbound audio track whose frames are already encoded (``av.Packet`` per RTP payload).

    :meth:`push` is synchronous and never blocks the caller (the SFU's receive path): if the
    consumer (aiortc's sender task) falls ``max_queue`` frames behind, the oldest frame is dropped
    and counted — late audio is worthless and a bounded queue bounds memory per subscriber.

    Timestamps: callers give RTP-clock timestamps of their source, passed through unchanged
    (reordering included: the receiving endpoint's jitter buffer sorts it out). When the source
    changes (an SFU slot re-bound to another publisher) the track re-bases the new source so its
    output continues one frame after the last one, as receivers' jitter buffers expect.
    Timestamps are reduced modulo 2**32 by aiortc's sender, so aiortc's own wrap handling
    (which may add 2**32 on a reordered packet) is harmless.
    """

    kind = "audio"

    def __init__(self, *, max_queue: int = 25) -> None:
        super().__init__()
        self._queue: asyncio.Queue[tuple[av.Packet[Stream], float] | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._source: object = None
        self._offset = 0
        self._last_out: int | None = None
        self.frames_pushed = 0
        self.bytes_pushed = 0
        self.frames_dropped = 0
        #: False while the peer connection is not up: frames pushed then would only go stale
        self.accepting = True
        #: seconds each recent frame waited between push and aiortc's sender taking it
        self.queue_delays: deque[float] = deque(maxlen=4096)

    def push(self, payload: bytes, timestamp: int, *, source: object = None) -> None:
        """Queue one encoded frame for sending (drops the oldest if the queue is full)."""
        if not self.accepting or self.readyState != "live":
            return
        if source is not self._source or self._last_out is None:
            start = 0 if self._last_out is None else self._last_out + FRAME_SAMPLES
            self._offset = start - timestamp
            self._source = source
        out = timestamp + self._offset
        if self._last_out is None or out > self._last_out:
            self._last_out = out
        packet = av.Packet(payload)
        packet.pts = out
        packet.time_base = TIME_BASE
        if self._queue.qsize() >= self._max_queue:
            self._queue.get_nowait()
            self.frames_dropped += 1
        self._queue.put_nowait((packet, time.perf_counter()))
        self.frames_pushed += 1
        self.bytes_pushed += len(payload)

    async def recv(self) -> av.Packet[Stream]:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        packet, pushed = item
        self.queue_delays.append(time.perf_counter() - pushed)
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._queue.put_nowait(None)
        super().stop()
