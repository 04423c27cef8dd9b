"""Telephony ingress: the CPU cost of one call's audio path, as ratios to a baseline.

Per 20 ms frame, inbound (a Twilio ``media`` JSON message → μ-law decode → 8 → 48 kHz) and
outbound (48 kHz → 8 kHz μ-law → ``media`` JSON), and the Vonage equivalents with L16 at
16 kHz. The baseline is what any adapter must do anyway: ``json.loads`` + base64 of the same
message. A call needs 50 frames/s in each direction: "calls/core" is what one core could
convert in that direction alone, and the last lines combine both directions of a call.

    python3 benchmarks/telephony_bench.py
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import numpy as np

from voxseal.telephony.twilio import TwilioSerializer
from voxseal.telephony.vonage import VonageSerializer

FRAMES = 3000


def rate(fn: Callable[[int], None], n: int = FRAMES, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    rng = np.random.default_rng(1)
    ulaw = [rng.integers(0, 256, 160, dtype=np.uint8).tobytes() for _ in range(64)]
    messages = [
        json.dumps(
            {
                "event": "media",
                "sequenceNumber": str(i + 2),
                "media": {
                    "track": "inbound",
                    "chunk": str(i + 1),
                    "timestamp": str(i * 20),
                    "payload": base64.b64encode(ulaw[i % 64]).decode(),
                },
                "streamSid": "MZ1",
            }
        )
        for i in range(FRAMES)
    ]
    start = json.dumps(
        {
            "event": "start",
            "start": {
                "streamSid": "MZ1",
                "callSid": "CA1",
                "accountSid": "AC1",
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": "MZ1",
        }
    )
    room = [(rng.standard_normal(960) * 3000).astype(np.int16) for _ in range(64)]
    l16 = [
        rng.integers(-3000, 3000, 320, dtype=np.int16).astype("<i2").tobytes() for _ in range(64)
    ]

    baseline = rate(lambda i: base64.b64decode(json.loads(messages[i])["media"]["payload"]))

    tw_in = TwilioSerializer()
    tw_in.deserialize(start)
    inbound = rate(lambda i: tw_in.deserialize(messages[i]))
    tw_out = TwilioSerializer()
    tw_out.deserialize(start)
    outbound = rate(lambda i: tw_out.serialize_audio(room[i % 64]))

    vg = VonageSerializer()
    vg.deserialize(
        json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=16000"})
    )
    vg_in = rate(lambda i: vg.deserialize(l16[i % 64]))
    vg_out = rate(lambda i: vg.serialize_audio(room[i % 64]))

    head = f"{'path (per 20 ms frame)':<44} {'frames/s':>10} {'× baseline':>11} {'calls/core':>11}"
    print(head)
    for name, r in (
        ("baseline: json.loads + base64 (Twilio media)", baseline),
        ("Twilio in: parse, μ-law, 8 → 48 kHz", inbound),
        ("Twilio out: 48 → 8 kHz, μ-law, JSON", outbound),
        ("Vonage in: L16 16 → 48 kHz", vg_in),
        ("Vonage out: 48 → 16 kHz L16", vg_out),
    ):
        print(f"{name:<44} {r:>10,.0f} {r / baseline:>11.3f} {r / 50:>11,.0f}")
    for name, a, b in (("Twilio", inbound, outbound), ("Vonage", vg_in, vg_out)):
        both = 1 / (50 / a + 50 / b)
        print(f"{name} call, both directions: {both:,.0f} calls per core (conversion only)")


if __name__ == "__main__":
    main()
