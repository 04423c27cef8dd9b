"""The audit page's running chain verification (:mod:`voxseal.dashboard.verification`) against
a real gateway store: it hashes only what is new, agrees with a full ``verify_audit``, and
finds tampering — new records at once, older ones at the next full run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clock import Clock
from voxseal.audit import AuditAction, AuditContext
from voxseal.audit.chain import record_hash
from voxseal.config import load_settings
from voxseal.dashboard.verification import FULL_EVERY, ChainWatch
from voxseal.gateway import Gateway

FIELDS = ("ok", "records_checked", "checkpoints_checked", "head_seq", "broken_seq", "problem")


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXSEAL_")}
    g = Gateway.open(load_settings(env=env, overrides={"data_dir": str(tmp_path / "data")}))
    try:
        yield g
    finally:
        g.close()


def write(gw: Gateway, n: int) -> int:
    seq = 0
    audit = AuditContext(gw.audit, "someone")
    for i in range(n):
        seq = audit.record(AuditAction.ROOMS_STATS, target=f"room-{i % 3}", n=i)
    return seq


def full(gw: Gateway) -> dict[str, object]:
    report = gw.verify_audit()
    return {
        "ok": report.ok,
        "records_checked": report.records_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "head_seq": report.head_seq,
        "broken_seq": report.broken_seq,
        "problem": report.problem,
    }


def tamper(gw: Gateway, seq: int) -> None:
    """What the database's owner could do: drop the append-only trigger, rewrite a record."""
    gw.db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    gw.db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (seq,))


def test_views_hash_only_new_records_and_agree_with_a_full_verification(gw: Gateway) -> None:
    clock = Clock()
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=clock)
    head = write(gw, 40)
    first = watch.verify()
    assert first.mode == "full" and first.checked == head
    assert {k: first.report[k] for k in FIELDS} == full(gw)
    clock.now += 5
    head = write(gw, 5)
    second = watch.verify()
    assert second.mode == "incremental" and second.checked == 5
    assert second.full_at == first.full_at
    assert {k: second.report[k] for k in FIELDS} == full(gw)
    assert second.report["head_seq"] == head and second.report["ok"]
    # a record rewritten after the last view is hashed by the next one: found at once
    head = write(gw, 3)
    tamper(gw, head - 1)
    third = watch.verify()
    assert third.mode == "incremental" and not third.report["ok"]
    assert third.report["broken_seq"] == head - 1 == full(gw)["broken_seq"]
    # and it stays broken on later views
    write(gw, 2)
    assert watch.verify().report["broken_seq"] == head - 1


def test_an_already_checked_record_rewritten_is_found_by_the_next_full_run(gw: Gateway) -> None:
    clock = Clock()
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=clock)
    write(gw, 30)
    assert watch.verify().report["ok"]
    tamper(gw, 3)
    clock.now += FULL_EVERY - 1
    # the documented window: records already checked are not re-hashed on every view
    window = watch.verify()
    assert window.mode == "incremental" and window.report["ok"]
    clock.now += 1
    again = watch.verify()
    assert again.mode == "full" and again.full_at == clock.now
    assert not again.report["ok"] and again.report["broken_seq"] == 3
    assert {k: again.report[k] for k in FIELDS} == full(gw)


def test_a_new_checkpoint_ahead_joins_the_running_verification(gw: Gateway) -> None:
    """Checkpoints come every N events: they must not force a re-hash of the whole log."""
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=Clock())
    write(gw, 10)
    first = watch.verify()
    write(gw, 4)
    gw.audit.checkpoint()
    second = watch.verify()
    assert second.mode == "incremental"
    assert second.checked == second.report["head_seq"] - first.report["head_seq"] == 4
    assert second.report["checkpoints_checked"] == first.report["checkpoints_checked"] + 1
    assert second.report["unanchored"] == 0
    assert {k: second.report[k] for k in FIELDS} == full(gw)


def test_a_checkpoint_for_a_record_already_checked_starts_a_full_run(gw: Gateway) -> None:
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=Clock())
    write(gw, 10)
    first = watch.verify()
    gw.audit.checkpoint()  # signs the head the last view already passed
    second = watch.verify()
    assert second.mode == "full"
    assert second.report["checkpoints_checked"] == first.report["checkpoints_checked"] + 1
    assert {k: second.report[k] for k in FIELDS} == full(gw)


def test_a_chain_rehashed_under_a_new_checkpoint_is_caught_incrementally(gw: Gateway) -> None:
    """The records after the last view are rewritten and re-hashed (a consistent chain), but
    the checkpoint signed before the rewrite disagrees: found without a full run."""
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=Clock())
    write(gw, 10)
    head = watch.verify().report["head_seq"]
    write(gw, 5)
    gw.audit.checkpoint()
    gw.db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    rows = gw.db.execute(
        "SELECT seq, time_us, actor, action, target, outcome, source, correlation_id, details"
        " FROM audit_log WHERE seq > ? ORDER BY seq",
        (head,),
    )
    prev = gw.db.query_one("SELECT hash FROM audit_log WHERE seq = ?", (head,))[0]  # type: ignore[index]
    for seq, t, actor, action, target, outcome, source, cid, details in rows:
        actor = "mallory" if seq == head + 2 else actor
        h = record_hash(seq, t, actor, action, target, outcome, source, cid, details, bytes(prev))
        gw.db.execute(
            "UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (actor, bytes(prev), h, seq),
        )
        prev = h
    after = watch.verify()
    assert after.mode == "incremental" and not after.report["ok"]
    assert after.report["broken_seq"] == full(gw)["broken_seq"]
    assert "checkpoint" in str(after.report["problem"])


def test_a_forged_checkpoint_is_judged_by_a_full_run(gw: Gateway) -> None:
    watch = ChainWatch(gw.db, [gw.audit_public_key()], clock=Clock())
    write(gw, 10)
    watch.verify()
    write(gw, 4)
    gw.audit.checkpoint()
    gw.db.execute("DROP TRIGGER IF EXISTS audit_checkpoints_no_update")
    gw.db.execute(
        "UPDATE audit_checkpoints SET signature = ? WHERE id = (SELECT MAX(id) FROM"
        " audit_checkpoints)",
        (bytes(64),),
    )
    second = watch.verify()
    assert second.mode == "full" and not second.report["ok"]
    assert {k: second.report[k] for k in FIELDS} == full(gw)
