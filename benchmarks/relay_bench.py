"""Media relay: concurrent 1:1 E2EE calls through the keyless SFU worker, against baselines.

    PYTHONPATH=src python3 benchmarks/relay_bench.py [--calls 5,10,20] [--seconds 4]

Measured in one run on this machine:

* **bare UDP relay** (baseline b): a child process doing blocking ``recvfrom``/``sendto`` of
  120-byte datagrams while the parent blasts them — the packets/s ceiling for Python here;
* **plain aiortc calls** (baseline a): N direct aiortc peer pairs, both sending pre-encoded Opus
  at 50 packets/s, no SFU, no SFrame: what aiortc alone costs per call;
* **SFU calls**: N 1:1 calls, each endpoint publishing SFrame-protected Opus at 50 frames/s
  through one SFU worker process (``python -m voxseal.media.worker``, SFrame import forbidden).
  Reported: loss (frames sent vs decrypted), the SFU's relay delay p50/p99 (tap → the
  subscriber's RTP sender), the SFU process's CPU, CPU µs per forwarded packet and the implied
  packets/s at 100 % of one core (ratio to the bare relay), and call set-up time (offer →
  first decrypted frame; the key exchange is not part of this benchmark).

Honest limits: endpoints (Opus encode + SFrame + aiortc) run in this one process, so on 2 cores
the load generator saturates long before the SFU does; the projected SFU capacity comes from its
measured CPU per packet, not from a run at that load. The issue's lean fast path (pylibsrtp +
batched reads instead of full aiortc per packet) is not built yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import av
from aiortc import MediaStreamTrack, RTCSessionDescription

from voxseal.media.audio import FRAME_SAMPLES, TIME_BASE, OpusFrameEncoder, pcm_frames, tone
from voxseal.media.endpoint import MediaEndpoint
from voxseal.media.peer import new_peer_connection, prefer_opus, wait_connected

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- baseline b: bare UDP relay --------------------------------------------------------------


def _relay(port_q: mp.Queue, sink_port: int, seconds: float, out_q: mp.Queue) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    port_q.put(rx.getsockname()[1])
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", sink_port)
    n = 0
    start = None
    deadline = None
    while True:
        try:
            data = rx.recv(2048)
        except TimeoutError:
            if start is not None:
                break
            continue
        if start is None:
            start = time.perf_counter()
            deadline = start + seconds
        tx.sendto(data, dest)
        n += 1
        if n & 1023 == 0 and time.perf_counter() > deadline:
            break
    out_q.put(n / (time.perf_counter() - start))


def bare_udp_relay_pps(seconds: float) -> float:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port_q: mp.Queue = mp.Queue()
    out_q: mp.Queue = mp.Queue()
    proc = mp.Process(target=_relay, args=(port_q, sink.getsockname()[1], seconds, out_q))
    proc.start()
    relay_port = port_q.get()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = os.urandom(120)
    dest = ("127.0.0.1", relay_port)
    end = time.perf_counter() + seconds + 0.5
    while time.perf_counter() < end and proc.is_alive():
        for _ in range(256):
            tx.sendto(payload, dest)
    pps = out_q.get(timeout=10)
    proc.join()
    return pps


# --- baseline a: plain aiortc calls ------------------------------------------------------------


class OpusPacketTrack(MediaStreamTrack):
    """Pre-encoded Opus at 50 packets/s (one frame of a tone, repeated): no SFrame, no encode."""

    kind = "audio"

    def __init__(self, payload: bytes) -> None:
        super().__init__()
        self._payload = payload
        self._n = 0
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> av.Packet:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self._n * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._payload)
        packet.pts = self._n * FRAME_SAMPLES
        packet.time_base = TIME_BASE
        self._n += 1
        self.sent += 1
        return packet


async def _drain(track: MediaStreamTrack) -> None:
    try:
        while True:
            await track.recv()
    except Exception:
        return


async def plain_aiortc_calls(n_calls: int, seconds: float) -> dict[str, Any]:
    enc = OpusFrameEncoder()
    pcm = tone(440, 0.1)
    payload = [enc.encode(pcm[i : i + FRAME_SAMPLES]) for i in range(0, 4800, FRAME_SAMPLES)][-1][0]
    pcs, tracks, drains = [], [], []
    for _ in range(n_calls):
        a, b = new_peer_connection(), new_peer_connection()
        ta, tb = OpusPacketTrack(payload), OpusPacketTrack(payload)
        for pc in (a, b):
            pc.on("track", lambda t: drains.append(asyncio.ensure_future(_drain(t))))
        prefer_opus(a.addTransceiver(ta, direction="sendrecv"))
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        b.getTransceivers()[0].sender.replaceTrack(tb)
        b.getTransceivers()[0].direction = "sendrecv"
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(
            RTCSessionDescription(sdp=b.localDescription.sdp, type="answer")
        )
        pcs += [a, b]
        tracks += [ta, tb]
    await asyncio.gather(*(wait_connected(pc, 20) for pc in pcs))
    await asyncio.sleep(0.5)

    async def counts() -> tuple[int, int]:
        received = 0
        for pc in pcs:
            for s in (await pc.getStats()).values():
                if getattr(s, "type", None) == "inbound-rtp":
                    received += s.packetsReceived
        return sum(t.sent for t in tracks), received

    sent0, received0 = await counts()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    sent1, received1 = await counts()
    # packets in flight at either edge of the window make this exact only to ~1 per stream
    sent, received = sent1 - sent0, received1 - received0
    for pc in pcs:
        await pc.close()
    for d in drains:
        d.cancel()
    return {"loss": max(0.0, 1 - received / sent) if sent else 1.0, "cpu": cpu}


# --- SFU calls ---------------------------------------------------------------------------------


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.n = 0
        self.lock = asyncio.Lock()

    @classmethod
    async def start(cls) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voxseal.media.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
        )
        return cls(proc)

    async def ok(self, op: str, **fields: Any) -> Any:
        async with self.lock:
            self.n += 1
            self.proc.stdin.write(json.dumps({"id": self.n, "op": op, **fields}).encode() + b"\n")
            await self.proc.stdin.drain()
            reply = json.loads(await self.proc.stdout.readline())
        if not reply["ok"]:
            raise RuntimeError(reply)
        return reply["result"]

    async def stop(self) -> None:
        await self.ok("shutdown")
        self.proc.stdin.close()
        await self.proc.wait()


async def sfu_calls(n_calls: int, seconds: float) -> dict[str, Any]:
    worker = await Worker.start()
    endpoints: list[MediaEndpoint] = []
    setup: list[float] = []
    firsts: dict[str, float] = {}
    total = seconds + 1.5

    def on_audio_for(name: str):
        def on_audio(_participant: str, _pcm: Any) -> None:
            firsts.setdefault(name, time.perf_counter())

        return on_audio

    starts: dict[str, float] = {}
    for c in range(n_calls):
        a_id, b_id = f"c{c}a", f"c{c}b"
        ka, kb = os.urandom(16), os.urandom(16)
        a = MediaEndpoint(a_id, on_audio=on_audio_for(a_id))
        b = MediaEndpoint(b_id, on_audio=on_audio_for(b_id))
        a.set_sender_key(2 * c + 1, ka)
        b.set_sender_key(2 * c + 2, kb)
        a.add_peer_key(b_id, 2 * c + 2, kb)
        b.add_peer_key(a_id, 2 * c + 1, ka)
        a.publish(pcm_frames([tone(440, total)]))
        b.publish(pcm_frames([tone(660, total)]))
        for ep in (a, b):
            starts[ep.participant_id] = time.perf_counter()
            answer = await worker.ok(
                "add_participant", participant=ep.participant_id, sdp=await ep.create_offer()
            )
            await ep.accept_answer(answer["sdp"])
        await worker.ok("subscribe", subscriber=b_id, publisher=a_id)
        await worker.ok("subscribe", subscriber=a_id, publisher=b_id)
        endpoints += [a, b]
    await asyncio.gather(*(ep.wait_connected(20) for ep in endpoints))
    await asyncio.sleep(0.5)
    pid = worker.proc.pid

    async def counts() -> tuple[int, int]:
        sent = decrypted = 0
        for ep in endpoints:
            st = await ep.stats()
            sent += st.send.frames_sent if st.send else 0
            decrypted += st.receive.frames_decrypted
        return sent, decrypted

    sent0, decrypted0 = await counts()
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    fwd0 = 0
    for ep in endpoints:
        fwd0 += (await worker.ok("stats", participant=ep.participant_id))["packets_out"]
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    sfu_cpu = cpu_seconds(pid) - cpu0
    sent1, decrypted1 = await counts()
    fwd1, delays50, delays99 = 0, [], []
    for ep in endpoints:
        s = await worker.ok("stats", participant=ep.participant_id)
        fwd1 += s["packets_out"]
        if s["relay_delay_p99_ms"] is not None:
            delays50.append(s["relay_delay_p50_ms"])
            delays99.append(s["relay_delay_p99_ms"])
    for name, t in firsts.items():
        setup.append(t - starts[name])
    for ep in endpoints:
        await ep.close()
    await worker.stop()
    forwarded = fwd1 - fwd0
    us_per_pkt = sfu_cpu / forwarded * 1e6 if forwarded else float("nan")
    # measured over the window; frames in flight at its edges make it exact to ~1 per stream
    sent, decrypted = sent1 - sent0, decrypted1 - decrypted0
    loss = max(0.0, 1 - decrypted / sent) if sent else 1.0
    return {
        "loss": loss,
        "relay_p50_ms": statistics.median(delays50) if delays50 else float("nan"),
        "relay_p99_ms": max(delays99) if delays99 else float("nan"),
        "sfu_cpu": sfu_cpu / elapsed,
        "us_per_pkt": us_per_pkt,
        "setup_p50_ms": statistics.median(setup) * 1000 if setup else float("nan"),
    }


async def main_async(calls: list[int], seconds: float, bare_pps: float) -> None:
    print(
        f"{'calls':>5} | {'aiortc loss':>11} {'aiortc cpu':>10} | {'SFU loss':>8} "
        f"{'relay p50':>9} {'relay p99':>9} {'SFU cpu':>7} {'µs/pkt':>7} "
        f"{'pkt/s@1core':>11} {'vs bare':>7} {'setup p50':>9}"
    )
    for n in calls:
        base = await plain_aiortc_calls(n, seconds)
        sfu = await sfu_calls(n, seconds)
        capacity = 1e6 / sfu["us_per_pkt"] if sfu["us_per_pkt"] == sfu["us_per_pkt"] else 0
        print(
            f"{n:>5} | {base['loss']:>10.2%} {base['cpu']:>9.0%} | {sfu['loss']:>7.2%} "
            f"{sfu['relay_p50_ms']:>7.2f}ms {sfu['relay_p99_ms']:>7.2f}ms {sfu['sfu_cpu']:>6.0%} "
            f"{sfu['us_per_pkt']:>7.0f} {capacity:>11,.0f} {capacity / bare_pps:>7.2f} "
            f"{sfu['setup_p50_ms']:>7.0f}ms",
            flush=True,
        )
    print(
        "\npkt/s@1core: forwarded packets/s the SFU process would reach at 100% of one core, "
        "from its measured CPU per packet; a 1:1 call is 100 forwarded packets/s, so the "
        "projected calls per core is that figure / 100."
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", default="5,10,20")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    calls = [int(x) for x in args.calls.split(",")]
    print(f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}")
    bare = bare_udp_relay_pps(2.0)
    print(f"baseline b — bare UDP relay: {bare:,.0f} packets/s (one Python process)\n")
    asyncio.run(main_async(calls, args.seconds, bare))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
