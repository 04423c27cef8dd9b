"""The blind SFU: terminates DTLS-SRTP with each participant, forwards SFrame ciphertext.

The gateway must route voice it cannot read. This module is the whole forwarding path, and it
is built so that it *cannot* read it:

* **No SFrame in the module graph.** It imports :mod:`voxseal.media.encoded`,
  :mod:`~voxseal.media.peer`, :mod:`~voxseal.media.srtp`, :mod:`~voxseal.audio` (constants)
  and :mod:`~voxseal.media.errors` — never :mod:`voxseal.crypto` (whose package import loads
  SFrame). A test imports this module in a fresh interpreter and checks ``voxseal.crypto`` is not
  loaded; :func:`forbid_sframe` lets a gateway process make that a hard rule (importing SFrame
  afterwards raises), and a test runs a whole SFU in such a process.
* **No key parameter anywhere.** The API takes SDP and participant ids; the forward path is
  "bytes in, the same bytes out" — it never parses, decodes or decrypts a payload.
* **Encoded-frame forwarding.** Each publisher's receiver is tapped after SRTP and
  depacketisation (:func:`~voxseal.media.encoded.tap_encoded_frames`, bypassing aiortc's 80 ms
  audio jitter buffer: reordering is the endpoints' job, an SFU forwards on arrival; one Opus
  RTP packet is one encoded frame), and each payload is pushed unchanged into
  the subscribers' :class:`~voxseal.media.encoded.EncodedAudioTrack`s, which aiortc packetises
  with fresh SSRC/sequence numbers and re-protects with that hop's SRTP keys. So every hop has
  its own DTLS-SRTP session (AEAD-only by default) while the SFrame layer passes end to end.

Sessions and subscriptions: each participant offers one publish m-line (``sendonly`` or
``sendrecv``) and N receive slots (``recvonly``); :meth:`Sfu.subscribe` binds a publisher to a
free slot of the subscriber. Unsubscribed slots carry nothing, and nothing is queued for a
subscriber whose connection is not up (it would only arrive stale). Slots are negotiated up front to
avoid SDP renegotiation on every join (aiortc renegotiation is fragile, and it costs a round
trip); rooms decide who subscribes to whom (grants), the SFU only obeys.

**The fast path** (:mod:`voxseal.media.fastpath`, on by default): once a participant's ICE + DTLS
are up, its RTP no longer goes through aiortc per packet — the SFU unprotects it with the
DTLS-derived SRTP session, rewrites SSRC/PT/sequence/timestamp for each subscriber slot and
re-protects it straight onto the subscriber's selected ICE pair, in the socket callback. aiortc
keeps STUN, DTLS and RTCP. The encoded-frame path above remains for the moments before a session
is connected, for ``Sfu(fast_path=False)``, and as the fallback if aiortc's internals move.
Both paths forward the same bytes: the RTP payload, i.e. the SFrame ciphertext.

Stats per session: frames/bytes in (published) and out (forwarded to it), frames dropped on a
slow subscriber, the negotiated SRTP profile, SRTP/SRTCP authentication failures, RTP loss and
jitter from aiortc's receiver reports. ``on_frame`` lets a monitor (or a test) observe each
forwarded payload's size and bytes — bytes which are SFrame ciphertext by construction.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCIceServer, RTCPeerConnection, RTCSessionDescription

from voxseal.media.encoded import EncodedAudioTrack, close_tapped, tap_encoded_frames
from voxseal.media.errors import (
    MediaError,
    NegotiationFailed,
    NoReceiveSlot,
    UnknownParticipant,
)
from voxseal.media.fastpath import FastPath, SlotParams, slot_params
from voxseal.media.peer import new_peer_connection, offered_directions, wait_connected
from voxseal.media.srtp import SrtpMonitor, secure_transports

__all__ = ["FrameObserver", "Sfu", "SfuSessionStats", "forbid_sframe", "sframe_forbidden"]

#: ``on_frame(publisher_id, payload)``: sees every forwarded payload (read-only; keep it cheap)
FrameObserver = Callable[[str, bytes], None]

_FORBIDDEN = ("voxseal.crypto",)

logger = logging.getLogger(__name__)


class _RefuseCrypto(importlib.abc.MetaPathFinder):
    """A meta-path finder that refuses the E2EE core in a gateway process."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if any(fullname == m or fullname.startswith(m + ".") for m in _FORBIDDEN):
            raise ImportError(f"{fullname} is not importable in an SFU process (no SFrame keys)")
        return None


def forbid_sframe() -> None:
    """Make this process unable to import SFrame (call early in an SFU-only process).

    Raises :class:`MediaError` if the E2EE core is already loaded — then the process is not
    an SFU-only process and pretending otherwise would be a false guarantee.
    """
    loaded = [m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in _FORBIDDEN)]
    if loaded:
        raise MediaError(
            f"SFrame already imported in this process ({', '.join(sorted(loaded))})",
            reason="sframe_present",
        )
    if not any(isinstance(f, _RefuseCrypto) for f in sys.meta_path):
        sys.meta_path.insert(0, _RefuseCrypto())


def sframe_forbidden() -> bool:
    """True if :func:`forbid_sframe` is in force in this process."""
    return any(isinstance(f, _RefuseCrypto) for f in sys.meta_path)


@dataclass
class SfuSessionStats:
    """One participant's session as the gateway sees it: metadata and counters, no content."""

    participant_id: str
    connection_state: str
    srtp_profile: str | None
    srtp_rtp_failures: int
    srtp_rtcp_failures: int
    #: encoded frames (= RTP packets for Opus) and payload bytes published by this participant
    packets_in: int = 0
    bytes_in: int = 0
    #: frames and bytes forwarded to this participant (its subscriptions)
    packets_out: int = 0
    bytes_out: int = 0
    #: frames dropped because this subscriber's send queue was full
    packets_dropped: int = 0
    rtp_packets_lost: int = 0
    rtp_jitter: int = 0
    subscriptions: list[str] = field(default_factory=list)
    free_slots: int = 0
    #: time forwarded frames spent in the SFU, recent frames: on the fast path from datagram
    #: arrival to ``sendto`` done (unprotect, rewrite, protect included; event-loop queueing
    #: before the socket callback is not); on aiortc's path from the tap to this subscriber's
    #: RTP sender (its SRTP protect + send excluded)
    relay_delay_p50_ms: float | None = None
    relay_delay_p99_ms: float | None = None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Session:
    __slots__ = (
        "bytes_in",
        "packets_in",
        "participant_id",
        "pc",
        "publishes",
        "slot_owner",
        "slot_params",
        "slots",
        "srtp",
        "tap_seq",
    )

    def __init__(self, participant_id: str, pc: RTCPeerConnection) -> None:
        self.participant_id = participant_id
        self.pc = pc
        self.srtp: SrtpMonitor | None = None
        self.publishes = False
        #: receive slots by mid, in offer order
        self.slots: dict[str, EncodedAudioTrack] = {}
        #: mid -> publisher currently bound to it
        self.slot_owner: dict[str, str] = {}
        self.packets_in = 0
        self.bytes_in = 0
        #: what the fast path needs per slot (our SSRC, the peer's Opus PT), from our answer
        self.slot_params: dict[str, SlotParams] = {}
        #: sequence numbers for frames that reach fast-path subscribers from aiortc's path
        self.tap_seq = 0


def bind_slot(
    slots: Iterable[str], slot_owner: dict[str, str], subscriber_id: str, publisher_id: str
) -> tuple[str, bool]:
    """The subscription rule, once for the SFU and for the worker pool's mirror of it:
    a publisher keeps the slot it is bound to, else takes the first free slot in offer order.

    Returns ``(mid, newly_bound)``; raises :class:`NoReceiveSlot` when every slot is taken.
    """
    for mid, owner in slot_owner.items():
        if owner == publisher_id:
            return mid, False
    free = next((mid for mid in slots if mid not in slot_owner), None)
    if free is None:
        raise NoReceiveSlot(f"{subscriber_id!r} has no free receive slot")
    slot_owner[free] = publisher_id
    return free, True


class Sfu:
    """Selective forwarding of SFrame-protected audio between participants of one room.

    One instance per room (or per worker process holding several rooms: participant ids must
    then be unique across them). All methods run on the event loop that owns the peer
    connections.
    """

    def __init__(
        self,
        *,
        aead_srtp_only: bool = True,
        ice_servers: Sequence[RTCIceServer] = (),
        on_frame: FrameObserver | None = None,
        fast_path: bool = True,
    ) -> None:
        """``fast_path=False`` keeps every packet on aiortc's encoded-frame path (slower; for
        comparison and as an escape hatch should aiortc's internals change)."""
        self._aead_only = aead_srtp_only
        self._ice_servers = tuple(ice_servers)
        self._sessions: dict[str, _Session] = {}
        #: publisher id -> {subscriber id: the subscriber's slot mid}
        self._fanout: dict[str, dict[str, str]] = {}
        self._fast = FastPath() if fast_path else None
        self.on_frame = on_frame

    @property
    def on_frame(self) -> FrameObserver | None:
        return self._on_frame

    @on_frame.setter
    def on_frame(self, observer: FrameObserver | None) -> None:
        self._on_frame = observer
        if self._fast is not None:
            self._fast.on_frame = observer

    @property
    def fast_path_sessions(self) -> list[str]:
        """Participants whose RTP currently bypasses aiortc (diagnostics, tests)."""
        if self._fast is None:
            return []
        return [pid for pid in self._sessions if pid in self._fast]

    @property
    def participants(self) -> list[str]:
        return list(self._sessions)

    def _session(self, participant_id: str) -> _Session:
        try:
            return self._sessions[participant_id]
        except KeyError:
            raise UnknownParticipant(f"no media session for {participant_id!r}") from None

    # --- sessions ------------------------------------------------------------------------------

    async def add_participant(self, participant_id: str, offer_sdp: str) -> str:
        """Terminate a participant's peer connection: apply its offer, return our answer."""
        if participant_id in self._sessions:
            raise NegotiationFailed(f"{participant_id!r} already has a media session")
        directions = offered_directions(offer_sdp)
        pc = new_peer_connection(self._ice_servers)
        session = _Session(participant_id, pc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            # no await until the tap and the SRTP policy are in place: DTLS starts on the next
            session.srtp = secure_transports(pc, aead_only=self._aead_only)
            for transceiver in pc.getTransceivers():
                # no mid: not among the offer's directions, so inactive (never a slot)
                mid = transceiver.mid or ""
                offered = directions.get(mid, "inactive")
                publish = offered in ("sendonly", "sendrecv") and not session.publishes
                slot = offered in ("recvonly", "sendrecv")
                if publish:
                    session.publishes = True
                    tap_encoded_frames(
                        transceiver.receiver, self._sink(participant_id), bypass_jitter_buffer=True
                    )
                if slot:
                    track = EncodedAudioTrack()
                    track.accepting = False
                    session.slots[mid] = track
                    transceiver.sender.replaceTrack(track)
                transceiver.direction = (
                    "sendrecv"
                    if publish and slot
                    else "recvonly"
                    if publish
                    else "sendonly"
                    if slot
                    else "inactive"
                )
            await pc.setLocalDescription(await pc.createAnswer())
            session.slot_params = {
                mid: p
                for mid, p in slot_params(pc.localDescription.sdp).items()
                if mid in session.slots
            }

            def on_state() -> None:
                up = pc.connectionState == "connected"
                for track in session.slots.values():
                    track.accepting = up
                if self._fast is None:
                    return
                if up:
                    self._attach(session)
                elif pc.connectionState in ("failed", "closed"):
                    self._fast.detach(participant_id)

            pc.on("connectionstatechange", on_state)
            on_state()
        except MediaError:
            await close_tapped(pc)
            raise
        except Exception as exc:
            await close_tapped(pc)
            raise NegotiationFailed(f"offer refused: {type(exc).__name__}: {exc}") from None
        self._sessions[participant_id] = session
        self._fanout.setdefault(participant_id, {})
        return pc.localDescription.sdp

    def _attach(self, session: _Session) -> None:
        """Move a connected session's RTP to the fast path and link its subscriptions."""
        assert self._fast is not None
        pid = session.participant_id
        if pid in self._fast or self._sessions.get(pid) is not session:
            return
        try:
            self._fast.attach(pid, session.pc, session.srtp or SrtpMonitor(), session.slot_params)
        except MediaError as exc:  # stay on aiortc's path rather than forward blindly
            logger.warning("fast path not available for a session: %s", exc)
            return
        for mid, owner in session.slot_owner.items():
            self._fast.link(pid, mid, owner)
        for sub_id, mid in self._fanout.get(pid, {}).items():
            self._fast.link(sub_id, mid, pid)

    async def wait_connected(self, participant_id: str, timeout: float = 10.0) -> None:
        await wait_connected(self._session(participant_id).pc, timeout)

    async def remove_participant(self, participant_id: str) -> None:
        """Close a participant's session; nobody receives from it, it receives from nobody."""
        session = self._sessions.pop(participant_id, None)
        if session is None:
            return
        if self._fast is not None:
            self._fast.detach(participant_id)
        self._fanout.pop(participant_id, None)
        for subscribers in self._fanout.values():
            subscribers.pop(participant_id, None)
        for other in self._sessions.values():
            for mid, owner in list(other.slot_owner.items()):
                if owner == participant_id:
                    del other.slot_owner[mid]
        for track in session.slots.values():
            track.stop()
        await close_tapped(session.pc)

    async def close(self) -> None:
        for participant_id in list(self._sessions):
            await self.remove_participant(participant_id)

    # --- subscriptions -----------------------------------------------------------------------

    def subscribe(self, subscriber_id: str, publisher_id: str) -> str:
        """Forward ``publisher_id``'s audio to ``subscriber_id``; returns the slot's mid.

        Idempotent. Raises :class:`UnknownParticipant` or :class:`NoReceiveSlot`.
        """
        if subscriber_id == publisher_id:
            raise MediaError("a participant does not subscribe to itself", reason="self_subscribe")
        subscriber = self._session(subscriber_id)
        self._session(publisher_id)
        free, new = bind_slot(subscriber.slots, subscriber.slot_owner, subscriber_id, publisher_id)
        if not new:
            return free
        self._fanout[publisher_id][subscriber_id] = free
        if self._fast is not None:
            self._fast.link(subscriber_id, free, publisher_id)
        return free

    def unsubscribe(self, subscriber_id: str, publisher_id: str) -> None:
        """Stop forwarding ``publisher_id`` to ``subscriber_id`` (frees the slot)."""
        subscriber = self._session(subscriber_id)
        self._fanout.get(publisher_id, {}).pop(subscriber_id, None)
        for mid, owner in list(subscriber.slot_owner.items()):
            if owner == publisher_id:
                del subscriber.slot_owner[mid]
                if self._fast is not None:
                    self._fast.unlink(subscriber_id, mid)

    # --- the forwarding fast path ------------------------------------------------------------

    def _sink(self, publisher_id: str) -> Callable[[bytes, int], None]:
        def sink(payload: bytes, timestamp: int) -> None:
            self.forward(publisher_id, payload, timestamp)

        return sink

    def forward(self, publisher_id: str, payload: bytes, timestamp: int) -> None:
        """Forward one encoded frame from ``publisher_id`` to its subscribers, unchanged.

        Called by the publisher's receiver tap while it is on aiortc's path (fast-path packets
        never come here). It is public so that a gateway-side component (and the tests that
        play a compromised SFU) can inject frames: the receivers' SFrame layer, not this SFU,
        decides what is authentic. ``timestamp`` is in 48 kHz RTP units; outbound streams stay
        continuous whichever path a frame takes.
        """
        session = self._sessions.get(publisher_id)
        if session is None:
            return
        session.packets_in += 1
        session.bytes_in += len(payload)
        if self._on_frame is not None:
            self._on_frame(publisher_id, payload)
        fast = self._fast
        if fast is not None and publisher_id in fast:
            fast.inject(publisher_id, payload, timestamp)  # to its fast-path subscribers
        for sub_id, mid in self._fanout[publisher_id].items():
            if fast is None or (sub_fast := fast.get(sub_id)) is None:
                self._sessions[sub_id].slots[mid].push(payload, timestamp, source=publisher_id)
            elif publisher_id not in fast:
                session.tap_seq = (session.tap_seq + 1) & 0xFFFF
                fast.send_to([sub_fast.slots[mid]], session, session.tap_seq, timestamp, payload)

    # --- stats ---------------------------------------------------------------------------------

    async def stats_all(self) -> list[SfuSessionStats]:
        """One snapshot per session (the ``GET /v1/rooms/{room}/stats`` payload)."""
        return [await self.stats(pid) for pid in list(self._sessions)]

    async def watch(self, interval: float = 1.0) -> AsyncIterator[list[SfuSessionStats]]:
        """Stats as an event stream for monitors: a snapshot of every session each ``interval``.

        Pull-based (an async iterator) so a slow consumer slows only itself, never forwarding.
        """
        while True:
            yield await self.stats_all()
            await asyncio.sleep(interval)

    async def stats(self, participant_id: str) -> SfuSessionStats:
        session = self._session(participant_id)
        lost = jitter = 0
        if session.pc.connectionState != "closed":
            for s in (await session.pc.getStats()).values():
                if getattr(s, "type", None) == "inbound-rtp":
                    lost += s.packetsLost
                    jitter = max(jitter, s.jitter)
        srtp = session.srtp or SrtpMonitor()
        delays = [d * 1000 for t in session.slots.values() for d in t.queue_delays]
        fast = self._fast.stats(participant_id) if self._fast is not None else None
        if fast is not None:
            lost += fast.packets_lost
            jitter = max(jitter, fast.jitter)
            delays += [d * 1000 for d in fast.delays]
        return SfuSessionStats(
            participant_id=participant_id,
            connection_state=session.pc.connectionState,
            srtp_profile=srtp.profile,
            srtp_rtp_failures=srtp.rtp_failures,
            srtp_rtcp_failures=srtp.rtcp_failures,
            packets_in=session.packets_in + (fast.packets_in if fast else 0),
            bytes_in=session.bytes_in + (fast.bytes_in if fast else 0),
            packets_out=sum(t.frames_pushed for t in session.slots.values())
            + (fast.packets_out if fast else 0),
            bytes_out=sum(t.bytes_pushed for t in session.slots.values())
            + (fast.bytes_out if fast else 0),
            packets_dropped=sum(t.frames_dropped for t in session.slots.values())
            + (fast.packets_dropped if fast else 0),
            rtp_packets_lost=lost,
            rtp_jitter=jitter,
            subscriptions=list(session.slot_owner.values()),
            free_slots=len(session.slots) - len(session.slot_owner),
            relay_delay_p50_ms=_percentile(delays, 0.50),
            relay_delay_p99_ms=_percentile(delays, 0.99),
        )
