"""The vault's tables (SQLite and PostgreSQL).

Why these shapes:

* ``vault_subject_keys`` has one row per (subject, key version). Crypto-shredding sets
  ``wrapped_key`` to NULL and stamps ``shredded_at``; the row stays as a tombstone so the next
  object stored for that subject gets a *new* version and can never be confused with the
  destroyed one. ``master_key_id`` says which master key wrapped the row (rotation targets).
* ``vault_objects`` holds only ciphertext: ``wrapped_data_key`` (the data key under the subject
  key) and ``ciphertext`` (the payload under the data key). ``metadata`` is small JSON with no
  raw PII (ids, durations, redaction counts) and is authenticated as part of the payload's
  associated data, so it cannot be altered unnoticed either.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_V1 = """
CREATE TABLE vault_subject_keys (
    subject_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    master_key_id TEXT,
    wrapped_key {blob},
    created_at DOUBLE PRECISION NOT NULL,
    shredded_at DOUBLE PRECISION,
    PRIMARY KEY (subject_id, version),
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);
CREATE TABLE vault_objects (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN
        ('recording', 'transcript', 'transcript_unredacted', 'voiceprint')),
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT NOT NULL,
    wrapped_data_key {blob} NOT NULL,
    ciphertext {blob} NOT NULL,
    FOREIGN KEY (subject_id, key_version) REFERENCES vault_subject_keys (subject_id, version)
);
CREATE INDEX vault_objects_subject ON vault_objects (subject_id, created_at);
"""

MIGRATIONS = MigrationSet(
    "vault",
    (
        Migration(
            1,
            "subject keys and encrypted objects",
            sqlite=_V1.format(blob="BLOB"),
            postgresql=_V1.format(blob="BYTEA"),
        ),
    ),
)
