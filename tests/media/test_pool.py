"""Rooms on a pool of keyless SFU workers, through the same API the gateway uses for ``Sfu``.

Two rooms land on two different worker processes (least-loaded placement); in each, two real
aiortc endpoints hear each other through the worker's fast path; every worker reports that
SFrame is not importable in it; refusals keep their types across the process boundary.
"""

from __future__ import annotations

import asyncio

import pytest

from voxseal.media.audio import pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.media.errors import NoReceiveSlot, UnknownParticipant
from voxseal.media.pool import PooledSfu, SfuPool

from .helpers import AudioLog, dominant_frequency, new_key, run


@pytest.mark.slow
def test_rooms_on_a_worker_pool_carry_calls() -> None:
    async def scenario() -> None:
        async with SfuPool(2) as pool:
            for i in range(2):
                assert await pool.call(i, "keyless") == {"crypto_modules": [], "guard": True}
            rooms = [pool.room("r1"), pool.room("r2")]
            logs: dict[str, AudioLog] = {}
            endpoints: list[MediaEndpoint] = []
            for r, sfu in enumerate(rooms):
                a_id, b_id = f"a{r}", f"b{r}"
                ka, kb = new_key(), new_key()
                logs[a_id], logs[b_id] = AudioLog(), AudioLog()
                a = MediaEndpoint(a_id, on_audio=logs[a_id])
                b = MediaEndpoint(b_id, on_audio=logs[b_id])
                a.set_sender_key(1, ka)
                b.set_sender_key(2, kb)
                a.add_participant_key(b_id, 2, kb)
                b.add_participant_key(a_id, 1, ka)
                a.publish(pcm_frames([tone(440, 1.0)]))
                b.publish(pcm_frames([tone(660, 1.0)]))
                for ep in (a, b):
                    answer = await sfu.add_participant(ep.participant_id, await ep.create_offer())
                    await ep.accept_answer(answer)
                assert sfu.subscribe(b_id, a_id) == sfu.subscribe(b_id, a_id)  # idempotent
                sfu.subscribe(a_id, b_id)
                endpoints += [a, b]
            # a listener with one slot: a second subscription is refused locally, typed
            eve = MediaEndpoint("e0")
            answer = await rooms[0].add_participant("e0", await eve.create_offer())
            await eve.accept_answer(answer)
            endpoints.append(eve)
            rooms[0].subscribe("e0", "a0")
            with pytest.raises(NoReceiveSlot):
                rooms[0].subscribe("e0", "b0")
            with pytest.raises(UnknownParticipant):
                rooms[0].subscribe("a0", "a1")  # a1 is in the other room
            assert rooms[0].worker_pid != rooms[1].worker_pid
            assert set(pool.worker_pids) == {rooms[0].worker_pid, rooms[1].worker_pid}
            try:
                await asyncio.gather(*(ep.wait_connected() for ep in endpoints))
                await rooms[0].wait_connected("a0")
                while any(ep.publishing for ep in endpoints):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                stats = {s.participant_id: s for sfu in rooms for s in await sfu.stats_all()}
                load = await pool.call(0, "load")
            finally:
                for ep in endpoints:
                    await ep.close()
                for sfu in rooms:
                    await sfu.close()
            assert load["rooms"] == 1 and load["participants"] in (2, 3)
            assert rooms[0].participants == [] and await rooms[0].stats_all() == []
        for r in range(2):
            assert abs(dominant_frequency(logs[f"b{r}"].pcm(f"a{r}")) - 440) < 5
            assert abs(dominant_frequency(logs[f"a{r}"].pcm(f"b{r}")) - 660) < 5
        # eve's DTLS comes up last, while a0 is already sending: the frames a0 sent before
        # that are not forwarded to her (no keys yet), so on a loaded machine she misses a few
        assert stats["e0"].packets_out >= 35
        for pid, s in stats.items():
            if pid == "e0":
                continue
            assert s.packets_in >= 45 and s.packets_out >= 45, pid
            assert s.srtp_profile in ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")

    run(scenario(), timeout=60)


def test_pooled_sfu_handle_is_free_until_used() -> None:
    async def scenario() -> None:
        sfu = PooledSfu()  # no pool, no worker: what dict.setdefault(room, PooledSfu()) builds
        assert sfu.participants == [] and sfu.worker_pid is None
        assert await sfu.stats_all() == []
        with pytest.raises(UnknownParticipant):
            sfu.subscribe("a", "b")
        await sfu.close()

    run(scenario())
