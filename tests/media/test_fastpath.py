"""The SFU's fast path with real aiortc endpoints on loopback.

Once a session is connected its RTP bypasses aiortc at the SFU (pylibsrtp + header rewrite in the
socket callback). These tests check that calls still work end to end (tones heard, attributed by
SFrame key), that a forged SRTP packet is refused and counted, and that a receive slot re-bound
to another publisher continues its sequence numbers and timestamps without a jump — what each
receiver's jitter buffer and SRTP replay window rely on. Each runs on both SRTP call paths of
the fast path: direct libsrtp calls (the lean path) and pylibsrtp's public methods, the fallback
taken when pylibsrtp's binding is not the shape the lean path was written against.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from voxseal.audio import FRAME_SAMPLES
from voxseal.media import fastpath
from voxseal.media.audio import pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.media.sfu import Sfu

from .helpers import AudioLog, dominant_frequency, new_key, run, tone_pair
from .test_sfu import join, until


def record_rtp(endpoint: MediaEndpoint) -> list[tuple[int, int, int]]:
    """(ssrc, seq, ts) of every RTP packet the endpoint's DTLS transport delivers."""
    seen: list[tuple[int, int, int]] = []
    dtls = endpoint._pc.getTransceivers()[0].receiver.transport
    original = dtls._handle_rtp_data

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        packet = RtpPacket.parse(data)
        seen.append((packet.ssrc, packet.sequence_number, packet.timestamp))
        await original(data, arrival_time_ms=arrival_time_ms)

    dtls._handle_rtp_data = handle
    return seen


@pytest.fixture(params=["lean", "public"])
def srtp_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which SRTP call path the fast path takes: libsrtp direct, or the fallback."""
    if request.param == "public":
        monkeypatch.setattr(fastpath, "_LEAN_BINDING", False)
    return str(request.param)


async def call_through(sfu: Sfu, a: MediaEndpoint, b: MediaEndpoint) -> None:
    """Join both to ``sfu``, each subscribed to the other, and wait until both are connected."""
    for ep in (a, b):
        await join(sfu, ep)
    sfu.subscribe(b.participant_id, a.participant_id)
    sfu.subscribe(a.participant_id, b.participant_id)
    await asyncio.gather(a.wait_connected(), b.wait_connected())


def assert_srtp_calls(sfu: Sfu, expected: str) -> None:
    assert sfu._fast is not None
    for pid in sfu.fast_path_sessions:
        fast = sfu._fast.get(pid)
        assert fast is not None
        lean = (fast.lean_rx, fast.lean_tx)
        if expected == "lean":
            assert all(x is not None for x in lean)
        else:
            assert lean == (None, None)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["lean", "public", "aiortc"])
def test_call_through_sfu_hears_tones(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``aiortc``: no fast path at all (``Sfu(fast_path=False)``), aiortc forwards per packet."""
    fast_path = path != "aiortc"
    if path == "public":
        monkeypatch.setattr(fastpath, "_LEAN_BINDING", False)

    async def scenario() -> None:
        sfu = Sfu(fast_path=fast_path)
        pair = tone_pair(1.0)
        a, b, heard_a, heard_b = pair.a, pair.b, pair.heard_a, pair.heard_b
        try:
            await call_through(sfu, a, b)
            await until(lambda: not a.publishing and not b.publishing)
            await asyncio.sleep(0.3)
            assert sorted(sfu.fast_path_sessions) == (["alice", "bob"] if fast_path else [])
            if fast_path:
                assert_srtp_calls(sfu, path)
            stats = {pid: await sfu.stats(pid) for pid in ("alice", "bob")}
            eps = {"alice": await a.stats(), "bob": await b.stats()}
        finally:
            await a.close()
            await b.close()
            await sfu.close()
        assert abs(dominant_frequency(heard_b.pcm("alice")) - 440) < 5
        assert abs(dominant_frequency(heard_a.pcm("bob")) - 660) < 5
        for pid, s in stats.items():
            assert s.packets_in >= 45 and s.packets_out >= 45, (pid, s)
            assert s.srtp_rtp_failures == 0 and s.packets_dropped == 0
            assert s.relay_delay_p99_ms is not None and s.relay_delay_p99_ms < 50
            assert eps[pid].receive.rejected == 0
            assert eps[pid].rtp_packets_lost == 0
        if fast_path:
            assert stats["alice"].rtp_packets_lost == 0

    run(scenario(), timeout=45)


@pytest.mark.slow
def test_forged_srtp_is_refused_and_counted_and_slot_switch_is_continuous(srtp_calls: str) -> None:
    async def scenario() -> None:
        ka, kc = new_key(), new_key()
        sfu = Sfu()
        heard = AudioLog()
        alice = MediaEndpoint("alice", receive_slots=0)
        carol = MediaEndpoint("carol", receive_slots=0)
        bob = MediaEndpoint("bob", on_audio=heard)
        alice.set_sender_key(1, ka)
        carol.set_sender_key(3, kc)
        bob.add_participant_key("alice", 1, ka)
        bob.add_participant_key("carol", 3, kc)
        alice.publish(pcm_frames([tone(440, 3.0)]))
        carol.publish(pcm_frames([tone(660, 3.0)]))
        everyone = (alice, bob, carol)
        try:
            for ep in everyone:
                await join(sfu, ep)
            rtp_at_bob = record_rtp(bob)
            sfu.subscribe("bob", "alice")
            await asyncio.gather(*(ep.wait_connected() for ep in everyone))
            await until(lambda: sorted(sfu.fast_path_sessions) == ["alice", "bob", "carol"])
            assert_srtp_calls(sfu, srtp_calls)
            await until(lambda: bob.receive_stats.frames_decrypted >= 20)

            # a forged SRTP packet on alice's socket at the SFU: refused, counted, not forwarded
            fast = sfu._fast.get("alice")  # type: ignore[union-attr]
            assert fast is not None
            host, port = fast.transport.get_extra_info("sockname")[:2]
            forged = struct.pack("!BBHII", 0x80, 111, 1, 2, 0xDEADBEEF) + os.urandom(60)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for _ in range(3):
                    s.sendto(forged, (host, port))
            await until(lambda: fast.monitor.rtp_failures >= 3)
            assert (await sfu.stats("alice")).srtp_rtp_failures == 3

            # re-bind bob's slot from alice to carol: the stream continues seq/ts by one frame
            before = len(rtp_at_bob)
            sfu.unsubscribe("bob", "alice")
            sfu.subscribe("bob", "carol")
            await until(lambda: len(heard.frames["carol"]) >= 20)
            packets = list(rtp_at_bob)
            assert len(packets) > before + 20
            assert len({ssrc for ssrc, _, _ in packets}) == 1  # one outbound SSRC throughout
            for (_, s0, t0), (_, s1, t1) in itertools.pairwise(packets):
                assert (s1 - s0) & 0xFFFF == 1, (s0, s1)
                assert (t1 - t0) & 0xFFFFFFFF == FRAME_SAMPLES, (t0, t1)
            r = bob.receive_stats
            assert r.rejected == 0 and heard.frames["alice"] and heard.frames["carol"]
            st: Any = await bob.stats()
            assert st.rtp_packets_lost == 0
        finally:
            for ep in everyone:
                await ep.close()
            await sfu.close()
        assert abs(dominant_frequency(heard.pcm("carol")) - 660) < 5

    run(scenario(), timeout=45)


@pytest.mark.slow
def test_publisher_gets_receiver_reports_from_the_fast_path(srtp_calls: str) -> None:
    """aiortc's receiver never sees a fast-path publisher's RTP; its RTCP receiver reports to
    the publisher must still carry the fast path's counts (loss, highest sequence, jitter)
    and LSR/DLSR, so the publisher learns its loss and round-trip time."""

    async def remote_inbound(endpoint: MediaEndpoint) -> list[Any]:
        report = await endpoint._pc.getStats()
        return [s for s in report.values() if s.type == "remote-inbound-rtp"]

    async def scenario() -> None:
        sfu = Sfu()
        pair = tone_pair(4.0)
        a, b = pair.a, pair.b
        try:
            await call_through(sfu, a, b)
            await until(lambda: sorted(sfu.fast_path_sessions) == ["alice", "bob"])
            fast = sfu._fast.get("alice")  # type: ignore[union-attr]
            assert fast is not None and fast.reception is not None
            # two report intervals (0.5-1.5 s each) after the fast path took the socket
            deadline = asyncio.get_running_loop().time() + 6
            seen: list[Any] = []
            while asyncio.get_running_loop().time() < deadline:
                seen = await remote_inbound(a)
                if seen and seen[0].roundTripTime is not None and seen[0].packetsLost == 0:
                    break
                await asyncio.sleep(0.2)
            counted = fast.packets_in
            ssrc = fast.reception_ssrc
            ours = fast.reception.get(ssrc) if ssrc is not None else None
            sender_ssrc = next(
                t.sender._ssrc for t in a._pc.getTransceivers() if t.direction == "sendonly"
            )
        finally:
            await a.close()
            await b.close()
            await sfu.close()
        assert seen, "no receiver report reached the publisher"
        # aiortc's sender makes this entry only from a report block about its own SSRC (the
        # entry's ``ssrc`` is the reporter's, the SFU's RTCP SSRC)
        (stats,) = seen
        assert ssrc == sender_ssrc
        # aiortc built its reports from the fast path's counters, not from its own
        assert isinstance(ours, fastpath._ReceptionReport) and ours.reports >= 1
        assert stats.packetsLost == 0 and stats.fractionLost == 0
        assert stats.roundTripTime is not None and 0 <= stats.roundTripTime < 0.5
        assert counted > 25  # the reports were about RTP the fast path forwarded

    run(scenario(), timeout=45)


def test_reception_report_follows_rfc3550_loss_arithmetic() -> None:
    """Interval loss (fraction lost, in 1/256) and cumulative loss from the fast path's counters."""
    session = fastpath.FastSession.__new__(fastpath.FastSession)
    session.start_seq, session.max_seq, session.cycles = 65530, 65535, 0
    session.packets_in, session.jitter = 6, 12.7
    report = fastpath._ReceptionReport(session)
    assert report.fraction_lost == 0 and report.packets_lost == 0
    assert report.max_seq == 65535 and report.jitter == 12
    # wrap: 10 more expected (65536..65545 extended), 5 received -> 5/10 lost this interval
    session.cycles, session.max_seq, session.packets_in = 0x10000, 9, 11
    assert report.max_seq == 0x10009
    assert report.packets_lost == 5
    assert report.fraction_lost == 128  # 5/10 of 256
    assert report.fraction_lost == 0  # nothing new since the last report
    # duplicates (more received than expected) never report negative interval loss
    session.packets_in = 30
    assert report.fraction_lost == 0 and report.packets_lost == -14
