"""The browser E2EE library's fast unit tests (web/test/*.test.mjs), run by node's test runner.

Node 20 has the same WebCrypto as the browser, so these cover the session logic and the RFC
vectors (tests/vectors) in about a second; the Python interop checks are in
test_e2ee_interop.py (under node too). Missing node skips locally and fails on CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.harness.browser import WEB_DIR, require_node
from tests.harness.environment import VECTORS_DIR


def test_node_unit_tests_pass() -> None:
    require_node()
    node = shutil.which("node")
    assert node is not None
    files = sorted(str(p.relative_to(WEB_DIR)) for p in (WEB_DIR / "test").glob("*.test.mjs"))
    assert files, "no node tests found in web/test"
    proc = subprocess.run(
        [node, "--test", *files],
        cwd=WEB_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VOXSEAL_VECTORS_DIR": str(VECTORS_DIR)},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout
