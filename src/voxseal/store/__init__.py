"""Persistence behind one small interface, on SQLite (embedded) or PostgreSQL (cluster).

Components speak portable SQL with ``?`` placeholders through :class:`Database`; each component
owns its schema as a :class:`MigrationSet` and :func:`open_store` applies every pending
migration at start, in version order, exactly once, even when several nodes start together.
"""

from voxseal.store.database import Database, Transaction, open_store
from voxseal.store.migrations import Migration, MigrationSet, registered_migrations

__all__ = [
    "Database",
    "Migration",
    "MigrationSet",
    "Transaction",
    "open_store",
    "registered_migrations",
]
