"""Versioned schema migrations, one ordered stream per component.

Each component (identity, audit, ...) declares its own :class:`MigrationSet` next to the code
that uses the tables, so a package can be read alone, and hands it to the store at start-up;
the store only knows how to apply them and names no component.
Applied versions are recorded in ``schema_migrations`` and never applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voxseal.errors import MigrationError


@dataclass(frozen=True)
class Migration:
    """One forward step. Each dialect gets its own DDL so types stay native (BYTEA, BIGINT)."""

    version: int
    name: str
    sqlite: str
    postgresql: str

    def sql_for(self, dialect: str) -> str:
        if dialect == "sqlite":
            return self.sqlite
        if dialect == "postgresql":
            return self.postgresql
        raise MigrationError(f"no DDL for dialect {dialect!r}")


@dataclass(frozen=True)
class MigrationSet:
    component: str
    migrations: tuple[Migration, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != sorted(set(versions)) or (versions and versions[0] < 1):
            raise MigrationError(
                f"component {self.component!r}: versions must be unique, ascending, from 1"
            )


def split_statements(script: str) -> list[str]:
    """Split DDL on ``;`` at line ends; our migrations contain no procedural bodies."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(current).strip().rstrip(";").strip()
            if stmt:
                statements.append(stmt)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements
