"""The README's SDK example runs as documented against a real gateway."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.harness.gateway import RunningGateway

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "two_clients.py"


@pytest.mark.slow
def test_two_clients_example(gateway_server: RunningGateway) -> None:
    key = gateway_server.api_key("example-backend")
    r = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--url",
            gateway_server.base_url,
            "--ca",
            str(gateway_server.ca_file),
            "--api-key",
            key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    views = re.findall(r"safety number \(\w+'s view\):\s+([\d ]+)", out)
    assert len(views) == 2 and views[0] == views[1]
    hz = [float(x) for x in re.findall(r"at (\d+) Hz", out)]
    assert abs(hz[0] - 660) < 10 and abs(hz[1] - 440) < 10
    epochs = [int(x) for x in re.findall(r"key epoch: (\d+)", out)]
    assert epochs[0] == epochs[1] and epochs[2] == epochs[1] + 1
    assert "SRTP_AEAD" in out and key not in out
