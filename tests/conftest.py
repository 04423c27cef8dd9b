"""Shared fixtures: official vectors, a data dir, and SQLite/PostgreSQL databases.

The RFC vectors live in ``../shared/vectors`` (``VOXSEAL_VECTORS_DIR`` overrides). In a user's
clone they may be absent and the tests that need them skip; on CI (``CI=true``) they fail.
PostgreSQL tests follow the same rule: skip locally without a server, fail on CI.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"
VECTORS_DIR = Path(
    os.environ.get(
        "VOXSEAL_VECTORS_DIR", Path(__file__).resolve().parents[2] / "shared" / "vectors"
    )
)
PG_URL = os.environ.get("VOXSEAL_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def _unavailable(message: str) -> None:
    if ON_CI:
        pytest.fail(f"{message} (CI=true: this is a failure, not a skip)")
    pytest.skip(f"{message} (skipped outside CI; on CI=true this fails)")


def load_vectors(name: str) -> Any:
    """Load one official vector file by name, e.g. ``"totp-rfc6238.json"``."""
    path = VECTORS_DIR / name
    if not path.is_file():
        _unavailable(f"test vectors {path} not found; set VOXSEAL_VECTORS_DIR")
    return json.loads(path.read_text())


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
        _unavailable(f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}")
        raise  # unreachable: _unavailable always raises
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
