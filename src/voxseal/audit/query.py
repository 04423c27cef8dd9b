"""Reading the log back: the stored record type and a filtered, keyset-paged query.

Paging is by ``seq`` (``after_seq`` / ``before_seq``), never by OFFSET: a page boundary stays
put while new events are appended, and every page costs the same however deep it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voxseal.audit.chain import RECORD_COLUMNS
from voxseal.errors import InvalidInput
from voxseal.store import Database

MAX_LIMIT = 1000
SELECT_RECORDS = f"SELECT {', '.join(RECORD_COLUMNS)} FROM audit_log"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored record: the event, where it sits in the chain, and its hashes."""

    seq: int
    time_us: int
    actor: str | None
    action: str
    target: str | None
    outcome: str
    source: str | None
    correlation_id: str | None
    details_json: str
    prev_hash: bytes
    hash: bytes

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AuditRecord:
        seq, t, actor, action, target, outcome, source, cid, details, prev, h = row
        return cls(
            int(seq), int(t), actor, action, target, outcome, source, cid, details,
            bytes(prev), bytes(h),
        )  # fmt: skip

    @property
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        return self.time_us / 1_000_000

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.time_us // 1_000_000, UTC).replace(
            microsecond=self.time_us % 1_000_000
        )

    @property
    def isotime(self) -> str:
        """RFC 3339 UTC with microseconds, e.g. ``2025-01-02T03:04:05.123456Z``."""
        return self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @property
    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = json.loads(self.details_json)
        return details

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the ``GET /v1/audit`` item and the jsonl export line)."""
        return {
            "seq": self.seq,
            "time": self.isotime,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "details": self.details,
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
        }


def to_time_us(value: float | datetime) -> int:
    """Seconds since the epoch (or an aware datetime) to integer microseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("timestamps must carry a time zone")
        value = value.timestamp()
    return round(value * 1_000_000)


def query_records(
    db: Database,
    *,
    actor: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    target: str | None = None,
    correlation_id: str | None = None,
    since: float | datetime | None = None,
    until: float | datetime | None = None,
    after_seq: int | None = None,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int = 100,
) -> list[AuditRecord]:
    """Records matching every given filter, ordered by seq.

    ``since`` is inclusive and ``until`` exclusive. For the next page pass the last seq you
    got as ``after_seq`` (or as ``before_seq`` with ``newest_first=True``).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("actor", actor),
        ("action", action),
        ("outcome", str(outcome) if outcome is not None else None),
        ("target", target),
        ("correlation_id", correlation_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("time_us >= ?")
        params.append(to_time_us(since))
    if until is not None:
        where.append("time_us < ?")
        params.append(to_time_us(until))
    if after_seq is not None:
        where.append("seq > ?")
        params.append(int(after_seq))
    if before_seq is not None:
        where.append("seq < ?")
        params.append(int(before_seq))
    sql = SELECT_RECORDS
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
    params.append(limit)
    return [AuditRecord.from_row(r) for r in db.execute(sql, params)]


def iter_records(db: Database, *, after_seq: int = 0, chunk: int = 5000) -> Any:
    """Every record from ``after_seq + 1`` on, as raw rows in chunks (one query each)."""
    last = after_seq
    while True:
        rows = db.execute(SELECT_RECORDS + " WHERE seq > ? ORDER BY seq LIMIT ?", (last, chunk))
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        last = rows[-1][0]
