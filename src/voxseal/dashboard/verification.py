"""The audit page's chain status without re-hashing the whole log on every view.

``GET /v1/audit/verify`` (and ``voxseal audit verify``) re-reads and re-hashes every record and
checks every signed checkpoint: right for an explicit check, but the audit page shows a status
on each view, and a log of a million records takes seconds to verify, so each page load would
hold a worker thread that long and every reload would start another run.

:class:`ChainWatch` keeps one :class:`~voxseal.audit.chain.ChainVerifier` per node across views
(the verifier is a stream: it can be fed more records later) and, on a view, feeds it only the
records written since the last one. It starts again from record 1 — a *full* verification —
when:

* the set of signed checkpoints changed in any way other than new, intact checkpoints for
  records not yet checked (those — one every ``audit_checkpoint_every`` events — join the
  running verifier, which checks each as the stream reaches its record; a checkpoint removed or
  rewritten, or a new one for a record already passed, needs a run from record 1), or
* the last full verification is older than :data:`FULL_EVERY`.

What a view therefore guarantees: every record up to the shown head was hashed and chained
in order, and the checkpoints known at the last full run match; a record rewritten in place
*after* it was checked is found by the next full run (at most :data:`FULL_EVERY` later), and
the page says when that run was. ``voxseal audit verify`` stays the
authority: it always checks everything. One run at a time (a lock), so simultaneous views
share the work instead of multiplying it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from voxseal.audit.chain import ChainVerifier
from voxseal.audit.query import iter_records
from voxseal.audit.verify import load_checkpoints
from voxseal.errors import AuditChainBroken
from voxseal.store import Database

#: the longest a record can stay "verified" on the page after it was rewritten in place
FULL_EVERY = 120.0


@dataclass(frozen=True, slots=True)
class Verification:
    """One view's answer: ``report`` has the keys of ``GET /v1/audit/verify``."""

    report: dict[str, Any]
    #: "full" (from record 1) or "incremental" (only records newer than the last view)
    mode: str
    #: records hashed by this run
    checked: int
    #: when the full verification this result extends started
    full_at: float


class ChainWatch:
    """A node's running verification of its audit chain (sync: call from a thread pool)."""

    def __init__(
        self,
        db: Database,
        public_keys: Sequence[Ed25519PublicKey],
        *,
        full_every: float = FULL_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._keys = list(public_keys)
        self.full_every = full_every
        self._clock = clock
        self._lock = threading.Lock()
        self._verifier: ChainVerifier | None = None
        self._checkpoints: list[tuple[Any, ...]] = []
        self._full_at = 0.0

    def __repr__(self) -> str:
        return f"ChainWatch(full_every={self.full_every:.0f}s)"

    def verify(self) -> Verification:
        with self._lock:
            now = self._clock()
            checkpoints = [tuple(row) for row in load_checkpoints(self._db)]
            verifier = self._verifier
            full = verifier is None or now - self._full_at >= self.full_every
            if not full and checkpoints != self._checkpoints:
                known = self._checkpoints
                assert verifier is not None
                # new checkpoints ahead of what was checked join the running verification;
                # any other change (one removed, rewritten, or behind the head) starts over
                if checkpoints[: len(known)] == known and verifier.add_checkpoints(
                    checkpoints[len(known) :]
                ):
                    self._checkpoints = checkpoints
                else:
                    full = True
            if full or verifier is None:
                verifier = ChainVerifier(checkpoints, self._keys)
                self._verifier, self._checkpoints, self._full_at = verifier, checkpoints, now
            before = verifier.report.records_checked
            if verifier.report.broken_seq is None:
                try:
                    for rows in iter_records(self._db, after_seq=verifier.report.head_seq):
                        verifier.feed(rows)
                except AuditChainBroken:
                    pass  # named in the report; stays broken until the next full run
            report = verifier.finish()
            return Verification(
                report=report.summary(),
                mode="full" if full else "incremental",
                checked=report.records_checked - before,
                full_at=self._full_at,
            )
