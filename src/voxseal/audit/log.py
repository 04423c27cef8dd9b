"""The append-only audit log: group-committed, hash-chained, checkpointed with Ed25519.

Why a single writer thread with group commit: every record's hash depends on the previous one,
so appends are serial by nature, and a durable commit costs an fsync. Callers hand their
prepared events to one writer and wait on their own completion; the writer takes whatever has
queued up, chains it and commits it in *one* transaction, then wakes everyone in that batch.
Under load, N concurrent callers share one fsync, which is how thousands of durable appends per
second fit in a few hundred fsyncs. A lone caller still gets its own commit straight away.

Why the chain head is read from the database in every batch (not cached): the writer takes the
store's write lock first (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL advisory transaction lock),
so a restarted server, a CLI run alongside the server, or another node on the same PostgreSQL
database all continue one chain instead of forking it. The lookup is one index probe per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit.chain import (
    GENESIS_HASH,
    RECORD_COLUMNS,
    chain_rows,
    checkpoint_payload,
    key_id,
    raw_public_key,
)
from voxseal.audit.events import AuditEvent
from voxseal.audit.guard import prepare
from voxseal.audit.query import AuditRecord, query_records
from voxseal.errors import AuditError
from voxseal.store import Database, Transaction

#: advisory lock id that serialises audit appends across PostgreSQL nodes ("vxAUDIT")
AUDIT_LOCK_ID = 0x7678_4155_4449_54
#: most events one transaction takes; bounds commit latency for the callers queued behind
MAX_BATCH = 20_000

#: rows per INSERT statement (11 parameters each stays under every backend's variable limit)
INSERT_CHUNK = 500


@lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    """One multi-row INSERT. A single statement is one sqlite3_step: the GIL is dropped once
    per chunk instead of once per row, which matters with dozens of threads waiting on it."""
    one = f"({', '.join('?' for _ in RECORD_COLUMNS)})"
    return f"INSERT INTO audit_log ({', '.join(RECORD_COLUMNS)}) VALUES {', '.join([one] * rows)}"


def _insert(tx: Transaction, rows: list[tuple[Any, ...]]) -> None:
    for i in range(0, len(rows), INSERT_CHUNK):
        part = rows[i : i + INSERT_CHUNK]
        tx.execute(_insert_sql(len(part)), [v for row in part for v in row])


Prepared = tuple[Any, ...]  # (time_us, actor, action, target, outcome, source, cid, details)
Completion = Callable[[list[int] | None, BaseException | None], None]


class _Pending:
    """One caller's events waiting for the writer, and how to tell the caller they are in.

    A bare lock, taken at birth and released by the writer, is the cheapest one-shot
    completion CPython offers: with dozens of threads waiting, per-waiter overhead is what
    limits group commit, not the fsync.
    """

    __slots__ = ("error", "events", "lock", "notify", "seqs")

    def __init__(self, events: list[Prepared], notify: Completion | None = None) -> None:
        self.events = events
        self.seqs: list[int] | None = None
        self.error: BaseException | None = None
        self.notify = notify
        self.lock: threading.Lock | None = None
        if notify is None:
            self.lock = threading.Lock()
            self.lock.acquire()

    def complete(self, seqs: list[int] | None, error: BaseException | None) -> None:
        self.seqs, self.error = seqs, error
        if self.notify is not None:
            self.notify(seqs, error)
        else:
            self.lock.release()  # type: ignore[union-attr]

    def wait(self) -> list[int]:
        self.lock.acquire()  # type: ignore[union-attr]
        if self.error is not None:
            raise self.error
        return self.seqs  # type: ignore[return-value]


def _in_transaction(db: Database) -> bool:
    """Whether this thread is inside ``db.transaction()`` (so the writer could not get in)."""
    return db.in_transaction()


class AuditLog:
    """Append-only, hash-chained, durably committed audit log (an :class:`AuditSink`).

    ``record``/``record_many`` return once the events are committed (fsync'd). From async
    code use ``arecord``, which waits without holding a worker thread. Call :meth:`close` at
    shutdown: it drains the queue and writes a final signed checkpoint.

    A ``record`` made while the calling thread is already inside ``db.transaction()`` joins
    that transaction instead of going through the writer (which would wait for the caller's
    lock forever): the event then commits, or rolls back, with the caller's own change.
    """

    def __init__(
        self,
        db: Database,
        signing_key: Ed25519PrivateKey,
        *,
        checkpoint_every: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.db = db
        self._key = signing_key
        self._public_raw = raw_public_key(signing_key.public_key())
        self.key_id = key_id(self._public_raw)
        self.checkpoint_every = checkpoint_every
        self._clock = clock
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._run, name="voxseal-audit-writer", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"<AuditLog {self.db!r} key={self.key_id}>"

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def public_key_raw(self) -> bytes:
        return self._public_raw

    # -- appending -----------------------------------------------------------------------

    def _now_us(self) -> int:
        return round(self._clock() * 1_000_000)

    def _enqueue(self, events: Sequence[AuditEvent], notify: Completion | None) -> _Pending:
        prepared = [prepare(e) for e in events]  # refuse bad events in the caller's thread
        with self._cond:
            if self._closed:
                raise AuditError("the audit log is closed")
            now = self._now_us()  # under the lock: time never goes back along the chain
            pending = _Pending([(now, *p) for p in prepared], notify)
            self._queue.append(pending)
            self._cond.notify()
        return pending

    def record(self, event: AuditEvent) -> int:
        """Append one event; returns its seq once it is committed to disk."""
        return self.record_many((event,))[0]

    def record_many(self, events: Iterable[AuditEvent]) -> list[int]:
        """Append events in one go (consecutive seqs, one commit); returns their seqs."""
        events = list(events)
        if not events:
            return []
        if _in_transaction(self.db):
            prepared = [prepare(e) for e in events]
            now = self._now_us()
            with self.db.transaction() as tx:
                first = self._append(tx, [(now, *p) for p in prepared])
            return list(range(first, first + len(prepared)))
        return self._enqueue(events, None).wait()

    async def arecord(self, event: AuditEvent) -> int:
        """``record`` for async code: the event loop keeps running while the commit happens."""
        return (await self.arecord_many((event,)))[0]

    async def arecord_many(self, events: Iterable[AuditEvent]) -> list[int]:
        events = list(events)
        if not events:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()

        def settle(seqs: list[int] | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(seqs)  # type: ignore[arg-type]

        def notify(seqs: list[int] | None, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                loop.call_soon_threadsafe(settle, seqs, error)

        self._enqueue(events, notify)
        # shielded: a cancelled caller must not make us forget the write is in flight
        return await asyncio.shield(future)

    # -- the writer ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and drained
                batch = [self._queue.popleft()]
                size = len(batch[0].events)
                while self._queue and size + len(self._queue[0].events) <= MAX_BATCH:
                    pending = self._queue.popleft()
                    batch.append(pending)
                    size += len(pending.events)
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        events = [e for p in batch for e in p.events]
        try:
            with self.db.transaction() as tx:
                first = self._append(tx, events)
        except BaseException as exc:  # every waiter must hear about it, whatever it was
            error: BaseException = exc
            if not isinstance(exc, AuditError):
                error = AuditError(f"audit write failed: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
            for p in batch:
                p.complete(None, error)
            return
        seq = first
        for p in batch:
            n = len(p.events)
            p.complete(list(range(seq, seq + n)), None)
            seq += n

    def _lock(self, tx: Transaction) -> None:
        if self.db.dialect == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (AUDIT_LOCK_ID,))
        # SQLite: the transaction began IMMEDIATE, so it already holds the write lock

    @staticmethod
    def _state(tx: Transaction) -> tuple[int, bytes, int, int]:
        """Head seq and hash, last checkpoint id and seq: one round trip per batch."""
        row = tx.query_one(
            "SELECT (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1),"
            " (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),"
            " (SELECT id FROM audit_checkpoints ORDER BY id DESC LIMIT 1),"
            " (SELECT seq FROM audit_checkpoints ORDER BY id DESC LIMIT 1)"
        )
        seq, digest, cp_id, cp_seq = row  # type: ignore[misc]
        if seq is None:
            seq, digest = 0, GENESIS_HASH
        return int(seq), bytes(digest), int(cp_id or 0), int(cp_seq or 0)

    def _append(self, tx: Transaction, events: list[Prepared]) -> int:
        """Chain and insert ``events`` after the current head; returns the first new seq."""
        self._lock(tx)
        head_seq, head_hash, cp_id, cp_seq = self._state(tx)
        rows = chain_rows(head_seq + 1, head_hash, events)
        _insert(tx, rows)
        new_seq, new_hash = rows[-1][0], rows[-1][-1]
        if new_seq - cp_seq >= self.checkpoint_every:
            self._sign(tx, cp_id + 1, new_seq, new_hash)
        return head_seq + 1

    def _sign(self, tx: Transaction, cp_id: int, seq: int, head_hash: bytes) -> None:
        now = self._now_us()
        payload = checkpoint_payload(cp_id, seq, now, head_hash, self._public_raw)
        tx.execute(
            "INSERT INTO audit_checkpoints (id, seq, head_hash, time_us, key_id, public_key,"
            " signature) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cp_id, seq, head_hash, now, self.key_id, self._public_raw, self._key.sign(payload)),
        )

    # -- checkpoints and shutdown ----------------------------------------------------------

    def checkpoint(self) -> int:
        """Sign the current head now (if anything came after the last checkpoint).

        Returns the seq the latest checkpoint covers. Call it before copying the log off-site,
        and let :meth:`close` call it at shutdown.
        """
        with self.db.transaction() as tx:
            self._lock(tx)
            head_seq, head_hash, cp_id, cp_seq = self._state(tx)
            if head_seq > cp_seq or cp_id == 0:
                self._sign(tx, cp_id + 1, head_seq, head_hash)
            return head_seq

    def close(self) -> None:
        """Stop accepting events, commit everything queued, write a final checkpoint."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._writer:
            self._writer.join()
        self.checkpoint()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> tuple[int, bytes]:
        """``(seq, hash)`` of the newest committed record; ``(0, GENESIS_HASH)`` when empty."""
        row = self.db.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (0, GENESIS_HASH) if row is None else (int(row[0]), bytes(row[1]))

    def query(
        self,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        target: str | None = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        after_seq: int | None = None,
        limit: int = 100,
        **more: Any,
    ) -> list[AuditRecord]:
        """Filtered, keyset-paged records (see :func:`voxseal.audit.query.query_records`)."""
        return query_records(
            self.db,
            actor=actor,
            action=action,
            outcome=outcome,
            target=target,
            since=since,
            until=until,
            after_seq=after_seq,
            limit=limit,
            **more,
        )
