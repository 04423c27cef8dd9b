"""The SFU's lean forwarding path: SRTP in, header rewrite, SRTP out — no aiortc per packet.

Why: aiortc's receive path costs ~100+ µs of Python per packet (queue hops, RTP parsing into
objects, jitter buffer, an ``av.Packet`` per frame, the sender task's re-packetisation and RTCP
bookkeeping). An SFU that only forwards needs none of it once ICE and DTLS are up: it needs the
keys DTLS derived, the socket ICE selected, and three numbers per outbound stream. So, per
participant, after aiortc has completed ICE + DTLS:

* **Keys.** ``RTCDtlsTransport._setup_srtp`` exports the DTLS-SRTP keying material and builds two
  ``pylibsrtp.Session``s, ``_rx_srtp`` (peer → us, ``SSRC_ANY_INBOUND``) and ``_tx_srtp``
  (us → peer, ``SSRC_ANY_OUTBOUND``). We reuse those very objects (one event loop, no threads, so
  sharing is safe): aiortc keeps using them for RTCP, we use them for RTP. libsrtp keeps RTP and
  RTCP replay/index state apart, and aiortc's own sender for a slot never sends RTP (its track is
  never fed), so the indices of an SSRC have exactly one writer.
* **Interception.** aioice gives every local candidate a ``StunProtocol`` on its own UDP socket;
  its ``datagram_received`` parses each datagram as STUN and hands everything else to an
  ``asyncio.Queue`` that aiortc's DTLS task drains. We put a small proxy protocol in front of
  the protocol of *every* local socket of the ICE agent (``transport.set_protocol``; works on
  asyncio and uvloop): SRTP packets (first byte 128–191, not RTCP) are forwarded right there in
  the socket callback; STUN (consent freshness), DTLS and SRTCP go to aioice unchanged, so
  aiortc keeps the control path. Every socket, because with IPv4 and IPv6 host addresses the
  peer may send on the pair it selected while aioice here nominated another (aioice accepts
  data on any of them); we send on our nominated pair, as aiortc does.
* **Forwarding.** unprotect with the publisher's inbound session (libsrtp called directly on
  the same ``srtp_t`` with preallocated buffers, see :class:`_LeanSrtp`) → rewrite SSRC (the
  subscriber's slot SSRC from our SDP answer), payload type (the subscriber's negotiated Opus
  PT), sequence number and timestamp by per-stream offsets → protect with the subscriber's
  outbound session → ``sendto`` on the subscriber's selected pair. Offsets keep each outbound
  stream continuous: they are set on the first packet of a source so its first packet follows
  the stream's last one (seq + 1, timestamp + one 20 ms frame), and stay constant while the
  source lasts, so the publisher's own gaps and reordering reach the receiver intact (its loss
  and jitter stats stay truthful). A slot re-bound to another publisher therefore continues
  without a jump.

What is dropped or left to aiortc (RTCP):

* Inbound RTCP (SR/RR/NACK/PLI) goes to aiortc as before: the SFU's slot senders read the
  subscribers' receiver reports (RTT, remote loss) and its receivers read publishers' SRs.
* aiortc's slot senders keep emitting SRs for the slot SSRCs with aiortc's own counters (zero
  packets, since RTP bypasses them); receivers use SRs for RTT (LSR/DLSR) and A/V sync, which
  audio-only SFrame calls do not need.
* Receiver reports to a fast-path publisher are still sent by aiortc's receiver on its usual
  timer, but their report block reads this module's counters (:class:`_ReceptionReport`):
  aiortc's receiver never sees the RTP, and without it the publisher would get no loss,
  jitter or round-trip feedback from the SFU (its encoder adapts to these).
* RTP header extensions (mid, audio level) are stripped: receivers route by the SSRC signalled
  in our answer, and audio level would be metadata about content we do not need to relay.

Keyless by construction: this module imports pylibsrtp and aioice/aiortc types only — never
:mod:`voxseal.crypto`. Payloads (SFrame ciphertext) are copied, never parsed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.sdp import SessionDescription

from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE
from voxseal.media.errors import MediaError
from voxseal.media.srtp import SrtpMonitor

__all__ = ["FastPath", "FastSession", "OutStream", "SlotParams", "slot_params"]

logger = logging.getLogger(__name__)

#: V/P/X/CC, M/PT, sequence number, timestamp, SSRC
_HEADER = struct.Struct("!BBHII")
_unpack_header = struct.Struct("!BBHI").unpack_from
_pack_header = _HEADER.pack
_pack_header_into = _HEADER.pack_into
_unpack_u16 = struct.Struct("!H").unpack_from
_unpack_ssrc = struct.Struct("!I").unpack_from
#: a subscriber whose socket buffer holds this much unsent data is congested: drop, count
_MAX_WRITE_BUFFER = 64 * 1024
_perf = time.perf_counter
#: the largest SRTP packet the fast path handles (a UDP datagram on a 1500-byte MTU path)
_MAX_PACKET = 1500
#: room left after the largest RTP packet for libsrtp's tag (and MKI) on protect
_BUFFER = _MAX_PACKET + pylibsrtp.SRTP_MAX_TRAILER_LEN
#: the libsrtp 2 call shape pylibsrtp 1.x binds: ``(srtp_t, void *packet, int *len)``
_SRTP_CALL = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"


def _cffi() -> tuple[Any, Any]:
    """pylibsrtp's cffi ``ffi`` and ``lib`` (AttributeError if a release stops exposing them).

    Why one accessor: pylibsrtp imports them from its compiled ``_binding`` module (untyped,
    hence ``Any``) without listing them in ``__all__``, so to mypy they are not exported; this
    is the one place that relies on them being there.
    """
    return pylibsrtp.ffi, pylibsrtp.lib  # type: ignore[attr-defined]


@runtime_checkable
class _Tappable(Protocol):
    """A socket transport whose protocol can be swapped: asyncio's and uvloop's UDP
    transports, not a TURN allocation (aioice's ``TurnTransport`` has no such methods)."""

    def get_protocol(self) -> asyncio.BaseProtocol: ...

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...


@runtime_checkable
class _WriteBuffered(Protocol):
    """A transport that reports its unsent bytes. asyncio's and uvloop's datagram transports
    do; typeshed lists the method on ``WriteTransport`` only, not on ``DatagramTransport``."""

    def get_write_buffer_size(self) -> int: ...


class _LeanSrtp:
    """Direct libsrtp calls on one ``pylibsrtp.Session``, with a buffer of our own.

    Why: ``Session.protect``/``unprotect`` cost ~1 µs each, half of it Python around the C
    call (a type check, a fresh ``int *`` per packet, a bytes copy in and out). The fast path
    calls libsrtp on the very same ``srtp_t`` — same keys, same replay window and rollover
    counters, so authentication and replay protection are libsrtp's exactly as before — but
    with a preallocated buffer and length cell, and reads the result in place. Its buffer is
    not the session's, so aiortc's RTCP calls on the same session never overlap ours (one
    event loop, no threads, and each call is finished before the next starts).

    :func:`_lean` returns ``None`` when pylibsrtp's layout is not the one this was written
    against; callers then use the public methods.
    """

    __slots__ = ("buffer", "cdata", "ctx", "length", "session")

    def __init__(self, session: pylibsrtp.Session) -> None:
        self.session = session  # keeps the srtp_t alive (freed by the session's ffi.gc)
        self.ctx = session._srtp[0]
        ffi, _ = _cffi()
        self.cdata = ffi.new("char[]", _BUFFER)
        self.buffer = ffi.buffer(self.cdata)
        self.length = ffi.new("int *")


def _binding_has_srtp_calls() -> bool:
    """Whether pylibsrtp binds libsrtp's protect/unprotect with the shape we call (once)."""
    try:
        ffi, lib = _cffi()
        return all(
            ffi.typeof(f).cname == _SRTP_CALL for f in (lib.srtp_protect, lib.srtp_unprotect)
        )
    except (AttributeError, TypeError):
        return False


_LEAN_BINDING = _binding_has_srtp_calls()


def _lean(session: pylibsrtp.Session) -> _LeanSrtp | None:
    if not _LEAN_BINDING:
        return None
    try:
        return _LeanSrtp(session)
    except (AttributeError, TypeError, IndexError):  # the session's layout changed
        return None


@dataclass(frozen=True)
class SlotParams:
    """What a subscriber's receive slot expects: our SSRC on it and its Opus payload type."""

    ssrc: int
    payload_type: int


def slot_params(answer_sdp: str) -> dict[str, SlotParams]:
    """``{mid: SlotParams}`` for every m-line of *our* answer that sends (a receive slot).

    Read from the SDP (a public contract) rather than aiortc's sender internals: the SSRC we
    announced is the one the peer's receiver routes by.
    """
    out: dict[str, SlotParams] = {}
    for m in SessionDescription.parse(answer_sdp).media:
        if m.kind != "audio" or not m.rtp.muxId or m.direction not in ("sendonly", "sendrecv"):
            continue
        codec = m.rtp.codecs[0] if m.rtp.codecs else None
        if not m.ssrc or codec is None or codec.payloadType is None:
            continue  # nothing to send on, or no payload type to stamp: aiortc's path
        out[m.rtp.muxId] = SlotParams(m.ssrc[0].ssrc, codec.payloadType)
    return out


def _raw_session(session: pylibsrtp.Session | None) -> pylibsrtp.Session | None:
    """Unwrap :mod:`~voxseal.media.srtp`'s counting proxy: the fast path counts itself.

    ``None`` (aiortc's value before DTLS-SRTP is up) passes through; the caller checks it.
    """
    inner: pylibsrtp.Session | None = getattr(session, "_inner", session)
    return inner


class _InterceptingProtocol(asyncio.DatagramProtocol):
    """Stands in front of aioice's ``StunProtocol`` on one of the ICE agent's sockets."""

    __slots__ = ("_fast", "_inner", "_inner_received")

    def __init__(self, inner: StunProtocol, fast: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._inner_received = inner.datagram_received
        self._fast = fast

    def datagram_received(self, data: bytes, addr: Any) -> None:
        # SRTP: first byte 128..191 (RFC 7983); RTCP has PT 192..223 in the second byte
        if 127 < data[0] < 192 and len(data) > 12 and not 191 < data[1] < 224:
            self._fast(data)
        else:
            self._inner_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        self._inner.error_received(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # pragma: no cover
        self._inner.connection_made(transport)


class OutStream:
    """One subscriber slot's outbound RTP stream: where, with which keys, and its offsets."""

    __slots__ = (
        "addr",
        "bytes",
        "delays",
        "drops",
        "last_seq",
        "last_ts",
        "mid",
        "packets",
        "payload_type",
        "protect",
        "sendto",
        "seq_off",
        "source",
        "ssrc",
        "subscriber",
        "ts_off",
        "tx",
        "write_buffer",
    )

    def __init__(self, subscriber: FastSession, mid: str, params: SlotParams) -> None:
        self.subscriber = subscriber
        self.mid = mid
        # the subscriber's send side, copied here so a forward reads one object per stream
        self.tx = subscriber.lean_tx
        self.protect = subscriber.tx.protect
        self.sendto = subscriber.sendto
        self.addr = subscriber.addr
        self.write_buffer = subscriber.write_buffer
        self.ssrc = params.ssrc
        self.payload_type = params.payload_type
        #: the source the offsets were computed for (a publisher session or an injector)
        self.source: object = None
        self.seq_off = 0
        self.ts_off = 0
        # a random origin, as RFC 3550 asks; the first packet continues "after" it
        self.last_seq = random.getrandbits(16)
        self.last_ts = random.getrandbits(32)
        self.packets = 0
        self.bytes = 0
        self.drops = 0
        #: seconds from datagram arrival to sendto, recent packets
        self.delays: deque[float] = deque(maxlen=4096)

    def rebase(self, source: object, seq: int, ts: int) -> None:
        """Make ``source``'s packet (seq, ts) follow this stream's last packet."""
        self.source = source
        self.seq_off = (self.last_seq + 1 - seq) & 0xFFFF
        self.ts_off = (self.last_ts + FRAME_SAMPLES - ts) & 0xFFFFFFFF


class FastSession:
    """One participant's fast-path state: its sockets and SRTP sessions, in and out counters."""

    __slots__ = (
        "addr",
        "bytes_in",
        "cycles",
        "first_ts",
        "inject_seq",
        "injector",
        "jitter",
        "last_transit",
        "lean_rx",
        "lean_tx",
        "max_seq",
        "monitor",
        "outs",
        "packets_in",
        "participant_id",
        "protocol",
        "reception",
        "reception_ssrc",
        "rx",
        "sendto",
        "slots",
        "start_seq",
        "taps",
        "transport",
        "tx",
        "write_buffer",
    )

    def __init__(
        self,
        participant_id: str,
        transport: asyncio.DatagramTransport,
        protocol: StunProtocol,
        addr: tuple[str, int],
        rx: pylibsrtp.Session,
        tx: pylibsrtp.Session,
        monitor: SrtpMonitor,
    ) -> None:
        self.participant_id = participant_id
        self.transport = transport
        self.protocol = protocol
        self.addr = addr
        self.rx = rx
        self.tx = tx
        self.lean_rx = _lean(rx)
        self.lean_tx = _lean(tx)
        self.monitor = monitor
        #: every (socket transport, aioice protocol) whose SRTP we intercept (see attach)
        self.taps: list[tuple[_Tappable, StunProtocol]] = []
        self.sendto = transport.sendto
        if not isinstance(transport, _WriteBuffered):  # congestion unseen: stay on aiortc's path
            raise MediaError(
                "the ICE socket's transport reports no write buffer; fast path unavailable",
                reason="fastpath_unavailable",
            )
        self.write_buffer = transport.get_write_buffer_size
        #: outbound streams of the subscribers this participant publishes to
        self.outs: list[OutStream] = []
        #: this participant's own receive slots (as a subscriber), by mid
        self.slots: dict[str, OutStream] = {}
        self.packets_in = 0
        self.bytes_in = 0
        self.first_ts: int | None = None
        self.start_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        self.jitter = 0.0
        self.last_transit: float | None = None
        #: a stand-in source for frames injected via :meth:`FastPath.inject`
        self.injector = object()
        self.inject_seq = 0
        #: aiortc's receiver statistics (by SSRC) our receiver reports are read from, and the
        #: SSRC our entry there is under (set by the first packet)
        self.reception: dict[int, Any] | None = None
        self.reception_ssrc: int | None = None

    def first_packet(self, rtp: Any) -> None:
        """Cold path of the first authentic packet: report on its SSRC from now on.

        Replaces aiortc's own statistics for the SSRC if it saw RTP before the fast path took
        the socket: those would freeze, and every later report would repeat them. The
        reports then cover what arrived from this packet on.
        """
        if self.reception is None:
            return
        (ssrc,) = _unpack_ssrc(rtp, 8)
        self.reception[ssrc] = _ReceptionReport(self)
        self.reception_ssrc = ssrc

    @property
    def packets_expected(self) -> int:
        """RFC 3550 A.3: extended highest sequence number received minus the first, plus one."""
        if self.start_seq is None:
            return 0
        return self.cycles + self.max_seq - self.start_seq + 1

    @property
    def packets_lost(self) -> int:
        """RFC 3550 cumulative loss of this participant's published stream (may be negative
        with duplicates, as the RFC allows)."""
        return self.packets_expected - self.packets_in


class _ReceptionReport:
    """One fast-path publisher's reception statistics, shaped as aiortc's ``StreamStatistics``.

    Why: aiortc's receiver builds its RTCP receiver reports (RFC 3550 §6.4.2) from a
    ``StreamStatistics`` per remote SSRC, fed by every RTP packet it handles — none, once the
    fast path takes the socket. Putting this object in its place lets aiortc keep sending the
    reports (and LSR/DLSR from the publisher's sender reports, which it still receives) with
    the counts the fast path keeps. It has no ``add``: it is removed before aiortc could feed
    it again (:meth:`FastPath.detach`).
    """

    __slots__ = ("_expected_prior", "_received_prior", "reports", "session")

    def __init__(self, session: FastSession) -> None:
        self.session = session
        self._expected_prior = 0
        self._received_prior = 0
        #: receiver reports built from this object so far (each reads ``fraction_lost`` once)
        self.reports = 0

    @property
    def packets_received(self) -> int:
        return self.session.packets_in

    @property
    def packets_expected(self) -> int:
        return self.session.packets_expected

    @property
    def packets_lost(self) -> int:
        return self.session.packets_lost

    @property
    def max_seq(self) -> int:
        """The extended highest sequence number received (cycles in the high 16 bits)."""
        return self.session.cycles + self.session.max_seq

    @property
    def jitter(self) -> int:
        return int(self.session.jitter)

    @property
    def fraction_lost(self) -> int:
        """Loss since the previous report, in 1/256 (RFC 3550 A.3); read once per report."""
        self.reports += 1
        expected = self.packets_expected
        received = self.packets_received
        expected_interval = expected - self._expected_prior
        received_interval = received - self._received_prior
        self._expected_prior = expected
        self._received_prior = received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            return 0
        return min(255, (lost_interval << 8) // expected_interval)


def _reception_streams(pc: RTCPeerConnection) -> dict[int, Any] | None:
    """The per-SSRC statistics of aiortc's receiver for what this participant publishes."""
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "audio" or transceiver.currentDirection not in (
            "recvonly",
            "sendrecv",
        ):
            continue
        streams = getattr(transceiver.receiver, "_RTCRtpReceiver__remote_streams", None)
        if isinstance(streams, dict):
            return streams
    return None


@dataclass
class FastPathStats:
    """Fast-path counters of one participant (folded into ``SfuSessionStats`` by the SFU)."""

    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    packets_dropped: int = 0
    packets_lost: int = 0
    #: interarrival jitter, RTP clock units (48 kHz)
    jitter: int = 0
    delays: list[float] = field(default_factory=list)


class FastPath:
    """The forwarding engine of one SFU: attach connected sessions, link slots, forward.

    ``on_frame(publisher_id, payload)`` sees each forwarded payload when set (it costs a copy
    per packet, so the SFU passes it only when someone observes).
    """

    def __init__(self, on_frame: Callable[[str, bytes], None] | None = None) -> None:
        self.on_frame = on_frame
        self._sessions: dict[str, FastSession] = {}

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self._sessions

    def get(self, participant_id: str) -> FastSession | None:
        return self._sessions.get(participant_id)

    # --- attach / detach -----------------------------------------------------------------------

    def attach(
        self,
        participant_id: str,
        pc: RTCPeerConnection,
        monitor: SrtpMonitor,
        slots: dict[str, SlotParams],
    ) -> FastSession:
        """Take over ``pc``'s RTP data path (call once its connection state is ``connected``).

        Raises :class:`MediaError` if aiortc/aioice internals are not where we expect them:
        the caller then leaves the session on aiortc's path instead of forwarding blindly.
        """
        if participant_id in self._sessions:
            return self._sessions[participant_id]
        dtls = _dtls_transport(pc)
        try:
            connection = dtls.transport._connection
            pair = connection._nominated[1]
            stun_protocol = pair.protocol
            transport = stun_protocol.transport
            addr = pair.remote_addr
            local_protocols = list(connection._protocols)
            rx, tx = _raw_session(dtls._rx_srtp), _raw_session(dtls._tx_srtp)
        except (AttributeError, KeyError) as exc:
            raise MediaError(
                f"aiortc/aioice layout changed; fast path unavailable ({exc!r})",
                reason="fastpath_unavailable",
            ) from None
        if rx is None or tx is None or transport is None:
            raise MediaError("DTLS-SRTP is not up yet", reason="fastpath_unavailable")
        session = FastSession(participant_id, transport, stun_protocol, addr, rx, tx, monitor)
        session.reception = _reception_streams(pc)
        if session.reception is None:  # aiortc moved its receiver statistics
            logger.debug("%s: no receiver reports from the fast path", participant_id)
        for mid, params in slots.items():
            session.slots[mid] = OutStream(session, mid, params)
        # Intercept on every local socket of the ICE agent, not only the nominated pair's:
        # with several host addresses (IPv4 + IPv6) the peer may send on the pair *it*
        # selected while aioice here nominated another, and aioice accepts data on any of
        # them. Packets taken off the fast path went through aiortc's per-packet path instead
        # (~10x the CPU) — the relay bench saw it on a few sessions in every run.
        forward = self._receiver(session)
        protocols = [stun_protocol, *(p for p in local_protocols if p is not stun_protocol)]
        for protocol in protocols:
            sock_transport = getattr(protocol, "transport", None)
            if not isinstance(sock_transport, _Tappable):
                continue  # e.g. a TURN allocation: stays on aioice's path
            if sock_transport.get_protocol() is not protocol:
                continue
            sock_transport.set_protocol(_InterceptingProtocol(protocol, forward))
            session.taps.append((sock_transport, protocol))
        self._sessions[participant_id] = session
        return session

    def detach(self, participant_id: str) -> None:
        """Give the socket back to aioice and forget the session (idempotent)."""
        session = self._sessions.pop(participant_id, None)
        if session is None:
            return
        for transport, protocol in session.taps:
            if transport.get_protocol() is not protocol:
                transport.set_protocol(protocol)
        session.taps = []
        # aiortc's path takes the RTP again: it must find its own statistics (or none)
        reception, ssrc = session.reception, session.reception_ssrc
        if (
            reception is not None
            and ssrc is not None
            and isinstance(reception.get(ssrc), _ReceptionReport)
        ):
            del reception[ssrc]
        for other in self._sessions.values():
            other.outs = [o for o in other.outs if o.subscriber is not session]
        session.outs = []

    # --- subscriptions -------------------------------------------------------------------------

    def link(self, subscriber_id: str, mid: str, publisher_id: str) -> bool:
        """Forward ``publisher_id`` into ``subscriber_id``'s slot ``mid`` (both attached).

        Returns False if either side is not on the fast path yet (the SFU links it later).
        """
        sub = self._sessions.get(subscriber_id)
        pub = self._sessions.get(publisher_id)
        if sub is None or pub is None or mid not in sub.slots:
            return False
        out = sub.slots[mid]
        for other in self._sessions.values():
            if out in other.outs and other is not pub:
                other.outs = [o for o in other.outs if o is not out]
        if out not in pub.outs:
            pub.outs = [*pub.outs, out]  # a new list: a forward in progress keeps its snapshot
        return True

    def unlink(self, subscriber_id: str, mid: str) -> None:
        sub = self._sessions.get(subscriber_id)
        if sub is None or mid not in sub.slots:
            return
        out = sub.slots[mid]
        for other in self._sessions.values():
            if out in other.outs:
                other.outs = [o for o in other.outs if o is not out]

    # --- the per-packet path -------------------------------------------------------------------

    def _receiver(self, pub: FastSession) -> Callable[[bytes], None]:
        """Build the per-packet function for one publisher (locals instead of attribute loads).

        On the lean path (:class:`_LeanSrtp`) a packet is unprotected in place in the
        publisher's buffer, its payload copied out once, and each subscriber's header written
        straight into that subscriber's buffer before libsrtp protects it there: one bytes
        object per packet plus one per ``sendto``, where the public API made five.
        """
        unprotect = pub.rx.unprotect
        srtp_error = pylibsrtp.Error
        monitor = pub.monitor
        fast_path = self
        participant_id = pub.participant_id
        clock = SAMPLE_RATE
        lean = pub.lean_rx
        # cffi objects (untyped); set on the lean path only, where _LEAN_BINDING found them
        srtp_unprotect: Any = None
        srtp_protect: Any = None
        rx_ctx: Any = None
        rx_cdata: Any = None
        rx_buffer: Any = None
        rx_length: Any = None
        if lean is not None:
            _, lib = _cffi()
            srtp_unprotect, srtp_protect = lib.srtp_unprotect, lib.srtp_protect
            rx_ctx, rx_cdata, rx_buffer, rx_length = lean.ctx, lean.cdata, lean.buffer, lean.length
        max_packet = _MAX_PACKET

        def forward(data: bytes) -> None:
            arrival = _perf()
            rtp: Any
            if lean is not None:
                size = len(data)
                if size > max_packet:  # larger than any datagram a peer may send us
                    monitor.rtp_failures += 1
                    return
                rx_buffer[0:size] = data
                rx_length[0] = size
                if srtp_unprotect(rx_ctx, rx_cdata, rx_length):  # auth or replay failure
                    monitor.rtp_failures += 1
                    return
                rtp = rx_buffer
                size = rx_length[0]
            else:
                try:
                    rtp = unprotect(data)
                except (srtp_error, ValueError):
                    monitor.rtp_failures += 1
                    return
                size = len(rtp)
            b0, b1, seq, ts = _unpack_header(rtp)
            offset = 12 + 4 * (b0 & 0x0F)
            if b0 & 0x10:  # header extension: skip it (stripped on the way out)
                if offset + 4 > size:
                    return  # authentic but malformed: nothing to forward
                offset += 4 + 4 * _unpack_u16(rtp, offset + 2)[0]
            if offset > size:
                return
            payload = rtp[offset:size]
            # receive statistics (RFC 3550 A.1 / A.8, without probation)
            if pub.start_seq is None:
                pub.start_seq = pub.max_seq = seq
                pub.first_ts = ts
                pub.first_packet(rtp)
            else:
                delta = (seq - pub.max_seq) & 0xFFFF
                if 0 < delta < 0x8000:
                    if seq < pub.max_seq:
                        pub.cycles += 0x10000
                    pub.max_seq = seq
            transit = arrival * clock - ts
            if pub.last_transit is not None:
                d = abs(transit - pub.last_transit)
                if d < 0x7FFFFFFF:  # ignore timestamp jumps (source change, wrap)
                    pub.jitter += (d - pub.jitter) / 16
            pub.last_transit = transit
            plen = len(payload)
            pub.packets_in += 1
            pub.bytes_in += plen
            if fast_path.on_frame is not None:
                fast_path.on_frame(participant_id, payload)
            marker = b1 & 0x80
            first = 0x80 | (b0 & 0x20)  # V=2, padding kept (it is inside the payload)
            end = 12 + plen
            for out in pub.outs:
                if out.source is not pub:
                    out.rebase(pub, seq, ts)
                if out.write_buffer() > _MAX_WRITE_BUFFER:
                    out.drops += 1
                    continue
                nseq = (seq + out.seq_off) & 0xFFFF
                nts = (ts + out.ts_off) & 0xFFFFFFFF
                if (nseq - out.last_seq) & 0xFFFF < 0x8000:
                    out.last_seq = nseq
                    out.last_ts = nts
                tx = out.tx
                if tx is not None and srtp_protect is not None:
                    buffer = tx.buffer
                    _pack_header_into(
                        buffer, 0, first, marker | out.payload_type, nseq, nts, out.ssrc
                    )
                    buffer[12:end] = payload
                    length = tx.length
                    length[0] = end
                    if srtp_protect(tx.ctx, tx.cdata, length):
                        out.drops += 1  # libsrtp refused (e.g. a repeated index): not sent
                        continue
                    packet = buffer[0 : length[0]]
                else:
                    header = _pack_header(first, marker | out.payload_type, nseq, nts, out.ssrc)
                    packet = out.protect(header + payload)
                try:
                    out.sendto(packet, out.addr)
                except (OSError, RuntimeError):  # this subscriber's socket is going away:
                    out.drops += 1  # the others still get the packet
                    continue
                out.packets += 1
                out.bytes += plen
                out.delays.append(_perf() - arrival)

        return forward

    def inject(self, publisher_id: str, payload: bytes, timestamp: int) -> int:
        """Send one payload to ``publisher_id``'s fast-path subscribers as if it had published it.

        For frames that reach the SFU outside the fast path (a publisher still on aiortc's path
        for a moment, or a test playing a compromised SFU). It uses its own source identity,
        so the outbound streams re-base around it and stay continuous. Returns how many
        subscribers it was sent to.
        """
        pub = self._sessions.get(publisher_id)
        if pub is None:
            return 0
        source = pub.injector
        seq = pub.inject_seq = (pub.inject_seq + 1) & 0xFFFF
        ts = timestamp & 0xFFFFFFFF
        return self.send_to(pub.outs, source, seq, ts, payload)

    def send_to(
        self, outs: list[OutStream], source: object, seq: int, ts: int, payload: bytes
    ) -> int:
        """Protect and send one payload on each of ``outs`` (slow-path helper, not per packet)."""
        sent = 0
        for out in outs:
            if out.source is not source:
                out.rebase(source, seq, ts)
            sub = out.subscriber
            nseq = (seq + out.seq_off) & 0xFFFF
            nts = (ts + out.ts_off) & 0xFFFFFFFF
            if (nseq - out.last_seq) & 0xFFFF < 0x8000:
                out.last_seq, out.last_ts = nseq, nts
            packet = _pack_header(0x80, out.payload_type, nseq, nts, out.ssrc) + payload
            sub.sendto(sub.tx.protect(packet), sub.addr)
            out.packets += 1
            out.bytes += len(payload)
            sent += 1
        return sent

    # --- stats ---------------------------------------------------------------------------------

    def stats(self, participant_id: str) -> FastPathStats:
        session = self._sessions.get(participant_id)
        if session is None:
            return FastPathStats()
        slots = session.slots.values()
        return FastPathStats(
            packets_in=session.packets_in,
            bytes_in=session.bytes_in,
            packets_out=sum(o.packets for o in slots),
            bytes_out=sum(o.bytes for o in slots),
            packets_dropped=sum(o.drops for o in slots),
            packets_lost=session.packets_lost,
            jitter=int(session.jitter),
            delays=[d for o in slots for d in o.delays],
        )


def _dtls_transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    """The one DTLS transport of a BUNDLEd audio session."""
    seen = {id(t.receiver.transport): t.receiver.transport for t in pc.getTransceivers()}
    if len(seen) != 1:
        raise MediaError(
            f"fast path needs one BUNDLEd transport, found {len(seen)}",
            reason="fastpath_unavailable",
        )
    return next(iter(seen.values()))
