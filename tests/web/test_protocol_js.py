"""The browser's copy of the protocol (``web/src/protocol.js``) is the Python one's.

The message types and close codes are defined once, in :mod:`voxseal.signaling.protocol`;
the JS module is generated from it (``python -m voxseal.signaling.protocol --js``). The first
test fails when someone changes one side and not the other; the second loads the module in
node, so what the page imports (not just the text) is checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.harness.browser import WEB_DIR, require_node
from voxseal.signaling.protocol import (
    JS_MODULE,
    PROTOCOL_VERSION,
    Close,
    MessageType,
    javascript_module,
)

PROTOCOL_JS = WEB_DIR.parent / JS_MODULE
REGENERATE = (
    f"run `python -m voxseal.signaling.protocol --js > {JS_MODULE}`, rebuild (npm run build in"
    " web/) and commit both"
)


def test_the_generated_module_is_current() -> None:
    assert PROTOCOL_JS.read_text() == javascript_module(), REGENERATE


def test_the_generator_prints_the_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "voxseal.signaling.protocol", "--js"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout == javascript_module()


def test_node_sees_the_same_names_and_codes() -> None:
    require_node()
    node = shutil.which("node")
    assert node is not None
    script = (
        f"const p = await import({json.dumps(PROTOCOL_JS.as_uri())});"
        "console.log(JSON.stringify({v: p.PROTOCOL_VERSION, t: p.MessageType, c: p.Close,"
        " frozen: Object.isFrozen(p.MessageType) && Object.isFrozen(p.Close)}));"
    )
    proc = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=WEB_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["v"] == PROTOCOL_VERSION
    assert seen["t"] == {m.name: m.value for m in MessageType}, REGENERATE
    assert seen["c"] == {c.name: c.value for c in Close}, REGENERATE
    assert seen["frozen"] is True


def test_no_page_source_spells_a_close_code() -> None:
    """The close codes reach the page only through the generated module."""
    codes = {str(c.value) for c in Close if c.value >= 4000}
    for path in (WEB_DIR / "src").rglob("*.js"):
        if path == PROTOCOL_JS:
            continue
        text = path.read_text()
        assert not [c for c in codes if c in text], f"{path.name} spells a close code"
