"""The :class:`Database` interface and its SQLite and PostgreSQL backends.

Why one connection behind a lock per process: the gateway's writes are small and ordered (the
audit chain needs a single writer anyway), and a serialised connection makes every
transaction's isolation obvious on both backends. Throughput comes from batching inside one
transaction, not from concurrent connections.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from voxseal.config import redact_url
from voxseal.errors import Conflict, MigrationError, StoreError, StoreUnavailable
from voxseal.store.migrations import MigrationSet, split_statements

Row = tuple[Any, ...]
Params = Sequence[Any]

_PG_LOCK_ID = 0x766F78_5345414C  # "voxSEAL": serialises migrations across nodes


@lru_cache(maxsize=1024)
def _to_pyformat(sql: str) -> str:
    """Portable ``?`` placeholders to psycopg's ``%s`` (literal ``%`` doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Transaction:
    """What a caller may do inside :meth:`Database.transaction`."""

    def __init__(self, db: Database, cursor: Any) -> None:
        self._db = db
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self._cursor
        with self._db._translate_errors():
            cur.execute(self._db._native(sql), tuple(params))
            if cur.description is None:
                return []
            return [tuple(r) for r in cur.fetchall()]

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        with self._db._translate_errors():
            self._cursor.executemany(self._db._native(sql), [tuple(r) for r in rows])


class Database(ABC):
    """A transactional SQL store; SQL is written once with ``?`` placeholders."""

    dialect: str

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.RLock()
        self._depth = threading.local()
        #: the outer transaction, while one is open (the lock is held by its thread then)
        self._current: Transaction | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self._url)}>"

    # -- the interface ------------------------------------------------------------------

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        with self.transaction() as tx:
            return tx.query_one(sql, params)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self.transaction() as tx:
            tx.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Commit on normal exit, roll back on exception; nested calls join the outer one."""
        with self._lock:
            depth = getattr(self._depth, "n", 0)
            if depth and self._current is not None:
                self._depth.n = depth + 1
                try:
                    yield self._current
                finally:
                    self._depth.n = depth
                return
            self._depth.n = 1
            try:
                with self._native_transaction() as cursor:
                    outer = self._current = Transaction(self, cursor)
                    yield outer
            finally:
                self._depth.n = 0
                self._current = None

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside :meth:`transaction` (joins, not nests)."""
        return bool(getattr(self._depth, "n", 0))

    @abstractmethod
    def close(self) -> None: ...

    def migrate(self, sets: Sequence[MigrationSet]) -> list[tuple[str, int]]:
        """Apply pending migrations; returns what was applied as (component, version)."""
        applied: list[tuple[str, int]] = []
        with self.transaction() as tx:
            self._lock_for_migrations(tx)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (component, version))"
            )
            done = {
                (c, v) for c, v in tx.execute("SELECT component, version FROM schema_migrations")
            }
            for mset in sets:
                for migration in mset.migrations:
                    key = (mset.component, migration.version)
                    if key in done:
                        continue
                    try:
                        for stmt in split_statements(migration.sql_for(self.dialect)):
                            tx.execute(stmt)
                    except StoreError as exc:
                        raise MigrationError(
                            f"migration {mset.component} v{migration.version} "
                            f"({migration.name}) failed: {exc}"
                        ) from exc
                    tx.execute(
                        "INSERT INTO schema_migrations (component, version, name, applied_at)"
                        " VALUES (?, ?, ?, ?)",
                        (mset.component, migration.version, migration.name, time.time()),
                    )
                    applied.append(key)
        return applied

    def schema_versions(self) -> dict[str, int]:
        rows = self.execute("SELECT component, MAX(version) FROM schema_migrations GROUP BY 1")
        return {c: int(v) for c, v in rows}

    # -- backend hooks ------------------------------------------------------------------

    @abstractmethod
    def _native(self, sql: str) -> str: ...

    @abstractmethod
    def _native_transaction(self) -> Any: ...

    @abstractmethod
    def _lock_for_migrations(self, tx: Transaction) -> None: ...

    @abstractmethod
    def _translate_errors(self) -> Any: ...


class SQLiteDatabase(Database):
    """The embedded default: one file in the data dir, WAL, fsync on every commit."""

    dialect = "sqlite"

    def __init__(self, url: str, path: str) -> None:
        super().__init__(url)
        self.path = path
        if path != ":memory:":
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            # the file holds credential hashes and the audit chain: owner-only from birth
            fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database: {exc}") from exc
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged commit survives power loss, not only a killed process
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    def _native(self, sql: str) -> str:
        return sql

    @contextmanager
    def _native_transaction(self) -> Iterator[Any]:
        cur = self._conn.cursor()
        with self._translate_errors():
            cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            with self._translate_errors():
                cur.execute("COMMIT")
        finally:
            cur.close()

    def _lock_for_migrations(self, tx: Transaction) -> None:
        pass  # BEGIN IMMEDIATE already holds the database's write lock

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"constraint violated: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise StoreError(f"SQLite: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresDatabase(Database):
    """The cluster backend (psycopg 3); reconnects once if the server dropped us."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conn = self._connect()

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {redact_url(self._url)}: {type(exc).__name__}"
            ) from None

    def _native(self, sql: str) -> str:
        return _to_pyformat(sql)

    @contextmanager
    def _native_transaction(self) -> Iterator[Any]:
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        with self._translate_errors(), self._conn.transaction(), self._conn.cursor() as cur:
            yield cur

    def _lock_for_migrations(self, tx: Transaction) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_ID,))

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(f"constraint violated: {exc.diag.message_primary}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL: {type(exc).__name__}: {exc.diag.message_primary}"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_SQLITE_URL = re.compile(r"^sqlite:///(?P<path>.+)$")


def open_store(url: str, migrations: Sequence[MigrationSet] = ()) -> Database:
    """Open ``sqlite:///path`` (``sqlite:////abs/path``) or ``postgresql://…`` and migrate.

    The store knows no component: whoever opens it hands in the schemas it will use (the
    gateway's services theirs, the dashboard and the ingress theirs at their start-up).
    """
    m = _SQLITE_URL.match(url)
    db: Database
    if m:
        db = SQLiteDatabase(url, m.group("path"))
    elif url.startswith(("postgresql://", "postgres://")):
        db = PostgresDatabase(url)
    else:
        raise StoreError(f"unsupported database URL scheme in {redact_url(url)!r}")
    try:
        db.migrate(migrations)
    except BaseException:
        db.close()
        raise
    return db
