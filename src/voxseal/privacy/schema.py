"""The privacy component's tables: the consent ledger.

Why this shape:

* One row per decision, never changed: the ledger is evidence (GDPR art. 7(1): the controller
  must be able to demonstrate consent), so withdrawal is a new row, not an UPDATE. UPDATE,
  DELETE (and TRUNCATE on PostgreSQL) are refused by triggers, as for the audit tables; that
  stops an application bug, not a database owner.
* ``time_us`` is when the decision took effect (microseconds since the epoch, integer so no
  backend prints it differently); ``recorded_us`` is when the row was written.
* ``granted`` is 0/1 in an INTEGER so the same SQL reads it on both backends.
* Subject ids are opaque identifiers chosen by the operator; no name, phone or email here.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_SQLITE_V1 = """
CREATE TABLE privacy_consents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
    time_us INTEGER NOT NULL,
    source TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    actor TEXT,
    recorded_us INTEGER NOT NULL
);
CREATE INDEX privacy_consents_subject ON privacy_consents (subject_id, purpose, time_us, id);
CREATE TRIGGER privacy_consents_no_update BEFORE UPDATE ON privacy_consents BEGIN SELECT RAISE(ABORT, 'privacy_consents is append-only'); END;
CREATE TRIGGER privacy_consents_no_delete BEFORE DELETE ON privacy_consents BEGIN SELECT RAISE(ABORT, 'privacy_consents is append-only'); END;
"""  # noqa: E501

_POSTGRESQL_V1 = """
CREATE TABLE privacy_consents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
    time_us BIGINT NOT NULL,
    source TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    actor TEXT,
    recorded_us BIGINT NOT NULL
);
CREATE INDEX privacy_consents_subject ON privacy_consents (subject_id, purpose, time_us, id);
CREATE FUNCTION privacy_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER privacy_consents_append_only BEFORE UPDATE OR DELETE ON privacy_consents FOR EACH ROW EXECUTE FUNCTION privacy_append_only();
CREATE TRIGGER privacy_consents_no_truncate BEFORE TRUNCATE ON privacy_consents FOR EACH STATEMENT EXECUTE FUNCTION privacy_append_only();
"""  # noqa: E501

MIGRATIONS = MigrationSet(
    "privacy",
    (Migration(1, "append-only consent ledger", _SQLITE_V1, _POSTGRESQL_V1),),
)
