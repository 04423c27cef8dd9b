"""Per-account and per-address lockout with exponential back-off, persisted in the store."""

from __future__ import annotations

import pytest

from voxseal.audit.events import Outcome
from voxseal.errors import AccountLocked, ConfigError
from voxseal.identity.lockout import BruteForceLockout, LockoutPolicy, address_key


def fail(lockout: BruteForceLockout, n: int, account="alice", ip="192.0.2.1") -> None:
    for _ in range(n):
        lockout.record_failure(account=account, source_ip=ip)


def test_policy_delays() -> None:
    p = LockoutPolicy(threshold=3, base_delay=10, max_delay=80)
    assert [p.delay_for(n, 3) for n in range(1, 9)] == [0, 0, 10, 20, 40, 80, 80, 80]
    assert p.delay_for(10_000, 3) == 80
    with pytest.raises(ConfigError):
        LockoutPolicy(threshold=0)
    with pytest.raises(ConfigError):
        LockoutPolicy(base_delay=10, max_delay=5)


def test_account_locks_at_threshold_with_backoff(lockout, clock, sink) -> None:
    fail(lockout, 2, ip=None)
    lockout.check(account="alice")
    fail(lockout, 1, ip=None)
    with pytest.raises(AccountLocked) as exc:
        lockout.check(account="alice", source_ip="198.51.100.9")
    assert exc.value.scope == "account" and exc.value.retry_after == pytest.approx(10)
    assert exc.value.http_status == 429 and exc.value.reason == "locked_out"
    event = sink.last("auth.lockout")
    assert event.outcome is Outcome.DENIED and event.target == "alice"
    assert event.details == {"scope": "account", "failures": 3, "retry_after": 10.0}
    lockout.check(account="bob")  # other accounts are unaffected
    clock.advance(10.5)
    lockout.check(account="alice")
    fail(lockout, 1, ip=None)  # the 4th failure doubles the delay
    with pytest.raises(AccountLocked) as exc:
        lockout.check(account="alice")
    assert exc.value.retry_after == pytest.approx(20)
    for expected in (40, 80, 80):
        clock.advance(100)
        fail(lockout, 1, ip=None)
        with pytest.raises(AccountLocked) as exc:
            lockout.check(account="alice")
        assert exc.value.retry_after == pytest.approx(expected)


def test_ip_locks_at_its_own_threshold_across_accounts(lockout, clock) -> None:
    for i in range(5):
        lockout.record_failure(account=f"user{i}", source_ip="203.0.113.7")
    lockout.check(source_ip="203.0.113.7")
    lockout.record_failure(account="user5", source_ip="203.0.113.7")
    with pytest.raises(AccountLocked) as exc:
        lockout.check(account="nobody", source_ip="203.0.113.7")
    assert exc.value.scope == "ip"
    lockout.check(account="nobody", source_ip="203.0.113.8")
    assert lockout.failures(source_ip="203.0.113.7") == 6


def test_success_resets_account_but_not_address(lockout) -> None:
    fail(lockout, 2)
    lockout.record_success(account="alice")
    assert lockout.failures(account="alice") == 0
    assert lockout.failures(source_ip="192.0.2.1") == 2
    fail(lockout, 2)
    lockout.check(account="alice")  # back at 2, below the threshold of 3


def test_window_expiry_starts_a_fresh_count(lockout, clock) -> None:
    fail(lockout, 2)
    clock.advance(301)
    assert lockout.failures(account="alice") == 0
    fail(lockout, 2)
    lockout.check(account="alice")


def test_lock_outlives_window_so_backoff_keeps_growing(db, clock, sink) -> None:
    policy = LockoutPolicy(threshold=1, base_delay=100, max_delay=1000, window=150)
    lockout = BruteForceLockout(db, policy, audit=sink, clock=clock)
    delays = []
    for _ in range(4):
        lockout.record_failure(account="eve")
        with pytest.raises(AccountLocked) as exc:
            lockout.check(account="eve")
        delays.append(round(exc.value.retry_after))
        clock.advance(exc.value.retry_after + 1)
    assert delays == [100, 200, 400, 800]


def test_attempts_while_locked_are_refused_before_counting(lockout, clock) -> None:
    """The caller checks first; only attempts that got through are counted."""
    fail(lockout, 3)
    with pytest.raises(AccountLocked) as first:
        lockout.check(account="alice")
    clock.advance(5)
    with pytest.raises(AccountLocked) as second:
        lockout.check(account="alice")
    assert second.value.retry_after == pytest.approx(first.value.retry_after - 5)


def test_persisted_across_restarts(db, lockout_policy, clock) -> None:
    BruteForceLockout(db, lockout_policy, clock=clock).record_failure(account="a", source_ip="::1")
    node2 = BruteForceLockout(db, lockout_policy, clock=clock)
    fail(node2, 2, account="a", ip="::1")
    with pytest.raises(AccountLocked):
        BruteForceLockout(db, lockout_policy, clock=clock).check(account="a")


def test_unlock_and_purge(lockout, clock) -> None:
    fail(lockout, 3)
    lockout.unlock(account="alice")
    lockout.check(account="alice")
    lockout.unlock(source_ip="192.0.2.1")
    assert lockout.failures(source_ip="192.0.2.1") == 0
    fail(lockout, 1, account="bob")
    assert lockout.purge() == 0
    clock.advance(301)
    assert lockout.purge() == 2


def test_address_grouping() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key(" 192.0.2.1 ") == "192.0.2.1"
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) is None and address_key("") is None
    assert address_key("testclient") == "testclient"


def test_ipv6_neighbours_share_a_lock(lockout) -> None:
    for i in range(6):
        lockout.record_failure(account=f"u{i}", source_ip=f"2001:db8::{i + 1:x}")
    with pytest.raises(AccountLocked):
        lockout.check(source_ip="2001:db8::beef")
