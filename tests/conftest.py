"""Shared fixtures: official vectors, a data dir, and SQLite/PostgreSQL databases.

The RFC vectors are part of the repository, in ``tests/vectors/`` (see its README for the RFC
section of each file; ``VOXSEAL_VECTORS_DIR`` points elsewhere if you must). A missing vector
file is a plain failure, on a clone as on CI: these tests never skip. PostgreSQL tests skip
locally without a server and fail on CI (``CI=true``).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.environment import load_vectors, unavailable

PG_URL = os.environ.get("VOXSEAL_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


# --- a run that has finished must also exit ------------------------------------------------
# A non-daemon thread nobody ends (aiortc's decoder threads, for one) lets pytest print its
# summary and then blocks interpreter shutdown forever: CI sees a hang, not a failure. So a
# session that leaves one behind fails, names it with its stack, and exits without waiting.

_stuck: list[str] = []
_finished: list[pytest.Session] = []


def _stuck_threads() -> list[threading.Thread]:
    import concurrent.futures.thread as executor_thread

    stuck = []
    for thread in threading.enumerate():
        if thread.daemon or thread is threading.main_thread():
            continue
        # executors' idle workers are ended by their own exit hook
        if getattr(thread, "_target", None) is executor_thread._worker:
            continue
        thread.join(timeout=2)
        if thread.is_alive():
            stuck.append(thread)
    return stuck


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    frames = sys._current_frames()
    for thread in _stuck_threads():
        frame = frames.get(thread.ident or -1)
        where = "".join(traceback.format_stack(frame, limit=6)) if frame else "(no frame)\n"
        _stuck.append(f"thread {thread.name!r} never ended; it is at:\n{where}")
    if _stuck:
        if session.exitstatus == pytest.ExitCode.OK:  # keep "interrupted", "usage error", ...
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        _finished.append(session)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _stuck:
        terminalreporter.section("threads left running (this run fails)", red=True)
        for text in _stuck:
            terminalreporter.write(text)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _finished:  # do not wait on threads that will never end
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(_finished[0].exitstatus))


@pytest.fixture
def vectors() -> Any:
    return load_vectors


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    return d


def _pg_schema_url() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any failure to reach the server
        unavailable(f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}")
        raise  # unreachable: unavailable always raises
    schema = f"vx_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    yield from _pg_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[str]:
    """Run a test once on the embedded SQLite store and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{data_dir / 'voxseal.db'}"
    else:
        yield from _pg_schema_url()
