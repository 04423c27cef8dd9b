"""Vault fixtures: a migrated store on each backend, a master key file, an in-memory audit sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.audit import ListSink
from voxseal.store import Database, open_store
from voxseal.vault import LocalKeyFileProvider, Vault
from voxseal.vault.schema import MIGRATIONS


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    store = open_store(database_url, [MIGRATIONS])
    yield store
    store.close()


@pytest.fixture
def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "vault-master.key"


@pytest.fixture
def provider(key_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider(key_path)


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def vault(db: Database, provider: LocalKeyFileProvider, sink: ListSink) -> Vault:
    return Vault(db, provider, sink)
