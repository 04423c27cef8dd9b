"""An acknowledged event is on disk: a real child process appends, prints every acked seq,
and is killed with SIGKILL mid-stream; every printed seq must be there and the chain intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from voxseal.audit import verify_chain
from voxseal.audit.schema import MIGRATIONS
from voxseal.keyfiles import load_or_create_ed25519
from voxseal.store import open_store

SRC = Path(__file__).resolve().parents[2] / "src"


def test_kill_9_loses_no_acknowledged_event(database_url: str, data_dir: Path) -> None:
    key_path = data_dir / "audit-signing.pem"
    open_store(database_url, migrations=[MIGRATIONS]).close()  # schema exists before the child
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), str(SRC.parent), env.get("PYTHONPATH", "")) if p
    )
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("appender.py")), database_url,
         str(key_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    acked: list[int] = []
    try:
        assert child.stdout is not None
        first = child.stdout.readline().strip()
        assert first == "ready", child.stderr.read() if child.stderr else first
        while len(acked) < 300:
            line = child.stdout.readline()
            assert line, "child died early"
            acked.append(int(line))
        child.send_signal(signal.SIGKILL)  # mid-stream: more appends are in flight
        for line in child.stdout:  # whatever was acked before the kill landed
            if line.strip():
                acked.append(int(line))
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    db = open_store(database_url, migrations=[MIGRATIONS])
    try:
        stored = {int(r[0]) for r in db.execute("SELECT seq FROM audit_log")}
        assert set(acked) <= stored, f"lost acknowledged seqs: {sorted(set(acked) - stored)[:10]}"
        assert len(set(acked)) == len(acked)
        report = verify_chain(db, load_or_create_ed25519(key_path).public_key())
        assert report.ok, report.problem
        assert report.records_checked == len(stored) >= 300
        assert report.checkpoints_checked >= 1
    finally:
        db.close()
