"""``voxseal call``: the recording timeline, and real calls —
two ``python -m voxseal call`` processes in one room of a real gateway hear each other."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.audio.wavfiles import tone_wav
from tests.harness.gateway import RunningGateway
from tests.harness.rooms import token
from tests.media.helpers import dominant_frequency

from voxseal.audio import read_wav
from voxseal.sdk import RoomClient
from voxseal.sdk.call import (
    EXIT_BAD_INPUT,
    EXIT_E2EE_FAILED,
    EXIT_JOIN_REFUSED,
    EXIT_OK,
    Recording,
    run_call,
)

ROOM = "call-room"


# -- the recording timeline --------------------------------------------------------------------


def test_recording_mixes_on_one_timeline_and_keeps_pauses(tmp_path: Path) -> None:
    now = [0.0]
    rec = Recording(tmp_path / "out.wav", clock=lambda: now[0])
    rec.start()

    def at(t: float, who: str, value: int = 1000) -> None:
        now[0] = t
        rec.add(who, np.full(960, value, np.int16))

    # bob from 0.1 s for 1 s; carol from 0.5 s, pauses 0.5 s at 0.8 s, then 0.3 s more
    for i in range(50):
        at(0.1 + 0.02 * (i + 1) + (0.004 if i % 3 else 0.0), "bob")  # jittered arrivals
    for i in range(15):
        at(0.5 + 0.02 * (i + 1), "carol", 2000)
    for i in range(15):
        at(1.3 + 0.02 * (i + 1), "carol", 2000)
    now[0] = 2.0
    seconds = rec.close()
    assert seconds == pytest.approx(2.0, abs=0.001)
    assert rec.files == [tmp_path / "out.wav", tmp_path / "out-bob.wav", tmp_path / "out-carol.wav"]

    # identities become safe, distinct file names
    assert rec.participant_path("../agent 1") == tmp_path / "out-_agent_1.wav"

    mix = read_wav(tmp_path / "out.wav")
    bob = read_wav(tmp_path / "out-bob.wav")
    carol = read_wav(tmp_path / "out-carol.wav")
    assert len(bob) == round(0.12 * 48_000) - 960 + 50 * 960  # leading silence, then contiguous
    assert not bob[:4800].any() and (bob[-50 * 960 :] == 1000).all()  # no gaps
    # carol's pause stays a pause (≈ 0.5 s of silence), not squeezed out
    voiced = np.flatnonzero(carol)
    gap = np.diff(voiced).max()
    assert abs(gap - 0.5 * 48_000) < 960
    # the mix is the sum where they overlap, each alone elsewhere
    assert set(np.unique(mix)) <= {0, 1000, 2000, 3000}
    assert (mix == 3000).sum() == pytest.approx(15 * 960, abs=960)


# -- real calls through a real gateway ---------------------------------------------------------


def voxseal_call(gw: RunningGateway, tok: str, *args: str | Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "voxseal",
        "call",
        gw.base_url,
        "--token",
        tok,
        "--ca",
        str(gw.ca_file),
        *map(str, args),
    ]


def wait_for_line(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, path.read_text(errors="replace")
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not printed within {timeout} s")


def safety_digits(output: str, peer: str) -> str:
    m = re.search(rf"safety number with {peer}: ([0-9 ]+)", output)
    assert m, output
    return m.group(1).strip()


@pytest.mark.slow
def test_two_calls_hear_each_other_end_to_end(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    gw = gateway_server
    # alice speaks a 16 kHz stereo file, bob a 44.1 kHz mono 24-bit one: both are converted
    alice_wav = tone_wav(tmp_path / "alice.wav", 440, 16_000, 2.5, channels=2)
    bob_wav = tone_wav(tmp_path / "bob.wav", 660, 44_100, 2.5, width=3)
    ta = token(gw, ROOM, "alice", "publish", "subscribe")
    tb = token(gw, ROOM, "bob", "publish", "subscribe")
    logs = {n: (tmp_path / f"{n}.out", tmp_path / f"{n}.err") for n in ("alice", "bob")}

    def start(name: str, *args: str | Path) -> subprocess.Popen[bytes]:
        out, err = logs[name]
        tok = ta if name == "alice" else tb
        with out.open("wb") as o, err.open("wb") as e:
            return subprocess.Popen(voxseal_call(gw, tok, *args), stdout=o, stderr=e, env=gw.env)

    t0 = time.monotonic()
    # alice stays a fixed time (file once, then silence); bob leaves ~1 s after his file ends
    alice = start(
        "alice", "--play", alice_wav, "--record", tmp_path / "a.wav",
        "--duration", "9", "--expect-peer", "bob",
    )  # fmt: skip
    try:
        wait_for_line(logs["alice"][0], "joined room", alice, 30)
        bob = start(
            "bob", "--play", bob_wav, "--record", tmp_path / "b.wav", "--expect-peer", "alice"
        )
        try:
            assert bob.wait(timeout=40) == EXIT_OK, logs["bob"][1].read_text()
        finally:
            bob.kill()
        assert alice.wait(timeout=40) == EXIT_OK, logs["alice"][1].read_text()
    finally:
        alice.kill()
    elapsed = time.monotonic() - t0
    out_a, out_b = (logs[n][0].read_text() for n in ("alice", "bob"))
    err_a, err_b = (logs[n][1].read_text() for n in ("alice", "bob"))

    # each hears the other's tone, in the mix and in the per-participant file
    assert abs(dominant_frequency(read_wav(tmp_path / "a.wav")) - 660) < 10
    assert abs(dominant_frequency(read_wav(tmp_path / "a-bob.wav")) - 660) < 10
    assert abs(dominant_frequency(read_wav(tmp_path / "b.wav")) - 440) < 10
    assert abs(dominant_frequency(read_wav(tmp_path / "b-alice.wav")) - 440) < 10
    assert len(read_wav(tmp_path / "a.wav")) >= 9 * 48_000  # the mix spans the whole call

    # both print the same safety number, with emoji; the room events and E2EE state
    assert safety_digits(out_a, "bob") == safety_digits(out_b, "alice")
    assert len(safety_digits(out_a, "bob").replace(" ", "")) == 60
    assert "safety emoji with bob:" in out_a
    assert "+ bob joined" in out_a and "- bob left" in out_a
    assert "rekeyed: our sender key is now epoch" in out_a  # bob left: alice rotates
    assert "hearing bob (decrypted audio)" in out_a
    assert re.search(r"peers keyed during the call: bob \([1-9]\d* frames decrypted\)", out_a)
    assert "playing" in out_b and "(2.50 s, 44100 Hz mono 24-bit → 48 kHz mono)" in out_b
    for out in (out_a, out_b):
        assert re.search(r"E2EE: epoch \d+, .*rejected frames: 0", out), out
        assert re.search(r"media: SRTP_AEAD_AES_(128|256)_GCM", out), out
    # bearer tokens are never echoed
    for text in (out_a, out_b, err_a, err_b):
        assert ta not in text and tb not in text
    assert elapsed < 30


@pytest.mark.slow
def test_a_refused_token_exits_3_with_the_gateway_reason(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    bad = "eyJhbGciOiJFZERTQSJ9.not-a-real-token.c2ln"
    p = subprocess.run(
        voxseal_call(gateway_server, bad, "--duration", "1"),
        capture_output=True,
        text=True,
        timeout=60,
        env=gateway_server.env,
    )
    assert p.returncode == EXIT_JOIN_REFUSED
    line = p.stderr.strip().splitlines()[-1]
    assert re.match(r"voxseal call: join refused \(\w+\): .*\(close code 4\d\d\d\)$", line), line
    assert bad not in p.stdout + p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_a_malformed_wav_exits_2_before_joining(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00")
    tok = token(gateway_server, ROOM, "malformed", "publish")
    p = subprocess.run(
        voxseal_call(gateway_server, tok, "--play", bad),
        capture_output=True,
        text=True,
        timeout=60,
        env=gateway_server.env,
    )
    assert p.returncode == EXIT_BAD_INPUT
    assert p.stderr.strip() == f"voxseal call: {bad}: the file is truncated (incomplete WAV header)"
    assert "joined" not in p.stdout


def call_in_process(gw: RunningGateway, tok: str, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options: dict[str, object] = {
        "play": None,
        "record": None,
        "duration": 1.0,
        "ca_file": gw.ca_file,
        **kw,
    }
    code = asyncio.run(run_call(gw.base_url, tok, out=out, err=err, **options))  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_an_expected_peer_that_never_keys_exits_4(gateway_server: RunningGateway) -> None:
    tok = token(gateway_server, ROOM, "lonely", "subscribe")
    code, out, err = call_in_process(gateway_server, tok, expect_peers=["ghost"], key_timeout=0.5)
    assert code == EXIT_E2EE_FAILED, err
    assert err.startswith("voxseal call: end-to-end encryption with 'ghost' was not established")
    assert len(err.strip().splitlines()) == 1
    assert "E2EE: epoch" in out  # the state is still reported


@pytest.mark.slow
def test_playing_without_a_publish_grant_exits_3(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    wav = tone_wav(tmp_path / "t.wav", 440, 8_000, 0.2)
    tok = token(gateway_server, ROOM, "listener", "subscribe")
    code, _, err = call_in_process(gateway_server, tok, play=wav)
    assert code == EXIT_JOIN_REFUSED and "publish grant" in err


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"url": "http://localhost:1"}, "https:// or wss://"),
        ({"ca_file": Path("/nonexistent/ca.pem")}, "does not exist"),
        ({"duration": -1.0}, "--duration"),
        ({"record": Path("/nonexistent/dir/out.wav")}, "cannot write"),
    ],
)
def test_bad_arguments_exit_2_without_touching_the_network(
    kw: dict[str, object], message: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    options: dict[str, object] = {
        "play": None,
        "record": None,
        "duration": 1.0,
        "ca_file": None,
        **kw,
    }
    url = str(options.pop("url", "https://localhost:1"))
    code = asyncio.run(run_call(url, "T0KEN", out=out, err=err, **options))  # type: ignore[arg-type]
    assert code == EXIT_BAD_INPUT
    assert message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
    assert "T0KEN" not in out.getvalue() + err.getvalue()


@pytest.mark.slow
def test_ctrl_c_ends_an_open_ended_call_cleanly(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    """No --play and no --duration: stay until interrupted, then report and exit 0."""
    tok = token(gateway_server, ROOM, "idler", "subscribe")
    out = tmp_path / "idler.out"
    with out.open("wb") as o:
        p = subprocess.Popen(
            voxseal_call(gateway_server, tok, "--record", tmp_path / "idle.wav"),
            stdout=o,
            stderr=subprocess.PIPE,
            env=gateway_server.env,
        )
    try:
        wait_for_line(out, "recording to", p, 30)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == EXIT_OK
    finally:
        p.kill()
    text = out.read_text()
    assert "E2EE: epoch 1" in text and "not publishing" in text
    assert len(read_wav(tmp_path / "idle.wav")) >= 0.5 * 48_000  # silence for the whole stay


@pytest.mark.slow
def test_being_removed_from_the_room_exits_3(
    gateway_server: RunningGateway, tmp_path: Path
) -> None:
    tok = token(gateway_server, ROOM, "removable", "subscribe")
    out = tmp_path / "removable.out"
    with out.open("wb") as o:
        p = subprocess.Popen(
            voxseal_call(gateway_server, tok, "--duration", "30"),
            stdout=o,
            stderr=subprocess.PIPE,
            text=True,
            env=gateway_server.env,
        )
    try:
        wait_for_line(out, "joined room", p, 30)

        async def remove() -> None:
            sup_token = token(gateway_server, ROOM, "supervisor", "subscribe", "admin")
            async with await RoomClient.connect(
                gateway_server.base_url, sup_token, ca_file=gateway_server.ca_file
            ) as sup:
                await sup.wait_keyed("removable")
                await sup.remove("removable")
                await sup.next_event("participant_left")

        asyncio.run(asyncio.wait_for(remove(), 30))
        assert p.wait(timeout=30) == EXIT_JOIN_REFUSED
        assert p.stderr is not None
        err = p.stderr.read()
    finally:
        p.kill()
    assert re.fullmatch(r"voxseal call: disconnected by the gateway: .*\(close code \d+\)\n", err)
    assert "+ supervisor joined" in out.read_text()


@pytest.mark.slow
def test_the_token_can_come_from_the_environment(gateway_server: RunningGateway) -> None:
    """``VOXSEAL_TOKEN`` keeps the token out of ``ps``; without any token: exit 2."""
    base = [sys.executable, "-m", "voxseal", "call", gateway_server.base_url]
    base += ["--ca", str(gateway_server.ca_file), "--duration", "1"]
    bad = "eyJhbGciOiJFZERTQSJ9.not-a-real-token.c2ln"
    env = {**gateway_server.env, "VOXSEAL_TOKEN": bad}
    p = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == EXIT_JOIN_REFUSED and "token_invalid" in p.stderr
    env.pop("VOXSEAL_TOKEN")
    p = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == EXIT_BAD_INPUT and "VOXSEAL_TOKEN" in p.stderr
