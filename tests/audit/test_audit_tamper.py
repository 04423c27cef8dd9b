"""Tampering done straight against the database, as an attacker who owns it would, on both
backends: every change, deletion, reordering or insertion is found and the first broken
record named; only cutting records after the last checkpoint goes unseen (documented limit)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.audit.helpers import Tamper, event
from voxseal.audit import AuditLog, verify_chain
from voxseal.audit.chain import record_hash
from voxseal.audit.verify import load_checkpoints
from voxseal.errors import AuditChainBroken
from voxseal.store import Database

N = 50  # records; checkpoints every 10 -> at 10, 20, 30, 40, 50


@pytest.fixture
def filled(audit_db: Database, signing_key: Ed25519PrivateKey) -> Database:
    with AuditLog(audit_db, signing_key, checkpoint_every=10) as log:
        for start in range(0, N, 5):
            log.record_many([event(i) for i in range(start, start + 5)])
    return audit_db


def broken(db: Database, key: Ed25519PrivateKey, **kw: object) -> tuple[int | None, str]:
    report = verify_chain(db, key.public_key(), **kw)  # type: ignore[arg-type]
    return report.broken_seq, report.problem or ""


def _row(db: Database, seq: int) -> tuple:
    return tuple(db.query_one("SELECT * FROM audit_log WHERE seq = ?", (seq,)) or ())


def _rehash_from(db: Database, tamper: Tamper, seq: int) -> None:
    """What a careful attacker does after an edit: recompute every hash from ``seq`` on."""
    prev = bytes(_row(db, seq - 1)[10])
    rows = db.execute(
        "SELECT seq, time_us, actor, action, target, outcome, source, correlation_id, details"
        " FROM audit_log WHERE seq >= ? ORDER BY seq",
        (seq,),
    )
    for r in rows:
        h = record_hash(*r, prev)
        tamper("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, r[0]))
        prev = h


def test_intact_log_verifies(filled: Database, signing_key: Ed25519PrivateKey) -> None:
    report = verify_chain(filled, signing_key.public_key(), raise_on_error=True)
    assert report.ok
    assert (report.records_checked, report.checkpoints_checked, report.unanchored) == (N, 5, 0)


def test_changed_field(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper("UPDATE audit_log SET outcome = 'success' WHERE seq = 17")
    assert broken(filled, signing_key)[0] == 17
    with pytest.raises(AuditChainBroken) as exc:
        verify_chain(filled, signing_key.public_key(), raise_on_error=True)
    assert exc.value.seq == 17 and "changed" in exc.value.problem


def test_changed_details(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper('UPDATE audit_log SET details = \'{"n":33,"reason":"ok"}\' WHERE seq = 34')
    assert broken(filled, signing_key)[0] == 34


def test_changed_time(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper("UPDATE audit_log SET time_us = time_us - 1 WHERE seq = 3")
    assert broken(filled, signing_key)[0] == 3


def test_changed_record_with_its_hash_recomputed(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    r = _row(filled, 17)
    h = record_hash(r[0], r[1], "someone-else", *r[3:10])
    tamper("UPDATE audit_log SET actor = 'someone-else', hash = ? WHERE seq = 17", (h,))
    seq, problem = broken(filled, signing_key)
    assert seq == 17 and "rewritten" in problem


def test_rewritten_and_fully_rehashed_chain(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    """The chain is consistent again; the signed checkpoint at 20 is what exposes it."""
    tamper("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 17")
    _rehash_from(filled, tamper, 17)
    seq, problem = broken(filled, signing_key)
    assert seq == 11 and "11..20" in problem and "checkpoint #2" in problem


def test_deleted_record(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 23")
    seq, problem = broken(filled, signing_key)
    assert seq == 23 and "missing" in problem


def test_deleted_range(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper("DELETE FROM audit_log WHERE seq BETWEEN 5 AND 8")
    seq, problem = broken(filled, signing_key)
    assert seq == 5 and "5..8" in problem


def test_deleted_record_and_renumbered(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 23")
    for s in range(24, N + 1):
        tamper("UPDATE audit_log SET seq = seq - 1 WHERE seq = ?", (s,))
    assert broken(filled, signing_key)[0] == 23


def test_deleted_first_record(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 1")
    assert broken(filled, signing_key)[0] == 1


def test_reordered_records(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    tamper("UPDATE audit_log SET seq = -1 WHERE seq = 30")
    tamper("UPDATE audit_log SET seq = 30 WHERE seq = 31")
    tamper("UPDATE audit_log SET seq = 31 WHERE seq = -1")
    assert broken(filled, signing_key)[0] == 30


def test_inserted_record(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    for s in range(N, 11, -1):
        tamper("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (s,))
    prev = bytes(_row(filled, 11)[10])
    tamper(
        "INSERT INTO audit_log VALUES (12, 0, 'mallory', 'auth.login', NULL, 'success', NULL,"
        " NULL, '{}', ?, ?)",
        (prev, b"\x00" * 32),
    )
    seq, problem = broken(filled, signing_key)
    assert seq == 12 and "changed" in problem


def test_inserted_record_with_valid_hash(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    """The forged record chains correctly to 11; the displaced old 12 is where it breaks."""
    for s in range(N, 11, -1):
        tamper("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (s,))
    prev = bytes(_row(filled, 11)[10])
    fields = (12, 0, "mallory", "auth.login", None, "success", None, None, "{}", prev)
    tamper(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, record_hash(*fields)),
    )
    assert broken(filled, signing_key)[0] == 13


def test_truncated_tail_covered_by_a_checkpoint(
    audit_db: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    log = AuditLog(audit_db, signing_key, checkpoint_every=10)
    log.record_many([event(i) for i in range(10)])  # checkpoint at 10
    for i in range(10, 15):
        log.record(event(i))  # 11..15, not yet checkpointed
    tamper("DELETE FROM audit_log WHERE seq > 6")
    seq, problem = broken(audit_db, signing_key)
    assert seq == 7 and "tail truncated" in problem
    log.close()


def test_truncation_after_the_last_checkpoint_is_the_documented_limit(
    audit_db: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    log = AuditLog(audit_db, signing_key, checkpoint_every=10)
    log.record_many([event(i) for i in range(10)])
    for i in range(10, 15):
        log.record(event(i))
    report = verify_chain(audit_db, signing_key.public_key())
    assert report.ok and report.unanchored == 5  # the window an attacker could cut unseen
    tamper("DELETE FROM audit_log WHERE seq > 12")
    report = verify_chain(audit_db, signing_key.public_key())
    assert report.ok and report.head_seq == 12 and report.unanchored == 2
    # a checkpoint copied off-site closes the window
    log.checkpoint()
    kept = load_checkpoints(audit_db)[-1]
    tamper("DELETE FROM audit_checkpoints WHERE id = ?", (kept[0],))
    tamper("DELETE FROM audit_log WHERE seq > 10")
    assert broken(audit_db, signing_key)[0] is None  # invisible from the database alone
    assert broken(audit_db, signing_key, expect_checkpoint=kept)[0] == 11
    log.close()


def test_checkpoint_forged(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    tamper("UPDATE audit_checkpoints SET head_hash = ? WHERE id = 3", (b"\x01" * 32,))
    seq, problem = broken(filled, signing_key)
    assert seq == 30 and "bad signature" in problem


def test_checkpoint_signed_by_an_untrusted_key(
    filled: Database, signing_key: Ed25519PrivateKey
) -> None:
    seq, problem = broken(filled, Ed25519PrivateKey.generate())
    assert seq == 10 and "untrusted key" in problem


def test_checkpoint_deleted(
    filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper
) -> None:
    tamper("DELETE FROM audit_checkpoints WHERE id = 2")
    seq, problem = broken(filled, signing_key)
    assert seq == 11 and "#2 is missing" in problem


def test_checkpoint_moved(filled: Database, signing_key: Ed25519PrivateKey, tamper: Tamper) -> None:
    tamper("UPDATE audit_checkpoints SET seq = 25 WHERE id = 2")
    seq, problem = broken(filled, signing_key)
    assert seq == 25 and "bad signature" in problem
