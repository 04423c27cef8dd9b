"""Audit fixtures: a migrated store on each backend, a signing key, a log, and a tamperer.

The tamperer plays an attacker who owns the database: it switches the append-only triggers
off (as a database owner can) and then runs raw SQL, so the tests show that verification —
not the triggers — is what catches the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit import AuditEvent, AuditLog, Outcome
from voxseal.audit.schema import MIGRATIONS
from voxseal.store import Database, open_store

Tamper = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def audit_db(database_url: str) -> Iterator[Database]:
    db = open_store(database_url, migrations=[MIGRATIONS])
    yield db
    db.close()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def audit_log(audit_db: Database, signing_key: Ed25519PrivateKey) -> Iterator[AuditLog]:
    log = AuditLog(audit_db, signing_key, checkpoint_every=10)
    yield log
    log.close()


def event(i: int, **kw: Any) -> AuditEvent:
    """A plausible event that differs per ``i``."""
    fields: dict[str, Any] = {
        "action": ("auth.login", "token.issue", "user.roles", "audit.read")[i % 4],
        "outcome": (Outcome.SUCCESS, Outcome.FAILURE, Outcome.DENIED)[i % 3],
        "actor": f"user{i % 5}",
        "target": f"room-{i % 7}",
        "source": f"203.0.113.{i % 250}",
        "correlation_id": f"req-{i:06d}",
        "details": {"n": i, "reason": "test"},
    }
    fields.update(kw)
    return AuditEvent(**fields)


def disable_guards(db: Database) -> None:
    if db.dialect == "sqlite":
        for name in (
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_checkpoints_no_update",
            "audit_checkpoints_no_delete",
        ):
            db.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        db.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        db.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")


@pytest.fixture
def tamper(audit_db: Database) -> Tamper:
    """``tamper(sql, params)`` runs raw SQL as a database owner who dropped the triggers."""
    disabled = False

    def run(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        nonlocal disabled
        if not disabled:
            disable_guards(audit_db)
            disabled = True
        return audit_db.execute(sql, params)

    return run
