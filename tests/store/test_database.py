"""The store's one interface on both backends: migrations, transactions, errors."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from voxseal.config import redact_url
from voxseal.errors import Conflict, MigrationError, StoreError, StoreUnavailable
from voxseal.store import Migration, MigrationSet, open_store

THINGS = MigrationSet(
    "things",
    (
        Migration(
            1,
            "things",
            "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, blob BLOB);",
            "CREATE TABLE things (id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
            " blob BYTEA);",
        ),
        Migration(
            2,
            "weight",
            "ALTER TABLE things ADD COLUMN weight INTEGER NOT NULL DEFAULT 0;",
            "ALTER TABLE things ADD COLUMN weight INTEGER NOT NULL DEFAULT 0;",
        ),
    ),
)


def test_migrations_apply_once_in_order(database_url: str) -> None:
    db = open_store(database_url, [THINGS])
    try:
        assert db.schema_versions() == {"things": 2}
        assert db.migrate([THINGS]) == []  # nothing pending on a second start
    finally:
        db.close()
    db = open_store(database_url, [THINGS])  # a restart finds the schema as it was
    try:
        db.execute("INSERT INTO things (name, weight) VALUES (?, ?)", ("a", 3))
        assert db.execute("SELECT name, weight FROM things") == [("a", 3)]
    finally:
        db.close()


def test_transactions_commit_or_roll_back(database_url: str) -> None:
    db = open_store(database_url, [THINGS])
    try:
        with db.transaction() as tx:
            tx.executemany(
                "INSERT INTO things (name, blob) VALUES (?, ?)", [("a", b"\x00"), ("b", b"")]
            )
        with pytest.raises(RuntimeError), db.transaction() as tx:
            tx.execute("INSERT INTO things (name) VALUES (?)", ("c",))
            raise RuntimeError("boom")
        assert [r[0] for r in db.execute("SELECT name FROM things ORDER BY name")] == ["a", "b"]
        assert bytes(db.query_one("SELECT blob FROM things WHERE name = ?", ("a",))[0]) == b"\x00"
        with pytest.raises(Conflict):
            db.execute("INSERT INTO things (name) VALUES (?)", ("a",))
        # literal % survives the placeholder translation on PostgreSQL
        assert db.query_one("SELECT count(*) FROM things WHERE name LIKE ?", ("%",))[0] == 2
        with pytest.raises(StoreError):
            db.execute("SELECT nope FROM things")
    finally:
        db.close()


def test_concurrent_writers_are_serialised(database_url: str) -> None:
    db = open_store(database_url, [THINGS])
    try:

        def work(k: int) -> None:
            for i in range(25):
                with db.transaction() as tx:
                    n = tx.query_one("SELECT count(*) FROM things")[0]
                    tx.execute("INSERT INTO things (name, weight) VALUES (?, ?)", (f"{k}-{i}", n))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        weights = sorted(r[0] for r in db.execute("SELECT weight FROM things"))
        assert weights == list(range(100))  # every read-then-write saw the one before it
    finally:
        db.close()


def test_bad_migration_is_a_clear_error(database_url: str) -> None:
    broken = MigrationSet(
        "broken", (Migration(1, "typo", "CREATE TABLEX x (a);", "CREATE TABLEX x (a);"),)
    )
    with pytest.raises(MigrationError, match="broken v1"):
        open_store(database_url, [broken])


def test_migration_set_must_be_ordered() -> None:
    with pytest.raises(MigrationError):
        MigrationSet("x", (Migration(2, "b", "", ""), Migration(1, "a", "", "")))


def test_sqlite_file_is_private(data_dir: Path) -> None:
    db = open_store(f"sqlite:///{data_dir / 'v.db'}", [THINGS])
    db.close()
    assert stat.S_IMODE((data_dir / "v.db").stat().st_mode) == 0o600


def test_unreachable_postgres_and_bad_scheme() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://vox:hunter2hunter2@127.0.0.1:1/none", [THINGS])
    assert "hunter2hunter2" not in str(info.value)
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://x/y", [THINGS])
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
