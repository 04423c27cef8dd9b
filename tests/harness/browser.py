"""The browser side of the harness: real Debian chromium via Playwright, esbuild test bundles.

* :func:`build_bundle` bundles one ES-module entry point with ``npx esbuild`` (from ``web/``,
  the npm project) into a directory of the test's choosing — test bundles are built at test
  time, never committed.
* :func:`serve_directory` serves a directory from ``http://127.0.0.1:<port>`` (a secure
  context, so WebCrypto is available) in a background thread.
* ``playwright_session`` / ``browser`` (session scope) start Playwright once and launch
  ``/usr/bin/chromium`` (never a downloaded browser) with the flags every test needs;
  :func:`launch_chromium` takes extra flags (e.g. a fake microphone) for tests that need them.

Missing node/npx or chromium skips with the reason locally and fails on CI (``CI=true``).
tests/web/conftest.py registers the fixtures by importing them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.harness.environment import unavailable

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
#: the flags every headless test launch uses (no network chatter, no sandbox in containers)
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)


def require_node() -> str:
    """Path of ``npx`` with ``web/node_modules`` present; skip (fail on CI) otherwise."""
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        unavailable("node/npx not found: cannot build the browser test bundle")
    if not (WEB_DIR / "node_modules" / "esbuild").is_dir():
        unavailable("web/node_modules missing: run `npm ci` in web/")
    assert npx is not None
    return npx


def build_bundle(
    entry: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    fmt: str = "esm",
    extra_args: Sequence[str] = (),
) -> Path:
    """Bundle ``entry`` (and its imports, node_modules included) into ``out_dir``; return it.

    Runs from ``web/`` so esbuild resolves the npm packages there. Fails the test with
    esbuild's own message if the build fails (a broken module is a test failure, not a skip).
    """
    npx = require_node()
    out_dir.mkdir(parents=True, exist_ok=True)
    outfile = out_dir / (name or (entry.stem + ".js"))
    cmd = [
        npx,
        "--no-install",
        "esbuild",
        str(entry),
        "--bundle",
        f"--format={fmt}",
        "--target=chrome120",
        "--platform=browser",
        f"--outfile={outfile}",
        "--log-level=warning",
        *extra_args,
    ]
    proc = subprocess.run(cmd, cwd=WEB_DIR, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"esbuild failed for {entry}:\n{proc.stdout}\n{proc.stderr}")
    return outfile


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on an ephemeral 127.0.0.1 port; yield ``http://127.0.0.1:PORT``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Any]:
    """One Playwright driver per test session (the sync API allows only one at a time)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found: install Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright (Python) is not installed")
    with sync_playwright() as p:
        yield p


def launch_chromium(playwright: Any, extra_args: Sequence[str] = ()) -> Any:
    """Launch headless Debian chromium with the standard flags plus ``extra_args``."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
    )


@pytest.fixture(scope="session")
def browser(playwright_session: Any) -> Iterator[Any]:
    """A shared headless chromium for pure-library tests (one launch per session)."""
    b = launch_chromium(playwright_session)
    try:
        yield b
    finally:
        b.close()
