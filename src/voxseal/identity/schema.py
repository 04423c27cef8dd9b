"""The identity component's tables, one migration stream for SQLite and PostgreSQL.

Why these shapes:

* ``identity_principals`` keeps roles as a sorted, comma-separated list so a principal is one row
  (the role set is small and always read whole); the TOTP secret is stored sealed (AES-GCM,
  see :mod:`voxseal.identity.sealing`) and ``totp_last_step`` is what makes a code single-use.
* Recovery codes, API keys, MFA challenges and lockout counters are stored as *hashes* of
  high-entropy values or of usernames, never in the clear.
* ``identity_revoked_tokens`` keeps only a JWT id and its expiry, so expired rows can be purged.
* ``identity_upgrades`` records the data upgrades that SQL cannot do (re-sealing stored secrets
  in a new envelope, :mod:`voxseal.identity.upgrades`), so each runs once per database.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_V1_SQLITE = """
CREATE TABLE identity_principals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('human', 'service')),
    roles TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    totp_secret BLOB,
    totp_algorithm TEXT,
    totp_digits INTEGER,
    totp_period INTEGER,
    mfa_state TEXT NOT NULL DEFAULT 'none' CHECK (mfa_state IN ('none', 'pending', 'confirmed')),
    totp_last_step INTEGER,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE identity_recovery_codes (
    principal_id TEXT NOT NULL REFERENCES identity_principals (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION,
    PRIMARY KEY (principal_id, code_hash)
);
CREATE TABLE identity_api_keys (
    key_id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES identity_principals (id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    label TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION
);
CREATE INDEX identity_api_keys_principal ON identity_api_keys (principal_id);
CREATE TABLE identity_mfa_challenges (
    challenge_hash BLOB PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES identity_principals (id) ON DELETE CASCADE,
    expires_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used_at DOUBLE PRECISION
);
CREATE INDEX identity_mfa_challenges_expiry ON identity_mfa_challenges (expires_at);
CREATE TABLE identity_lockouts (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at DOUBLE PRECISION NOT NULL,
    locked_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subject)
);
CREATE TABLE identity_revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX identity_revoked_tokens_expiry ON identity_revoked_tokens (expires_at);
"""

# Same tables with PostgreSQL's native types (BYTEA, BIGINT for the 64-bit TOTP step).
_V1_POSTGRESQL = (
    _V1_SQLITE.replace("BLOB", "BYTEA")
    .replace("totp_last_step INTEGER", "totp_last_step BIGINT")
    .replace("disabled INTEGER", "disabled SMALLINT")
)

_V2 = """
CREATE TABLE identity_upgrades (
    name TEXT PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
);
"""

MIGRATIONS = MigrationSet(
    "identity",
    (
        Migration(
            1, "principals, mfa, api keys, lockouts, revocations", _V1_SQLITE, _V1_POSTGRESQL
        ),
        Migration(2, "data upgrades applied once", _V2, _V2),
    ),
)
