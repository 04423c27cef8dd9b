"""Persistence behind one small interface, on SQLite (embedded) or PostgreSQL (cluster).

Components speak portable SQL with ``?`` placeholders through :class:`Database`; each component
owns its schema as a :class:`MigrationSet` and hands it to :func:`open_store` (or
:meth:`Database.migrate`) at start-up, which applies every pending migration in version order,
exactly once, even when several nodes start together.
"""

from voxseal.store.database import Database, Transaction, open_store
from voxseal.store.migrations import Migration, MigrationSet

__all__ = [
    "Database",
    "Migration",
    "MigrationSet",
    "Transaction",
    "open_store",
]
