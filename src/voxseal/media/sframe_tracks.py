"""End-to-end encryption of audio frames: PCM → Opus → SFrame on send, the reverse on receive.

Only endpoints (callers, agents, an admitted supervisor) import this module; it is the only
module in :mod:`voxseal.media` that imports :mod:`voxseal.crypto.sframe`. The SFU
(:mod:`voxseal.media.sfu`) is built from :mod:`voxseal.media.encoded` alone, and a test checks
that importing it never loads SFrame.

Shape and why:

* :class:`SFrameAudioTrack` is an aiortc ``MediaStreamTrack`` yielding ``av.Packet``s whose
  bytes are ``SFrame(Opus frame)``. aiortc packs packets without re-encoding, so the RTP payload
  is the SFrame ciphertext — the Encoded Transform model (RFC 9605 §4.1). The whole Opus frame is
  protected (audio needs no clear prefix) with empty metadata: the SFU rewrites SSRC, sequence
  numbers and timestamps, so nothing in the RTP header can be bound end to end.
* It paces itself to real time (one frame per 20 ms on the event loop clock) because aiortc
  sends as fast as ``recv`` returns; RTP timestamps advance by exactly 960 per frame, from the
  frame count, never from wall time, so jitter in the event loop does not show up as timestamp
  jitter. The key can be swapped between frames (:meth:`SFrameAudioTrack.set_sender`) for rekeys.
* :class:`SFrameAudioReceiver` is an encoded-frame sink (see :func:`encoded.tap_encoded_frames`):
  it unprotects, maps the frame's KID to the participant who owns that key, and decodes with a
  per-participant Opus decoder. Attribution comes from the key, not from the SFU's routing, so a
  misrouting gateway cannot make one participant's voice appear as another's.
* Every refused frame (auth failure, replay, unknown key, malformed) is counted by reason and
  reported to ``on_rejected``; it is never decoded. A participant without keys therefore gets a
  rising ``unknown_key`` count and no audio — loud, not silent ciphertext.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.stream import Stream

from voxseal.audio import FRAME_DURATION, FRAME_SAMPLES, PcmFramer
from voxseal.crypto import sframe
from voxseal.crypto.errors import FrameError
from voxseal.media.audio import TIME_BASE, OpusFrameDecoder, OpusFrameEncoder

__all__ = [
    "AudioCallback",
    "E2EEReceiveStats",
    "E2EESendStats",
    "FrameRejected",
    "RejectCallback",
    "SFrameAudioReceiver",
    "SFrameAudioTrack",
]

logger = logging.getLogger(__name__)

#: ``on_audio(participant_id, pcm)``: 20 ms of mono int16 PCM at 48 kHz from one participant
AudioCallback = Callable[[str, np.ndarray], None]


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """One refused frame, for stats subscribers and audit. Carries ids and sizes, never bytes."""

    reason: str
    kid: int | None
    ctr: int | None
    size: int


RejectCallback = Callable[[FrameRejected], None]


@dataclass
class E2EESendStats:
    kid: int | None = None
    frames_sent: int = 0
    bytes_sent: int = 0
    #: sender keys installed over the session (1 + rekeys)
    key_epochs: int = 0


@dataclass
class E2EEReceiveStats:
    frames_received: int = 0
    bytes_received: int = 0
    frames_decrypted: int = 0
    frames_decoded: int = 0
    auth_failures: int = 0
    replays: int = 0
    unknown_key: int = 0
    malformed: int = 0
    decode_errors: int = 0
    #: decrypted frames per participant id
    per_participant: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return self.auth_failures + self.replays + self.unknown_key + self.malformed


class SFrameAudioTrack(MediaStreamTrack):
    """Outbound audio: PCM from ``source`` → Opus → ``sender.protect`` → ``av.Packet``.

    ``source`` is an async iterator of mono int16 PCM chunks of any length (re-framed to 20 ms);
    when it ends, the track ends. There is deliberately no way to send without a sender key.
    """

    kind = "audio"

    def __init__(
        self,
        sender: sframe.Sender,
        source: AsyncIterator[np.ndarray],
        *,
        realtime: bool = True,
        bitrate: int = 32_000,
        on_encoded: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self._sender = sender
        self._source = source
        self._realtime = realtime
        self._encoder = OpusFrameEncoder(bitrate)
        self._framer = PcmFramer()
        self._ready: list[np.ndarray] = []
        self._frames = 0
        self._start: float | None = None
        self._exhausted = False
        #: test/diagnostic hook: sees each clear Opus frame before protection (never logged)
        self._on_encoded = on_encoded
        self.stats = E2EESendStats(kid=sender.kid, key_epochs=1)

    def set_sender(self, sender: sframe.Sender) -> None:
        """Switch to a new sender key (rekey); takes effect on the next frame."""
        self._sender = sender
        self.stats.kid = sender.kid
        self.stats.key_epochs += 1

    async def _next_pcm(self) -> np.ndarray:
        while not self._ready:
            if self._exhausted:
                raise MediaStreamError
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                self._exhausted = True
                last = self._framer.flush()
                if last is not None:
                    self._ready.append(last)
                continue
            self._ready.extend(self._framer.push(np.asarray(chunk)))
        return self._ready.pop(0)

    async def recv(self) -> av.Packet[Stream]:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            pcm = await self._next_pcm()
        except MediaStreamError:
            self.stop()
            raise
        if self._realtime:
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            delay = self._start + self._frames * FRAME_DURATION - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        pts = self._frames * FRAME_SAMPLES
        self._frames += 1
        encoded = self._encoder.encode(pcm)
        # libopus returns one packet per 20 ms frame; join defensively if it ever returns more
        opus = b"".join(encoded)
        if self._on_encoded is not None:
            self._on_encoded(opus)
        protected = self._sender.protect(opus)
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(protected)
        packet = av.Packet(protected)
        packet.pts = pts
        packet.time_base = TIME_BASE
        return packet


class SFrameAudioReceiver:
    """Inbound audio: encoded frame → ``receiver.unprotect`` → Opus decode → ``on_audio``.

    One instance per endpoint; it is the sink of every receive slot, so the replay windows (per
    KID, inside :class:`sframe.Receiver`) cover a frame however it arrives.
    """

    def __init__(
        self,
        receiver: sframe.Receiver,
        *,
        on_audio: AudioCallback | None = None,
        on_rejected: RejectCallback | None = None,
    ) -> None:
        self._receiver = receiver
        self._owners: dict[int, str] = {}
        self._decoders: dict[str, OpusFrameDecoder] = {}
        self.on_audio = on_audio
        self.on_rejected = on_rejected
        self.stats = E2EEReceiveStats()

    def add_key(self, participant_id: str, kid: int, base_key: bytes) -> None:
        """Install a participant's sender key; frames under ``kid`` are attributed to it."""
        self._receiver.add_key(kid, base_key)
        self._owners[kid] = participant_id

    def remove_key(self, kid: int) -> None:
        self._receiver.remove_key(kid)
        self._owners.pop(kid, None)

    def remove_participant(self, participant_id: str) -> None:
        """Forget every key of a participant (they left: their later frames must not decrypt)."""
        for kid in [k for k, p in self._owners.items() if p == participant_id]:
            self.remove_key(kid)
        self._decoders.pop(participant_id, None)

    def _reject(self, exc: FrameError, payload: bytes) -> None:
        s = self.stats
        reason = exc.reason
        if reason == "sframe_auth_failed":
            s.auth_failures += 1
        elif reason == "sframe_replay":
            s.replays += 1
        elif reason == "sframe_unknown_key":
            s.unknown_key += 1
        else:
            s.malformed += 1
        if self.on_rejected is not None:
            self.on_rejected(
                FrameRejected(
                    reason=reason,
                    kid=getattr(exc, "kid", None),
                    ctr=getattr(exc, "ctr", None),
                    size=len(payload),
                )
            )

    def __call__(self, payload: bytes, timestamp: int) -> None:
        """The encoded-frame sink: refuse or decrypt, then decode and deliver."""
        s = self.stats
        s.frames_received += 1
        s.bytes_received += len(payload)
        try:
            opus = self._receiver.unprotect(payload)
            kid = sframe.decode_header(payload)[0]
        except FrameError as exc:
            self._reject(exc, payload)
            return
        s.frames_decrypted += 1
        participant = self._owners.get(kid, f"kid:{kid}")
        s.per_participant[participant] = s.per_participant.get(participant, 0) + 1
        decoder = self._decoders.get(participant)
        if decoder is None:
            decoder = self._decoders[participant] = OpusFrameDecoder()
        try:
            pcm = decoder.decode(opus)
        except (av.FFmpegError, ValueError):
            # authenticated but not Opus: the sender is broken, not the network
            s.decode_errors += 1
            return
        s.frames_decoded += 1
        if self.on_audio is not None and len(pcm):
            self.on_audio(participant, pcm)
