"""Two SDK clients in one room hear each other; a third joins and leaves; the rekey is visible.

    python examples/two_clients.py --url https://localhost:8443 \\
        --ca ~/.voxseal/tls/dev-ca.pem --api-key vxk_…        # the key `voxseal demo` printed

The backend API key mints three join tokens over the REST API; every client then agrees its
SFrame keys with the others through the gateway, which relays them sealed and forwards the
encrypted audio without being able to read either.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

from voxseal.audio import SAMPLE_RATE
from voxseal.media.audio import pcm_frames, tone
from voxseal.sdk import Audio, RoomClient
from voxseal.signaling.tls import client_context


def dominant_hz(chunks: list[np.ndarray]) -> float:
    x = np.concatenate(chunks)[SAMPLE_RATE // 10 :].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(x))


async def main(url: str, ca: Path, api_key: str, room: str) -> int:
    with httpx.Client(base_url=url, verify=client_context(ca)) as http:

        def mint(identity: str) -> str:
            r = http.post(
                f"/v1/rooms/{room}/tokens",
                headers={"authorization": f"Bearer {api_key}"},
                json={"identity": identity, "grants": ["publish", "subscribe"]},
            )
            if r.status_code != 201:
                sys.exit(f"cannot mint a join token: {r.status_code} {r.json().get('error')}")
            return str(r.json()["token"])

        tokens = {who: mint(who) for who in ("caller", "agent", "visitor")}

    heard: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))

    def ears(me: str):  # type: ignore[no-untyped-def]
        return lambda who, pcm: heard[me][who].append(pcm)

    def voice(hz: float, me: str) -> Audio:
        """Say a tone for 20 s; keep what the others say, per speaker."""
        return Audio(pcm_frames([tone(hz, 20)]), receive_slots=3, on_audio=ears(me))

    caller = await RoomClient.connect(url, tokens["caller"], ca_file=ca, audio=voice(440, "caller"))
    agent = await RoomClient.connect(url, tokens["agent"], ca_file=ca, audio=voice(660, "agent"))
    await caller.wait_keyed("agent")
    await agent.wait_keyed("caller")
    print(f"safety number (caller's view): {caller.safety_number('agent').digits}")
    print(f"safety number (agent's view):  {agent.safety_number('caller').digits}")
    print(f"emoji: {' '.join(caller.safety_number('agent').emoji)}")
    await asyncio.sleep(2)
    print(f"caller hears the agent at {dominant_hz(heard['caller']['agent']):.0f} Hz (sent 660)")
    print(f"agent hears the caller at {dominant_hz(heard['agent']['caller']):.0f} Hz (sent 440)")

    print(f"caller's key epoch: {caller.session.epoch}")
    visitor = await RoomClient.connect(
        url, tokens["visitor"], ca_file=ca, audio=voice(880, "visitor")
    )
    await visitor.wait_keyed("caller")
    print(f"visitor joined; caller's key epoch: {caller.session.epoch} (a join keeps the epoch)")
    await visitor.leave()
    await caller.next_event("participant_left")
    print(f"visitor left; caller's key epoch: {caller.session.epoch} (a leave starts a new one)")
    stats = await caller.media_stats()
    print(f"caller's SRTP profile: {stats.srtp_profile}; rejected frames: {caller.rejected_frames}")
    print(f"caller's E2EE state: {caller.e2ee_state}")
    await agent.leave()
    await caller.leave()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://localhost:8443")
    parser.add_argument("--ca", type=Path, default=Path.home() / ".voxseal/tls/dev-ca.pem")
    parser.add_argument("--api-key", required=True, help="a backend API key (vxk_…)")
    parser.add_argument("--room", default="example")
    a = parser.parse_args()
    sys.exit(asyncio.run(main(a.url, a.ca.expanduser(), a.api_key, a.room)))
