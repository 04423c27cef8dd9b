"""Call set-up time through the real gateway, post-quantum key exchange included.

    python benchmarks/setup_bench.py [--calls 20]

Starts ``voxseal serve`` on loopback (a temporary data dir, the dev CA), then for each call:
the caller is already in its room; the agent connects with the SDK (TLS 1.3 WebSocket, join
token, HPKE/X-Wing sealed sender keys both ways, DTLS-SRTP to the SFU) and we time
*join start → first decrypted audio frame at the agent* and *… at the caller*. Baseline timed
in the same run: a bare aiortc pair on loopback (offer/answer in process, no signaling, no
E2EE) from offer to first decoded frame — the part of the set-up that is WebRTC itself.

Target (issue 4): join → first decrypted frame p50 ≤ 200 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx

from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.identity.tokens import JoinGrants
from voxseal.media.audio import pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.sdk import Audio, RoomClient
from voxseal.signaling.tls import client_context

TARGET_MS = 200.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VOXSEAL_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voxseal",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ca = data_dir / "tls" / "dev-ca.pem"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ca.exists():
            try:
                with httpx.Client(verify=client_context(ca)) as c:
                    if c.get(f"https://localhost:{port}/healthz").status_code == 200:
                        return proc
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the gateway did not start")


async def one_call(url: str, ca: Path, caller_token: str, agent_token: str) -> tuple[float, float]:
    first: dict[str, float] = {}

    def ears(me: str):  # type: ignore[no-untyped-def]
        def on_audio(_who: str, _pcm: object) -> None:
            first.setdefault(me, time.perf_counter())

        return on_audio

    caller = await RoomClient.connect(
        url, caller_token, ca_file=ca, audio=Audio(pcm_frames([tone(440, 10)]), 1, ears("caller"))
    )
    start = time.perf_counter()
    agent = await RoomClient.connect(
        url, agent_token, ca_file=ca, audio=Audio(pcm_frames([tone(660, 10)]), 1, ears("agent"))
    )
    while len(first) < 2 and time.perf_counter() - start < 10:
        await asyncio.sleep(0.002)
    await agent.leave()
    await caller.leave()
    if len(first) < 2:
        raise SystemExit("no audio within 10 s")
    return (first["agent"] - start) * 1000, (first["caller"] - start) * 1000


async def bare_aiortc_pair() -> float:
    """Offer → first decoded frame for two aiortc endpoints with fixed keys, no gateway."""
    key = os.urandom(16)
    got: list[float] = []
    a = MediaEndpoint("a", receive_slots=0)
    b = MediaEndpoint("b", on_audio=lambda _p, _pcm: got.append(time.perf_counter()))
    a.set_sender_key(1, key)
    b.add_participant_key("a", 1, key)
    a.publish(pcm_frames([tone(440, 10)]))
    start = time.perf_counter()
    answer = await b.accept_offer(await a.create_offer())
    await a.accept_answer(answer)
    while not got and time.perf_counter() - start < 10:
        await asyncio.sleep(0.002)
    await a.close()
    await b.close()
    return (got[0] - start) * 1000


def p(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        proc = start_gateway(data_dir, port)
        try:
            gw = Gateway.open(load_settings(env={}, overrides={"data_dir": str(data_dir)}))
            try:
                tokens = [
                    (
                        gw.tokens.issue_join(f"r{i}", "caller", JoinGrants(True, True)).token,
                        gw.tokens.issue_join(f"r{i}", "agent", JoinGrants(True, True)).token,
                    )
                    for i in range(calls)
                ]
            finally:
                gw.close()
            url, ca = f"https://localhost:{port}", data_dir / "tls" / "dev-ca.pem"
            await one_call(url, ca, *tokens[0])  # warm-up: imports, first TLS session
            agent_ms, caller_ms, bare_ms = [], [], []
            for i in range(calls):
                a, c = await one_call(url, ca, *tokens[i])
                agent_ms.append(a)
                caller_ms.append(c)
                bare_ms.append(await bare_aiortc_pair())
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    print(f"call set-up over the gateway, {calls} calls (ms)        p50      p90")
    rows = (
        ("bare aiortc pair: offer -> first decoded frame", bare_ms),
        ("agent joins -> first decrypted frame at agent", agent_ms),
        ("agent joins -> first decrypted frame at caller", caller_ms),
    )
    for label, values in rows:
        print(f"  {label:<46}  {p(values, 50):7.1f}  {p(values, 90):7.1f}")
    worst = max(p(agent_ms, 50), p(caller_ms, 50))
    print(f"  ratio to the bare pair (p50)                    {worst / p(bare_ms, 50):7.2f}x")
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    print(
        f"target join -> first decrypted frame p50 <= {TARGET_MS:.0f} ms: {worst:.0f} ms {verdict}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    asyncio.run(main(parser.parse_args().calls))
