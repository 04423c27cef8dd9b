"""Brute-force lockout per account and per source address, with exponential back-off.

Why both: a per-account limit stops guessing one user's password from many addresses, a
per-address limit stops one address from spraying a common password across many users. The
address threshold is higher because many honest users can share one NAT address; IPv6 clients
are grouped by /64, since anyone holding one address usually holds the whole /64.

Counters live in the store, so limits hold across restarts and across every node of a cluster.
Each increment is one atomic upsert; the lock it leads to is ``base_delay * 2**(n - threshold)``
seconds, capped at ``max_delay``. Attempts refused *while* locked are not counted, so an attacker
cannot stretch a victim's lock beyond the back-off they would reach by waiting it out. A failure
older than ``window`` (and
no lock ending within it) starts a fresh count. Account keys are supplied by the caller (the
authenticator passes a known principal's name, or a hash for names that do not exist so that
typed strings — sometimes passwords typed into the wrong field — are never stored).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, AuditSink, Outcome
from voxseal.errors import AccountLocked, ConfigError
from voxseal.store import Database


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int = 5
    ip_threshold: int = 20
    base_delay: float = 30.0
    max_delay: float = 900.0
    window: float = 900.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.ip_threshold < 1:
            raise ConfigError("lockout.threshold", "must be >= 1")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ConfigError("lockout.max_delay", "need 0 < base_delay <= max_delay")
        if self.window <= 0:
            raise ConfigError("lockout.window", "must be > 0")

    def delay_for(self, failures: int, threshold: int) -> float:
        """Lock duration after ``failures`` consecutive failures (0 below the threshold)."""
        if failures < threshold:
            return 0.0
        exponent = min(failures - threshold, 32)
        return min(self.max_delay, self.base_delay * 2.0**exponent)


def address_key(source_ip: str | None) -> str | None:
    """The unit an address is limited by: the IPv4 address, or the IPv6 /64."""
    if not source_ip:
        return None
    try:
        addr = ipaddress.ip_address(source_ip.strip().split("%", 1)[0])
    except ValueError:
        return source_ip.strip()[:64]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


class BruteForceLockout:
    """Counts failures and refuses attempts while an account or address is locked."""

    def __init__(
        self,
        db: Database,
        policy: LockoutPolicy | None = None,
        *,
        audit: AuditSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.policy = policy or LockoutPolicy()
        self._audit = audit
        self._clock = clock

    def check(self, *, account: str | None = None, source_ip: str | None = None) -> None:
        """Raise :class:`AccountLocked` (address first, then account) while a lock holds."""
        now = self._clock()
        for scope, subject in (("ip", address_key(source_ip)), ("account", account)):
            if subject is None:
                continue
            row = self._db.query_one(
                "SELECT locked_until FROM identity_lockouts WHERE scope = ? AND subject = ?",
                (scope, subject),
            )
            if row is not None and float(row[0]) > now:
                raise AccountLocked(float(row[0]) - now, scope=scope)

    def record_failure(
        self,
        *,
        account: str | None = None,
        source_ip: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Count one failed attempt against the account and the address; lock if due."""
        now = self._clock()
        ip = address_key(source_ip)
        for scope, subject, threshold in (
            ("account", account, self.policy.threshold),
            ("ip", ip, self.policy.ip_threshold),
        ):
            if subject is None:
                continue
            failures = self._increment(scope, subject, now)
            delay = self.policy.delay_for(failures, threshold)
            if delay <= 0:
                continue
            self._db.execute(
                "UPDATE identity_lockouts SET locked_until = ?"
                " WHERE scope = ? AND subject = ? AND locked_until < ?",
                (now + delay, scope, subject, now + delay),
            )
            if self._audit is not None:
                AuditContext(self._audit, None, ip, correlation_id).record(
                    AuditAction.AUTH_LOCKOUT,
                    target=subject if scope == "account" else None,
                    outcome=Outcome.DENIED,
                    scope=scope,
                    failures=failures,
                    retry_after=delay,
                )

    def _increment(self, scope: str, subject: str, now: float) -> int:
        rows = self._db.execute(
            "INSERT INTO identity_lockouts"
            " (scope, subject, failures, last_failure_at, locked_until)"
            " VALUES (?, ?, 1, ?, 0)"
            " ON CONFLICT (scope, subject) DO UPDATE SET"
            "  failures = CASE WHEN identity_lockouts.last_failure_at < ?"
            "   AND identity_lockouts.locked_until < ?"
            "   THEN 1 ELSE identity_lockouts.failures + 1 END,"
            "  last_failure_at = excluded.last_failure_at"
            " RETURNING failures",
            (scope, subject, now, now - self.policy.window, now - self.policy.window),
        )
        return int(rows[0][0])

    def record_success(self, *, account: str) -> None:
        """A fully successful login clears the account's count (never the address's)."""
        self._db.execute(
            "DELETE FROM identity_lockouts WHERE scope = 'account' AND subject = ?", (account,)
        )

    def failures(self, *, account: str | None = None, source_ip: str | None = None) -> int:
        """Current count for an account or an address (for operators and tests)."""
        scope, subject = _subject(account, source_ip)
        row = self._db.query_one(
            "SELECT failures, last_failure_at, locked_until FROM identity_lockouts"
            " WHERE scope = ? AND subject = ?",
            (scope, subject),
        )
        horizon = self._clock() - self.policy.window
        if row is None or (float(row[1]) < horizon and float(row[2]) < horizon):
            return 0
        return int(row[0])

    def unlock(self, *, account: str | None = None, source_ip: str | None = None) -> None:
        """Operator override: forget the count and lock of an account or address."""
        scope, subject = _subject(account, source_ip)
        self._db.execute(
            "DELETE FROM identity_lockouts WHERE scope = ? AND subject = ?", (scope, subject)
        )

    def purge(self) -> int:
        """Drop rows that are neither locked nor within the counting window."""
        now = self._clock()
        rows = self._db.execute(
            "DELETE FROM identity_lockouts WHERE locked_until < ? AND last_failure_at < ?"
            " RETURNING subject",
            (now - self.policy.window, now - self.policy.window),
        )
        return len(rows)


def _subject(account: str | None, source_ip: str | None) -> tuple[str, str | None]:
    if account is not None:
        return "account", account
    return "ip", address_key(source_ip)
