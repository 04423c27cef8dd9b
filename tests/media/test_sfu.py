"""The blind SFU with real aiortc peers on loopback.

Four endpoints join one SFU: alice and bob publish tones and hear each other; eve subscribes
to alice without her key (packets arrive, every frame is refused, no audio); carol holds keys
but is not subscribed (nothing arrives). The SFU's view of alice's frames is checked to be the
exact SFrame ciphertext of her Opus frames; frames injected at the SFU (replayed, forged,
unknown KID) are refused by bob and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable

import av
import numpy as np
import pytest

from voxseal.audio import FRAME_SAMPLES
from voxseal.crypto import sframe
from voxseal.crypto.errors import AuthenticationFailed
from voxseal.media.audio import OpusFrameDecoder, pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.media.errors import NoReceiveSlot, UnknownParticipant
from voxseal.media.sfu import Sfu

from .helpers import AudioLog, dominant_frequency, new_key, run

SUITE = sframe.CipherSuite.AES_128_GCM_SHA256_128
AEAD = ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")


async def join(sfu: Sfu, endpoint: MediaEndpoint) -> None:
    answer = await sfu.add_participant(endpoint.participant_id, await endpoint.create_offer())
    await endpoint.accept_answer(answer)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def test_sfu_module_graph_never_imports_sframe() -> None:
    code = (
        "import sys, voxseal.media.sfu\n"
        "bad = sorted(m for m in sys.modules if m.startswith('voxseal.crypto'))\n"
        "assert not bad, bad\n"
        "from voxseal.media.sfu import forbid_sframe\n"
        "forbid_sframe()\n"
        "try:\n"
        "    import voxseal.crypto.sframe\n"
        "except ImportError:\n"
        "    print('refused')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "refused"


@pytest.mark.slow
def test_sfu_forwards_ciphertext_only_to_subscribers() -> None:
    async def scenario() -> None:
        ka, kb = new_key(), new_key()
        seen: list[tuple[str, bytes]] = []
        sfu = Sfu(on_frame=lambda pid, payload: seen.append((pid, payload)))
        heard = {name: AudioLog() for name in ("alice", "bob", "eve", "carol")}
        alice = MediaEndpoint("alice", on_audio=heard["alice"])
        bob = MediaEndpoint("bob", on_audio=heard["bob"])
        eve = MediaEndpoint("eve", on_audio=heard["eve"])
        carol = MediaEndpoint("carol", receive_slots=2, on_audio=heard["carol"])
        everyone = (alice, bob, eve, carol)
        alice.set_sender_key(1, ka)
        bob.set_sender_key(2, kb)
        alice.add_participant_key("bob", 2, kb)
        bob.add_participant_key("alice", 1, ka)
        carol.add_participant_key("alice", 1, ka)
        carol.add_participant_key("bob", 2, kb)
        clear_alice: list[bytes] = []
        alice.publish(pcm_frames([tone(440, 1.2)]), on_encoded=clear_alice.append)
        bob.publish(pcm_frames([tone(660, 1.2)]))
        try:
            for ep in everyone:
                await join(sfu, ep)
            sfu.subscribe("bob", "alice")
            sfu.subscribe("alice", "bob")
            sfu.subscribe("eve", "alice")
            with pytest.raises(NoReceiveSlot):
                sfu.subscribe("eve", "bob")  # eve offered one slot only
            with pytest.raises(UnknownParticipant):
                sfu.subscribe("mallory", "alice")
            await asyncio.gather(*(ep.wait_connected() for ep in everyone))
            await asyncio.gather(*(sfu.wait_connected(ep.participant_id) for ep in everyone))
            await until(lambda: not alice.publishing and not bob.publishing)
            await asyncio.sleep(0.3)
            stats = {ep.participant_id: await ep.stats() for ep in everyone}
            sfu_stats = {pid: await sfu.stats(pid) for pid in sfu.participants}

            # alice and bob hear each other, attributed by key
            assert abs(dominant_frequency(heard["bob"].pcm("alice")) - 440) < 5
            assert abs(dominant_frequency(heard["alice"].pcm("bob")) - 660) < 5
            assert list(heard["bob"].frames) == ["alice"]
            # eve receives alice's packets but cannot decrypt a single one
            e = stats["eve"].receive
            assert e.frames_received >= 40
            assert e.unknown_key == e.frames_received and e.frames_decrypted == 0
            assert not heard["eve"].frames
            # carol is not subscribed: nothing reaches her at all
            assert stats["carol"].receive.frames_received == 0
            assert stats["carol"].rtp_packets_received == 0
            assert sfu_stats["carol"].packets_out == 0 and not heard["carol"].frames
            # per-session stats at the gateway
            for pid, s in sfu_stats.items():
                assert s.srtp_profile in AEAD, pid
                assert s.srtp_rtp_failures == 0
            assert sfu_stats["alice"].packets_in >= 50 and sfu_stats["bob"].packets_in >= 50
            # (frames that arrive before a subscriber's own connection is up are not queued)
            for sub in ("bob", "eve"):
                out, published = sfu_stats[sub].packets_out, sfu_stats["alice"].packets_in
                assert published - 5 <= out <= published
            assert sfu_stats["alice"].subscriptions == ["bob"]
            assert sfu_stats["carol"].free_slots == 2
            assert sfu_stats["bob"].relay_delay_p99_ms is not None
            assert sfu_stats["bob"].relay_delay_p99_ms < 50
            assert all(s.srtp_profile in AEAD for s in stats.values())

            # what the SFU saw of alice is SFrame ciphertext of exactly her Opus frames
            from_alice = [p for pid, p in seen if pid == "alice"]
            assert len(from_alice) >= 50
            clear = set(clear_alice)
            assert not any(p in clear or p[-len(p) // 2 :] in b"".join(clear) for p in from_alice)
            wrong = sframe.Receiver(SUITE)
            wrong.add_key(1, new_key())
            with pytest.raises(AuthenticationFailed):
                wrong.unprotect(from_alice[0])
            right = sframe.Receiver(SUITE)
            right.add_key(1, ka)
            assert [right.unprotect(p) for p in from_alice] == clear_alice[: len(from_alice)]
            # ... and decoding it as Opus does not give her voice back
            dec, out = OpusFrameDecoder(), []
            for p in from_alice:
                with contextlib.suppress(av.FFmpegError, ValueError):
                    out.append(dec.decode(p))
            pcm = np.concatenate(out) if out else np.zeros(0, np.int16)
            assert len(pcm) < 9600 or abs(dominant_frequency(pcm) - 440) > 20

            # a compromised SFU injects frames towards bob: replays, forgeries, unknown KIDs
            before = (await bob.stats()).receive
            decoded_before = before.frames_decoded
            injected = [from_alice[i] for i in range(10, 14)]  # replays (CTR already seen)
            injected += [
                sframe.encode_header(1, 10_000 + i) + os.urandom(80) for i in range(4)
            ]  # fresh CTR, garbage ciphertext: forgery
            injected += [sframe.encode_header(99, i) + os.urandom(80) for i in range(4)]
            injected += [sframe.encode_header(1, 20_000 + i) + os.urandom(80) for i in range(4)]
            for i, payload in enumerate(injected):
                sfu.forward("alice", payload, 10_000_000 + i * FRAME_SAMPLES)
                await asyncio.sleep(0.02)
            await until(lambda: bob.receive_stats.unknown_key >= 4)
            r = (await bob.stats()).receive
            assert r.replays - before.replays == 4
            assert r.unknown_key - before.unknown_key == 4
            assert r.auth_failures - before.auth_failures >= 4
            # only genuine frames the jitter buffer still held may have been decoded since
            assert r.frames_decoded - decoded_before <= 4
            assert r.decode_errors == 0
        finally:
            for ep in everyone:
                await ep.close()
            await sfu.close()

    run(scenario(), timeout=45)


@pytest.mark.slow
def test_rekey_locks_out_a_removed_participant_and_unsubscribe_stops_media() -> None:
    async def scenario() -> None:
        k1, k2 = new_key(), new_key()
        sfu = Sfu()
        heard_bob, heard_carol = AudioLog(), AudioLog()
        alice = MediaEndpoint("alice", receive_slots=0)
        bob = MediaEndpoint("bob", on_audio=heard_bob)
        carol = MediaEndpoint("carol", on_audio=heard_carol)
        everyone = (alice, bob, carol)
        alice.set_sender_key(1, k1)
        bob.add_participant_key("alice", 1, k1)
        carol.add_participant_key("alice", 1, k1)
        alice.publish(pcm_frames([tone(440, 2.0)]))
        try:
            for ep in everyone:
                await join(sfu, ep)
            sfu.subscribe("bob", "alice")
            sfu.subscribe("carol", "alice")
            await asyncio.gather(*(ep.wait_connected() for ep in everyone))
            await until(lambda: carol.receive_stats.frames_decrypted >= 15)

            # carol is removed from the room: the others rekey without her. Even if a
            # compromised SFU keeps forwarding to her, she cannot decrypt from now on.
            bob.add_participant_key("alice", 11, k2)
            alice.set_sender_key(11, k2)
            bob.remove_participant("nobody")  # harmless no-op
            carol_before = carol.receive_stats.frames_decrypted
            await until(lambda: carol.receive_stats.unknown_key >= 10)
            assert carol.receive_stats.frames_decrypted - carol_before <= 6  # in flight only
            assert bob.receive_stats.rejected == 0
            bob_before = bob.receive_stats.frames_decrypted
            await until(lambda: bob.receive_stats.frames_decrypted >= bob_before + 10)

            # the SFU drops her session: nothing more is forwarded to her
            await sfu.remove_participant("carol")
            assert "carol" not in sfu.participants
            with pytest.raises(UnknownParticipant):
                await sfu.stats("carol")
            # bob unsubscribes: his slot is freed and nothing more arrives
            sfu.unsubscribe("bob", "alice")
            assert (await sfu.stats("bob")).free_slots == 1
            await asyncio.sleep(0.1)
            received = bob.receive_stats.frames_received
            await asyncio.sleep(0.4)
            assert bob.receive_stats.frames_received == received
            assert alice.publishing  # alice was still talking all along
            async for snapshot in sfu.watch(0.05):
                assert {s.participant_id for s in snapshot} == {"alice", "bob"}
                break
            stats = await alice.stats()
            assert stats.send is not None and stats.send.key_epochs == 2
            assert stats.send.kid == 11
        finally:
            for ep in everyone:
                await ep.close()
            await sfu.close()
        assert abs(dominant_frequency(heard_bob.pcm("alice")) - 440) < 5

    run(scenario(), timeout=45)
