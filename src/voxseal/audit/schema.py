"""The audit component's tables: the hash-chained records and the signed checkpoints.

Why these shapes:

* ``audit_log.seq`` is assigned by the writer (head + 1 under the write lock), not by an
  auto-increment, so the sequence is gap-free by construction and a gap is evidence of deletion.
* ``time_us`` is an integer (microseconds since the Unix epoch) so the canonical encoding of a
  record never depends on how a backend prints a float.
* ``details`` is the canonical JSON text exactly as it was hashed; re-serialising a decoded
  object could differ byte-for-byte and break verification.
* Both tables refuse UPDATE and DELETE with a trigger. That is not the security boundary (a
  database owner can drop a trigger; the hash chain and the signed checkpoints are what make
  tampering *evident*), but it stops an application bug from rewriting history by accident.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_SQLITE_V1 = """
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    source TEXT,
    correlation_id TEXT,
    details TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL,
    time_us INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
"""  # noqa: E501

_POSTGRESQL_V1 = """
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    time_us BIGINT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    source TEXT,
    correlation_id TEXT,
    details TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_time ON audit_log (time_us);
CREATE TABLE audit_checkpoints (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    head_hash BYTEA NOT NULL,
    time_us BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    public_key BYTEA NOT NULL,
    signature BYTEA NOT NULL
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""  # noqa: E501

# the dashboard and `voxseal audit` filter by target (a room, a user, a call): without this
# a filter on a year of events scans the whole chain. IF NOT EXISTS: an operator of a large
# PostgreSQL log may build it beforehand with CREATE INDEX CONCURRENTLY under this name.
_V2 = """
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, seq);
"""

MIGRATIONS = MigrationSet(
    "audit",
    (
        Migration(1, "hash-chained log and signed checkpoints", _SQLITE_V1, _POSTGRESQL_V1),
        Migration(2, "index on target, for filters by room, user or call", _V2, _V2),
    ),
)
