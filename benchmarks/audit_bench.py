"""Audit log throughput: durable appends/s and verified records/s, against same-run baselines.

    PYTHONPATH=src python3 benchmarks/audit_bench.py [--threads 32] [--records 200000]

Targets (issue 2): >= 20,000 durable appends/s with batched commits and >= 200,000 records/s
verified, on SQLite. Baselines, timed in the same run on the same machine:

* appends: raw ``sqlite3`` ``executemany`` of the same (already hashed) rows in one
  transaction with WAL + ``synchronous=FULL`` — the ceiling for getting rows onto disk at all;
* verify: bare ``hashlib.sha256`` over the same canonical encodings — the ceiling for hashing
  alone, with no database read and no comparison.

PostgreSQL (``VOXSEAL_TEST_PG_URL`` or postgresql://127.0.0.1:5432/test) is measured and
reported separately when reachable, in a throw-away schema.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit import AuditEvent, AuditLog, Outcome, verify_chain
from voxseal.audit.chain import GENESIS_HASH, RECORD_COLUMNS, chain_rows, encode_record
from voxseal.audit.guard import prepare
from voxseal.audit.schema import MIGRATIONS
from voxseal.store import Database, open_store

PG_URL = os.environ.get("VOXSEAL_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def make_event(i: int) -> AuditEvent:
    return AuditEvent(
        action=("auth.login", "token.issue", "audit.read")[i % 3],
        outcome=(Outcome.SUCCESS, Outcome.FAILURE)[i % 2],
        actor=f"user{i % 97}",
        target=f"room-{i % 13}",
        source=f"198.51.100.{i % 250}",
        correlation_id=f"req-{i:08d}",
        details={"method": "password", "n": i},
    )


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def line(label: str, value: float, unit: str, baseline: float | None = None, target: float = 0):
    ratio = f"  {value / baseline:6.2f}x baseline" if baseline else ""
    mark = ""
    if target:
        mark = "  [target {:,.0f}: {}]".format(target, "met" if value >= target else "MISSED")
    print(f"  {label:<44} {value:>12,.0f} {unit}{ratio}{mark}")


# --- appends -----------------------------------------------------------------------------------


def bench_threads(db: Database, key: Ed25519PrivateKey, threads: int, per_thread: int) -> float:
    log = AuditLog(db, key)
    events = [make_event(i) for i in range(per_thread)]
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        for e in events:
            log.record(e)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - start
    log.close()
    return rate(threads * per_thread, elapsed)


def bench_record_many(db: Database, key: Ed25519PrivateKey, total: int, batch: int) -> float:
    log = AuditLog(db, key)
    events = [make_event(i) for i in range(batch)]
    start = time.perf_counter()
    for _ in range(total // batch):
        log.record_many(events)
    elapsed = time.perf_counter() - start
    log.close()
    return rate(total // batch * batch, elapsed)


def bench_sqlite_baseline(path: Path, total: int) -> float:
    """Raw sqlite3: the same rows, pre-hashed, one executemany in one durable transaction."""
    open_store(f"sqlite:///{path}", migrations=[MIGRATIONS]).close()
    now = int(time.time() * 1e6)
    rows = chain_rows(1, GENESIS_HASH, [(now, *prepare(make_event(i))) for i in range(total)])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    sql = f"INSERT INTO audit_log VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})"
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rate(total, elapsed)


# --- verify ------------------------------------------------------------------------------------


def fill(db: Database, key: Ed25519PrivateKey, total: int) -> None:
    log = AuditLog(db, key)
    events = [make_event(i) for i in range(5000)]
    for _ in range(total // 5000):
        log.record_many(events)
    log.close()


def bench_verify(db: Database, key: Ed25519PrivateKey) -> tuple[float, int]:
    start = time.perf_counter()
    report = verify_chain(db, key.public_key())
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"verification failed: {report.problem}")
    return rate(report.records_checked, elapsed), report.records_checked


def bench_hash_baseline(db: Database, total: int) -> float:
    rows = db.execute(
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM audit_log ORDER BY seq LIMIT ?", (total,)
    )
    blobs = [encode_record(*r[:9], bytes(r[9])) for r in rows]
    sha = hashlib.sha256
    start = time.perf_counter()
    for b in blobs:
        sha(b).digest()
    return rate(len(blobs), time.perf_counter() - start)


# --- backends ----------------------------------------------------------------------------------


@contextmanager
def pg_schema() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"\nPostgreSQL at {PG_URL} unreachable ({type(exc).__name__}); skipped")
        yield None
        return
    schemas: list[str] = []

    def new() -> str:
        name = f"vxbench_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE SCHEMA "{name}"')
        schemas.append(name)
        return f"{PG_URL}?options=-csearch_path%3D{name}"

    try:
        yield new  # type: ignore[misc]
    finally:
        for name in schemas:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        admin.close()


def run_backend(name: str, fresh: Callable[[], str], args: argparse.Namespace) -> dict:
    key = Ed25519PrivateKey.generate()
    results: dict[str, float] = {}
    print(f"\n{name}")

    def with_db(fn: Callable[[Database], float]) -> float:
        db = open_store(fresh(), migrations=[MIGRATIONS])
        try:
            return fn(db)
        finally:
            db.close()

    baseline = None
    if name == "SQLite":
        baseline = bench_sqlite_baseline(Path(fresh().removeprefix("sqlite:///")), args.appends)
        line("baseline: raw sqlite3 executemany, 1 txn", baseline, "rows/s")
    per = max(1, args.appends // args.threads)
    results["threads"] = with_db(lambda db: bench_threads(db, key, args.threads, per))
    line(
        f"group commit, {args.threads} threads x record()",
        results["threads"],
        "appends/s",
        baseline,
        20_000 if name == "SQLite" else 0,
    )
    results["many"] = with_db(lambda db: bench_record_many(db, key, args.appends, args.batch))
    line(
        f"record_many, batches of {args.batch}",
        results["many"],
        "appends/s",
        baseline,
        20_000 if name == "SQLite" else 0,
    )

    db = open_store(fresh(), migrations=[MIGRATIONS])
    try:
        fill(db, key, args.records)
        hash_rate = bench_hash_baseline(db, args.records)
        line("baseline: bare sha256 over the encodings", hash_rate, "records/s")
        results["verify"], n = bench_verify(db, key)
        line(
            f"verify_chain ({n:,} records)",
            results["verify"],
            "records/s",
            hash_rate,
            200_000 if name == "SQLite" else 0,
        )
    finally:
        db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--appends", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--records", type=int, default=200_000, help="log size for verify")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    print(f"audit_bench: python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000_000))
        run_backend("SQLite", lambda: f"sqlite:///{tmp}/bench{next(counter)}.db", args)
    if not args.no_pg:
        with pg_schema() as new:
            if new is not None:
                run_backend("PostgreSQL (127.0.0.1, same machine)", new, args)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
