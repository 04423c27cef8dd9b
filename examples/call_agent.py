"""Call the AI agent from Python: speak a WAV, print the redacted transcript and the reply.

    python examples/call_agent.py --api-key vxk_… --wav hello.wav    # key from `voxseal demo`
    python examples/call_agent.py --api-key vxk_… --say "hello, I would like to pay my bill" \
        --say "the card number is four one one one one one one one one one one one one one one one"

The backend API key mints a join token and asks the gateway for an agent (for the demo's data
subject, whose consents allow transcription); the SDK joins with E2EE and speaks. The agent
transcribes on-prem, redacts, answers, and streams the *redacted* transcript back end to end —
the gateway relays only ciphertext. The agent's voice is saved with --save-reply.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

from voxseal.audio import SAMPLE_RATE, read_wav, write_wav
from voxseal.media.audio import pcm_frames
from voxseal.sdk import Audio, RoomClient
from voxseal.signaling.tls import client_context


def speech(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng as 48 kHz mono int16 (for callers without a WAV)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "175", "--stdout", text], capture_output=True, check=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        path.write_bytes(wav.stdout)
        return read_wav(path)


async def main(a: argparse.Namespace) -> int:
    if a.wav:
        pcm = read_wav(Path(a.wav))
    else:  # each --say is one utterance, with a pause after it as a person would leave
        pause = np.zeros(int(SAMPLE_RATE * 1.5), dtype=np.int16)
        pcm = np.concatenate([part for text in a.say for part in (speech(text), pause)])
    pcm = np.concatenate([pcm, np.zeros(SAMPLE_RATE * 4, dtype=np.int16)])  # time to answer
    auth = {"authorization": f"Bearer {a.api_key}"}
    with httpx.Client(base_url=a.url, verify=client_context(a.ca), headers=auth) as http:
        r = http.post(
            f"/v1/rooms/{a.room}/tokens",
            json={"identity": "caller", "grants": ["publish", "subscribe"]},
        )
        if r.status_code != 201:
            sys.exit(f"cannot mint a join token: {r.status_code} {r.json().get('error')}")
        token = r.json()["token"]
        r = http.post(f"/v1/rooms/{a.room}/agent", json={"subject_id": a.subject})
        if r.status_code != 202:
            sys.exit(f"cannot request an agent: {r.status_code} {r.json().get('error')}")

    reply: list[np.ndarray] = []
    room = await RoomClient.connect(
        a.url,
        token,
        ca_file=a.ca,
        audio=Audio(pcm_frames([pcm]), 2, lambda who, frame: reply.append(frame)),
    )

    async def show_transcript() -> None:
        async for event in room.events():
            if event["type"] == "data" and event["data"].get("kind") == "transcript":
                d = event["data"]
                print(f"[{d['speaker']}] {d['text']}", flush=True)

    printer = asyncio.create_task(show_transcript())
    try:
        await room.wait_keyed(f"agent:{a.agent}", timeout=30)
        print(f"safety number with the agent: {room.safety_number(f'agent:{a.agent}').digits}")
        await asyncio.sleep(len(pcm) / SAMPLE_RATE + 1)
    finally:
        printer.cancel()
        await room.leave()
    if a.save_reply and reply:
        write_wav(Path(a.save_reply), np.concatenate(reply))
        print(f"agent's voice saved to {a.save_reply}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://localhost:8443")
    parser.add_argument("--ca", type=Path, default=Path.home() / ".voxseal/tls/dev-ca.pem")
    parser.add_argument("--api-key", required=True, help="a backend API key (vxk_…)")
    parser.add_argument("--room", default="support-1")
    parser.add_argument("--subject", default="demo-caller", help="the data subject (consents)")
    parser.add_argument("--agent", default="demo", help="the agent worker's name")
    talk = parser.add_mutually_exclusive_group(required=True)
    talk.add_argument("--wav", help="a WAV file to speak")
    talk.add_argument("--say", action="append", help="text to speak with espeak-ng (repeatable)")
    parser.add_argument("--save-reply", help="write the agent's voice to this WAV")
    args = parser.parse_args()
    args.ca = args.ca.expanduser()
    sys.exit(asyncio.run(main(args)))
