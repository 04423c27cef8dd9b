"""Appending: seqs, group commit under concurrency, restart, several writers, checkpoints,
the secret guard, and the append-only triggers — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.audit.helpers import event
from voxseal.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditEventRejected,
    AuditLog,
    Outcome,
    verify_chain,
)
from voxseal.audit.guard import MAX_FIELD, prepare, secret_key_reason
from voxseal.errors import AuditError, Conflict, StoreError
from voxseal.store import Database


def test_record_returns_consecutive_seqs_and_chains(audit_log: AuditLog) -> None:
    seqs = [audit_log.record(event(i)) for i in range(3)]
    assert seqs == [1, 2, 3]
    assert audit_log.record_many([event(i) for i in range(4)]) == [4, 5, 6, 7]
    assert audit_log.record_many([]) == []
    records = audit_log.query(limit=10)
    assert [r.seq for r in records] == list(range(1, 8))
    assert records[0].prev_hash == GENESIS_HASH
    for prev, rec in itertools.pairwise(records):
        assert rec.prev_hash == prev.hash
    assert records[0].actor == "user0" and records[0].details == {"n": 0, "reason": "test"}


def test_concurrent_callers_are_group_committed(
    audit_log: AuditLog, signing_key: Ed25519PrivateKey
) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        mine = [audit_log.record(event(k * 100 + i)) for i in range(40)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 321))
    audit_log.close()
    report = verify_chain(audit_log.db, signing_key.public_key())
    assert report.ok, report.problem
    assert report.records_checked == 320
    assert report.checkpoints_checked >= 2
    assert report.unanchored == 0  # close() signed the head


def test_arecord_from_async_code(audit_log: AuditLog) -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(audit_log.arecord(event(i)) for i in range(20))))

    assert sorted(asyncio.run(main())) == list(range(1, 21))


def test_restart_continues_the_chain(audit_db: Database, signing_key: Ed25519PrivateKey) -> None:
    with AuditLog(audit_db, signing_key, checkpoint_every=4) as log:
        log.record_many([event(i) for i in range(5)])
    with AuditLog(audit_db, signing_key, checkpoint_every=4) as log:
        assert log.record(event(99)) == 6
        assert log.head()[0] == 6
    report = verify_chain(audit_db, [signing_key.public_key()])
    assert report.ok, report.problem
    assert report.records_checked == 6


def test_two_writers_on_one_database_keep_one_chain(
    database_url: str, audit_db: Database, signing_key: Ed25519PrivateKey
) -> None:
    """Two logs on two connections (two processes or nodes) interleave without forking."""
    from voxseal.audit.schema import MIGRATIONS
    from voxseal.store import open_store

    other_db = open_store(database_url, migrations=[MIGRATIONS])
    other_key = Ed25519PrivateKey.generate()
    a = AuditLog(audit_db, signing_key, checkpoint_every=7)
    b = AuditLog(other_db, other_key, checkpoint_every=7)
    try:

        def run(log: AuditLog, base: int) -> None:
            for i in range(30):
                log.record(event(base + i))

        ts = [threading.Thread(target=run, args=(x, n)) for x, n in ((a, 0), (b, 1000))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        a.close()
        b.close()
        other_db.close()
    report = verify_chain(audit_db, [signing_key.public_key(), other_key.public_key()])
    assert report.ok, report.problem
    assert report.records_checked == 60
    assert len(report.key_ids) == 2


def test_checkpoints_every_n_and_on_close(
    audit_db: Database, signing_key: Ed25519PrivateKey
) -> None:
    log = AuditLog(audit_db, signing_key, checkpoint_every=5)
    for i in range(12):
        log.record(event(i))
    rows = audit_db.execute("SELECT id, seq FROM audit_checkpoints ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, 5), (2, 10)]
    log.close()
    rows = audit_db.execute("SELECT id, seq, key_id FROM audit_checkpoints ORDER BY id")
    assert [tuple(r[:2]) for r in rows] == [(1, 5), (2, 10), (3, 12)]
    assert rows[-1][2] == log.key_id
    log.close()  # idempotent, no duplicate checkpoint
    assert len(audit_db.execute("SELECT id FROM audit_checkpoints")) == 3
    with pytest.raises(AuditError, match="closed"):
        log.record(event(1))


def test_record_inside_a_transaction_joins_it(audit_log: AuditLog, audit_db: Database) -> None:
    """No deadlock with the writer; the event commits or rolls back with the caller's work."""
    with audit_db.transaction():
        seq = audit_log.record(event(1))
    assert seq == 1
    with pytest.raises(RuntimeError), audit_db.transaction():
        audit_log.record(event(2))
        raise RuntimeError("caller's change failed")
    assert [r.seq for r in audit_log.query()] == [1]
    assert audit_log.record(event(3)) == 2


def test_write_failure_reaches_the_caller(
    audit_db: Database, signing_key: Ed25519PrivateKey
) -> None:
    log = AuditLog(audit_db, signing_key)
    audit_db.execute("ALTER TABLE audit_log RENAME TO audit_log_gone")
    try:
        with pytest.raises(AuditError, match="audit write failed"):
            log.record(event(1))
    finally:
        audit_db.execute("ALTER TABLE audit_log_gone RENAME TO audit_log")
    assert log.record(event(2)) == 1  # the writer survived
    log.close()


def test_store_refuses_update_and_delete(audit_log: AuditLog, audit_db: Database) -> None:
    audit_log.record(event(1))
    audit_log.checkpoint()
    for sql in (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "UPDATE audit_checkpoints SET seq = 0",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises((StoreError, Conflict), match="append-only"):
            audit_db.execute(sql)


# --- the guard: no secrets, no raw credentials ----------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "newPassword",
        "client_secret",
        "token",
        "refresh_token",
        "accessToken",
        "code",
        "totp_code",
        "mfaCode",
        "otp",
        "api_key",
        "apiKey",
        "private_key",
        "pin",
        "Authorization",
        "cookie",
        "recoverycode",
    ],
)
def test_guard_refuses_secret_looking_keys(audit_log: AuditLog, key: str) -> None:
    with pytest.raises(AuditEventRejected, match="secret"):
        audit_log.record(AuditEvent("auth.login", details={key: "x"}))
    with pytest.raises(AuditEventRejected, match="secret"):
        audit_log.record(AuditEvent("auth.login", details={"nested": [{key: 1}]}))
    assert audit_log.query() == []  # nothing reached the log


@pytest.mark.parametrize(
    "key",
    ["key_id", "jti", "token_type", "method", "reason", "reason_code", "kind",
     "recovery_codes_remaining", "scope", "retry_after", "failures", "role", "keyboard"],
)  # fmt: skip
def test_guard_allows_identifiers_and_facts(key: str) -> None:
    assert secret_key_reason(key) is None


@pytest.mark.parametrize(
    "value",
    [
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQ...",
        "Bearer abc.def",
        "otpauth://totp/voxseal:alice?secret=JBSWY3DPEHPK3PXP",
    ],
)
def test_guard_refuses_credential_values(value: str) -> None:
    with pytest.raises(AuditEventRejected, match="credential"):
        prepare(AuditEvent("token.refused", details={"note": value}))
    with pytest.raises(AuditEventRejected, match="credential"):
        prepare(AuditEvent("token.refused", target=value))


def test_guard_checks_shape() -> None:
    with pytest.raises(AuditEventRejected, match="action"):
        prepare(AuditEvent("Auth Login"))
    with pytest.raises(AuditEventRejected, match="outcome"):
        prepare(AuditEvent("auth.login", outcome="maybe"))  # type: ignore[arg-type]
    with pytest.raises(AuditEventRejected, match="details"):
        prepare(AuditEvent("auth.login", details={"x": object()}))
    with pytest.raises(AuditEventRejected, match="limit"):
        prepare(AuditEvent("auth.login", details={"x": "y" * 10_000}))


def test_hostile_identifiers_are_normalised_not_refused(audit_log: AuditLog) -> None:
    """A failed login with a weird username must still be audited, on both backends."""
    nasty = "a\x00b\ud800c\nd|e=f]" + "z" * 1000
    seq = audit_log.record(AuditEvent("auth.login", outcome=Outcome.FAILURE, actor=nasty))
    (rec,) = audit_log.query(after_seq=seq - 1)
    assert rec.actor is not None and len(rec.actor) == MAX_FIELD
    assert rec.actor.startswith("a\ufffdb\ufffdc\nd|e=f]")
