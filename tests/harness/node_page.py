"""A Node.js process that stands in for a browser page: ``NodePage.evaluate`` as Playwright's.

Why: the interop of the JavaScript E2EE library with the Python core (SFrame, bundles, the
session) is checked on every run of the default suite, where no browser is required. The
tests are written against one small surface, ``evaluate(expression, arg)``, which a
Playwright page and this class both offer; ``node_page.mjs`` loads the same bundles the page
loads and keeps its globals between calls, as a page does.

Missing node (or npx/esbuild, to build the bundles) skips locally and fails on CI
(``CI=true``), through :func:`tests.harness.browser.require_node`.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.harness.browser import WEB_DIR, require_node

RUNNER = Path(__file__).with_name("node_page.mjs")
#: what the runner writes before each reply line (anything else on stdout is not a reply)
_REPLY = "\x1e"


def _bigint(value: dict[str, Any]) -> Any:
    """Read back a BigInt the runner wrote as ``{"$bigint": "<decimal>"}``."""
    if value.keys() == {"$bigint"}:
        return int(value["$bigint"])
    return value


class NodePageError(AssertionError):
    """A JavaScript exception thrown inside ``evaluate`` (its stack is the message)."""


class NodePage:
    """One node process running ``node_page.mjs`` on a directory of built bundles."""

    def __init__(self, bundle_dir: Path, *, timeout: float = 60.0) -> None:
        require_node()
        node = shutil.which("node")
        assert node is not None
        self.timeout = timeout
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed in close()
        self._process = subprocess.Popen(
            [node, str(RUNNER), str(bundle_dir)],
            cwd=WEB_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        # a reader thread, so a reply is waited for with a deadline (queue.get) however the
        # lines arrive; "" marks the end of node's output
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="node-page", daemon=True)
        self._reader.start()
        self._next_id = 0

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Call the JavaScript function ``expression`` with ``arg``; return its JSON value."""
        self._next_id += 1
        request = {"id": self._next_id, "expression": expression, "arg": arg}
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        while True:
            try:
                line = self._lines.get(timeout=self.timeout)
            except queue.Empty:
                raise NodePageError(
                    f"node gave no answer in {self.timeout} s{self._log()}"
                ) from None
            if not line:
                raise NodePageError(f"node exited ({self._process.poll()}){self._log()}")
            if not line.startswith(_REPLY):
                continue  # console output of the code under test
            reply = json.loads(line[len(_REPLY) :], object_hook=_bigint)
            assert reply["id"] == self._next_id, reply
            if "error" in reply:
                raise NodePageError(reply["error"])
            return reply["ok"]

    def _log(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read()[-4000:]
        return f"; its stderr:\n{text}" if text else ""

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._reader.join(10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> NodePage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
