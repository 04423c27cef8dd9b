"""Stream-token redemptions and pending calls kept in the store, shared by ingress nodes.

With these, any number of ``voxseal telephony`` processes can sit behind a plain load
balancer: a token redeemed on one node is refused on every other (single use holds for the
cluster, not per process), and a stream that lands on another node than its webhook still
finds the call's subject id. On SQLite they serve the processes of one host; on PostgreSQL
they are what makes several hosts safe.

Both run blocking database calls: call them off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from voxseal.store.database import Database

#: seconds a used token id is kept past its expiry, for clock skew between ingress nodes
CLOCK_SKEW_MARGIN: Final = 300.0


@dataclass(frozen=True)
class PendingCall:
    """What the webhook learnt about a call, for its media stream to pick up."""

    provider: str
    call_id: str
    subject_id: str | None
    expires_at: float


class StoreUsedTokens:
    """:class:`~voxseal.telephony.stream_tokens.UsedTokens` in the store: one atomic insert."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, jti: str, expires_at: float, now: float) -> bool:
        with self._db.transaction() as tx:
            # forget ids only well after they expired: a node whose clock runs ahead must not
            # drop a row that a node running behind would still accept the token for
            tx.execute(
                "DELETE FROM telephony_used_stream_tokens WHERE expires_at < ?",
                (now - CLOCK_SKEW_MARGIN,),
            )
            won = tx.execute(
                "INSERT INTO telephony_used_stream_tokens (jti, expires_at) VALUES (?, ?)"
                " ON CONFLICT (jti) DO NOTHING RETURNING jti",
                (jti, float(expires_at)),
            )
        return bool(won)

    def __len__(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) FROM telephony_used_stream_tokens")
        return int(row[0]) if row else 0


class StorePendingCalls:
    """Calls whose webhook was answered and whose stream has not started yet, in the store
    (rows expire with the stream token and are swept on each ``add``)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def add(self, call: PendingCall) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM telephony_pending_calls WHERE expires_at < ?", (self._clock(),))
            tx.execute(
                "INSERT INTO telephony_pending_calls (provider, call_id, subject_id, expires_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (provider, call_id) DO UPDATE SET"
                " subject_id = excluded.subject_id, expires_at = excluded.expires_at",
                (call.provider, call.call_id, call.subject_id, float(call.expires_at)),
            )

    def take(self, provider: str, call_id: str) -> PendingCall | None:
        rows = self._db.execute(
            "DELETE FROM telephony_pending_calls WHERE provider = ? AND call_id = ?"
            " RETURNING subject_id, expires_at",
            (provider, call_id),
        )
        if not rows:
            return None
        subject_id, expires_at = rows[0]
        if expires_at < self._clock():
            return None
        return PendingCall(provider, call_id, subject_id, float(expires_at))

    def __len__(self) -> int:
        now = self._clock()
        row = self._db.query_one(
            "SELECT COUNT(*) FROM telephony_pending_calls WHERE expires_at >= ?", (now,)
        )
        return int(row[0]) if row else 0
