"""Audit fixtures: a migrated store on each backend, a signing key, a log, and a tamperer.

The tamperer plays an attacker who owns the database: it switches the append-only triggers
off (as a database owner can) and then runs raw SQL, so the tests show that verification —
not the triggers — is what catches the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.audit.helpers import Tamper, disable_guards
from voxseal.audit import AuditLog
from voxseal.audit.schema import MIGRATIONS
from voxseal.store import Database, open_store


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
