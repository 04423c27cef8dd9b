"""A WebRTC media endpoint with end-to-end encrypted audio: what callers, agents and the SDK use.

One :class:`MediaEndpoint` is one participant's side of one peer connection — to the SFU in
production, or directly to another endpoint in tests. It owns:

* the SFrame keys (its own :class:`~voxseal.crypto.sframe.Sender`, the other participants'
  keys in one :class:`~voxseal.crypto.sframe.Receiver`), installed by whoever runs key
  agreement (the SDK);
* one *publish* m-line (``sendonly``) carrying
  :class:`~voxseal.media.sframe_tracks.SFrameAudioTrack`;
* ``receive_slots`` *receive* m-lines (``recvonly``). The SFU binds each subscription to a free
  slot; slots are negotiated up front so subscribing needs no SDP renegotiation, which aiortc
  supports poorly and which would add a round trip to every join. Which slot carries whom does
  not matter: audio is attributed by SFrame KID, i.e. by who holds the key.

Negotiation is plain offer/answer over SDP strings (no trickle ICE; aiortc gathers first), so
the signaling layer only relays two strings. Either side can offer; when an endpoint *answers*
(the direct two-participant case), it publishes on the offerer's first receive slot.

Security posture: publishing without a sender key raises :class:`E2EENotReady` (no clear audio,
ever); SRTP is restricted to AEAD profiles by default; every refused frame is counted and
reported through ``on_rejected``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from aiortc import RTCIceServer, RTCSessionDescription

from voxseal.crypto import sframe
from voxseal.media.encoded import close_tapped, tap_encoded_frames
from voxseal.media.errors import E2EENotReady, NegotiationFailed
from voxseal.media.peer import new_peer_connection, offered_directions, prefer_opus, wait_connected
from voxseal.media.sframe_tracks import (
    AudioCallback,
    E2EEReceiveStats,
    E2EESendStats,
    RejectCallback,
    SFrameAudioReceiver,
    SFrameAudioTrack,
)
from voxseal.media.srtp import SrtpMonitor, secure_transports

__all__ = ["EndpointStats", "MediaEndpoint"]

logger = logging.getLogger(__name__)

DEFAULT_SUITE = sframe.CipherSuite.AES_128_GCM_SHA256_128


@dataclass
class EndpointStats:
    """A snapshot of one endpoint's media session (safe to log: ids and counters only)."""

    participant_id: str
    connection_state: str
    srtp_profile: str | None
    srtp_rtp_failures: int
    srtp_rtcp_failures: int
    send: E2EESendStats | None
    receive: E2EEReceiveStats
    rtp_packets_received: int = 0
    rtp_packets_lost: int = 0
    #: interarrival jitter in RTP clock units (48 kHz), max over received streams
    rtp_jitter: int = 0
    participant_kids: dict[int, str] = field(default_factory=dict)


async def _aiter(source: AsyncIterable[np.ndarray]) -> AsyncIterator[np.ndarray]:
    async for chunk in source:
        yield chunk


class MediaEndpoint:
    """One participant's E2EE audio session over one aiortc peer connection."""

    def __init__(
        self,
        participant_id: str,
        *,
        cipher_suite: int = DEFAULT_SUITE,
        receive_slots: int = 1,
        aead_srtp_only: bool = True,
        realtime: bool = True,
        ice_servers: Sequence[RTCIceServer] = (),
        on_audio: AudioCallback | None = None,
        on_rejected: RejectCallback | None = None,
        receiver: sframe.Receiver | None = None,
    ) -> None:
        """``receiver``: share the SFrame receiver of a key manager (the SDK's E2EE session), so
        keys it retires are gone from the media path too — one key store, not two."""
        self.participant_id = participant_id
        self._suite = cipher_suite
        self._receive_slots = receive_slots
        self._aead_only = aead_srtp_only
        self._realtime = realtime
        self._pc = new_peer_connection(ice_servers)
        self._sender: sframe.Sender | None = None
        self._track: SFrameAudioTrack | None = None
        self._srtp: SrtpMonitor | None = None
        self._audio = SFrameAudioReceiver(
            receiver or sframe.Receiver(cipher_suite), on_audio=on_audio, on_rejected=on_rejected
        )
        self._kids: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"MediaEndpoint({self.participant_id!r}, state={self._pc.connectionState})"

    # --- callbacks ---------------------------------------------------------------------------

    @property
    def on_audio(self) -> AudioCallback | None:
        return self._audio.on_audio

    @on_audio.setter
    def on_audio(self, callback: AudioCallback | None) -> None:
        self._audio.on_audio = callback

    @property
    def on_rejected(self) -> RejectCallback | None:
        return self._audio.on_rejected

    @on_rejected.setter
    def on_rejected(self, callback: RejectCallback | None) -> None:
        self._audio.on_rejected = callback

    # --- keys --------------------------------------------------------------------------------

    def set_sender_key(self, kid: int, base_key: bytes) -> None:
        """Install (or rotate to) this endpoint's sender key; the next frame uses it."""
        self._sender = sframe.Sender(self._suite, kid, base_key)
        if self._track is not None:
            self._track.set_sender(self._sender)

    def use_sender(self, sender: sframe.Sender) -> None:
        """Publish with a :class:`Sender` owned by a key schedule (the SDK's E2EE session).

        Sharing the object, not its key, matters: two Senders with one key and KID would both
        count from 0 and reuse AES-GCM nonces.
        """
        self._sender = sender
        if self._track is not None:
            self._track.set_sender(sender)

    def add_participant_key(self, participant_id: str, kid: int, base_key: bytes) -> None:
        """Accept a participant's sender key: its frames under ``kid`` decrypt, attributed to it."""
        self._audio.add_key(participant_id, kid, base_key)
        self._kids[kid] = participant_id

    def remove_participant(self, participant_id: str) -> None:
        """Drop every key of a participant (it left or was removed); later frames are refused."""
        self._audio.remove_participant(participant_id)
        self._kids = {k: p for k, p in self._kids.items() if p != participant_id}

    # --- media -------------------------------------------------------------------------------

    def publish(
        self,
        source: AsyncIterable[np.ndarray],
        *,
        on_encoded: Callable[[bytes], None] | None = None,
    ) -> SFrameAudioTrack:
        """Publish PCM (async iterable of mono int16 chunks at 48 kHz); call before negotiating.

        Raises :class:`E2EENotReady` if no sender key is installed: there is no clear fallback.
        ``on_encoded`` (diagnostics/tests) sees each clear Opus frame before protection.
        """
        if self._sender is None:
            raise E2EENotReady("set a sender key before publishing")
        if self._track is not None:
            raise NegotiationFailed("this endpoint already publishes a track")
        self._track = SFrameAudioTrack(
            self._sender, _aiter(source), realtime=self._realtime, on_encoded=on_encoded
        )
        return self._track

    # --- negotiation -------------------------------------------------------------------------

    def _tap_all_receivers(self) -> None:
        for transceiver in self._pc.getTransceivers():
            tap_encoded_frames(transceiver.receiver, self._audio)

    async def create_offer(self) -> str:
        """Offer: one ``sendonly`` m-line if publishing, then ``receive_slots`` ``recvonly``."""
        if self._track is not None:
            prefer_opus(self._pc.addTransceiver(self._track, direction="sendonly"))
        for _ in range(self._receive_slots):
            prefer_opus(self._pc.addTransceiver("audio", direction="recvonly"))
        if not self._pc.getTransceivers():
            raise NegotiationFailed("nothing to negotiate: no publish track and no receive slot")
        self._tap_all_receivers()
        await self._pc.setLocalDescription(await self._pc.createOffer())
        return self._pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        """Apply the answer to our offer; DTLS-SRTP starts in the background."""
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except NegotiationFailed:
            raise
        except Exception as exc:
            raise NegotiationFailed(f"answer refused: {type(exc).__name__}: {exc}") from None
        # no await between setRemoteDescription and this: DTLS has not started yet
        self._srtp = secure_transports(self._pc, aead_only=self._aead_only)

    async def accept_offer(self, sdp: str) -> str:
        """Answer another endpoint's offer (direct use, no SFU); returns the answer SDP."""
        directions = offered_directions(sdp)
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            raise NegotiationFailed(f"offer refused: {type(exc).__name__}: {exc}") from None
        self._srtp = secure_transports(self._pc, aead_only=self._aead_only)
        self._tap_all_receivers()
        if self._track is not None:
            for transceiver in self._pc.getTransceivers():
                if directions.get(transceiver.mid or "") == "recvonly":  # no mid: not offered
                    transceiver.sender.replaceTrack(self._track)
                    transceiver.direction = "sendonly"
                    break
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        return self._pc.localDescription.sdp

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await wait_connected(self._pc, timeout)

    # --- stats and teardown --------------------------------------------------------------------

    @property
    def publishing(self) -> bool:
        """True while the published source still produces audio."""
        return self._track is not None and self._track.readyState == "live"

    @property
    def receive_stats(self) -> E2EEReceiveStats:
        """Live E2EE receive counters (no await needed; :meth:`stats` adds transport stats)."""
        return self._audio.stats

    async def stats(self) -> EndpointStats:
        received = lost = jitter = 0
        if self._pc.connectionState != "closed":
            report = await self._pc.getStats()
            for s in report.values():
                if getattr(s, "type", None) == "inbound-rtp":
                    received += s.packetsReceived
                    lost += s.packetsLost
                    jitter = max(jitter, s.jitter)
        srtp = self._srtp or SrtpMonitor()
        return EndpointStats(
            participant_id=self.participant_id,
            connection_state=self._pc.connectionState,
            srtp_profile=srtp.profile,
            srtp_rtp_failures=srtp.rtp_failures,
            srtp_rtcp_failures=srtp.rtcp_failures,
            send=copy.deepcopy(self._track.stats) if self._track is not None else None,
            receive=copy.deepcopy(self._audio.stats),
            rtp_packets_received=received,
            rtp_packets_lost=lost,
            rtp_jitter=jitter,
            participant_kids=dict(self._kids),
        )

    async def close(self) -> None:
        if self._track is not None:
            self._track.stop()
        await close_tapped(self._pc)
        # let aiortc's decoder threads and tasks unwind before the loop moves on
        await asyncio.sleep(0)
