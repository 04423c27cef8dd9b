"""The dashboard's table: server-side browser sessions.

Why this shape:

* ``id_hash`` is the SHA-256 of the 256-bit random value in the session cookie, never the
  value itself, so a copy of the database (a backup, a replica) cannot be replayed as a cookie.
* ``handle`` is a separate short random name for the session that *is* safe to show: audit
  events and the logs name a session by it, never by anything derived from the cookie.
* ``created_at`` and ``last_seen_at`` carry the absolute and idle timeouts; ``revoked_at``
  makes logout (and an administrator disabling the account) take effect on every node at once.
* ``roles`` are the roles held at login; each request narrows them to the roles the principal
  holds *now*, so removing a role bites immediately and adding one needs a fresh login.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_SQLITE_V1 = """
CREATE TABLE dashboard_sessions (
    id_hash BLOB PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_seen_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    source TEXT
);
CREATE INDEX dashboard_sessions_principal ON dashboard_sessions (principal);
CREATE INDEX dashboard_sessions_seen ON dashboard_sessions (last_seen_at);
"""

_POSTGRESQL_V1 = """
CREATE TABLE dashboard_sessions (
    id_hash BYTEA PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_seen_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    source TEXT
);
CREATE INDEX dashboard_sessions_principal ON dashboard_sessions (principal);
CREATE INDEX dashboard_sessions_seen ON dashboard_sessions (last_seen_at);
"""

MIGRATIONS = MigrationSet(
    "dashboard",
    (Migration(1, "server-side browser sessions", _SQLITE_V1, _POSTGRESQL_V1),),
)
