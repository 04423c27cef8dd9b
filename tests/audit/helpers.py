"""What the audit tests share: plausible events, and the database owner's tampering tools.

Test modules import these from here (never from conftest.py); the ``tamper`` fixture in
conftest.py is built on :func:`disable_guards`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voxseal.audit import AuditEvent, Outcome
from voxseal.store import Database

#: ``tamper(sql, params)``: raw SQL run by a database owner who dropped the triggers
Tamper = Callable[..., list[tuple[Any, ...]]]


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
