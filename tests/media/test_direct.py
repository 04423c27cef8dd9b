"""Two real aiortc endpoints on loopback, no SFU: SFrame over encoded frames, both directions."""

from __future__ import annotations

import asyncio

import pytest

from voxseal.media.audio import pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.media.errors import E2EENotReady

from .helpers import dominant_frequency, run, tone_pair


async def _connect(offerer: MediaEndpoint, answerer: MediaEndpoint) -> None:
    answer = await answerer.accept_offer(await offerer.create_offer())
    await offerer.accept_answer(answer)
    await asyncio.gather(offerer.wait_connected(), answerer.wait_connected())


@pytest.mark.slow
def test_two_endpoints_hear_each_other_end_to_end() -> None:
    async def scenario() -> None:
        pair = tone_pair(1.5)
        a, b, heard_a, heard_b = pair.a, pair.b, pair.heard_a, pair.heard_b
        try:
            await _connect(a, b)
            await asyncio.sleep(1.8)
            sa, sb = await a.stats(), await b.stats()
        finally:
            await a.close()
            await b.close()
        assert abs(dominant_frequency(heard_b.pcm("alice")) - 440) < 5
        assert abs(dominant_frequency(heard_a.pcm("bob")) - 660) < 5
        for s in (sa, sb):
            assert s.srtp_profile in ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")
            assert s.srtp_rtp_failures == 0
            assert s.receive.rejected == 0
            # the jitter buffer holds back the last few frames of a finite source
            assert s.receive.frames_decoded >= 60
            assert s.send is not None and s.send.frames_sent == 75

    run(scenario())


def test_publishing_without_a_sender_key_is_refused() -> None:
    async def scenario() -> None:
        ep = MediaEndpoint("carol")
        with pytest.raises(E2EENotReady):
            ep.publish(pcm_frames([tone(440, 0.1)]))
        await ep.close()

    run(scenario())
