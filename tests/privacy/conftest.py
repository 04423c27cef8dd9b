"""Privacy fixtures: a store migrated with the audit and privacy schemas, a real audit log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit import AuditLog
from voxseal.audit.schema import MIGRATIONS as AUDIT_MIGRATIONS
from voxseal.privacy.consent import ConsentLedger
from voxseal.privacy.schema import MIGRATIONS as PRIVACY_MIGRATIONS
from voxseal.store import Database, open_store


@pytest.fixture
def privacy_db(database_url: str) -> Iterator[Database]:
    db = open_store(database_url, [PRIVACY_MIGRATIONS, AUDIT_MIGRATIONS])
    yield db
    db.close()


@pytest.fixture
def audit_log(privacy_db: Database) -> Iterator[AuditLog]:
    log = AuditLog(privacy_db, Ed25519PrivateKey.generate(), checkpoint_every=10)
    yield log
    log.close()


@pytest.fixture
def ledger(privacy_db: Database, audit_log: AuditLog) -> ConsentLedger:
    return ConsentLedger(privacy_db, audit_log)
