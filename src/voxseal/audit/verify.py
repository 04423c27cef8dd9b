"""Verify the stored chain and checkpoints: what ``voxseal audit verify`` runs.

The logic is :class:`~voxseal.audit.chain.ChainVerifier` (pure); this module only streams rows
out of the database in keyset-paged chunks, so memory stays flat however long the log is.

What verification can and cannot show
-------------------------------------
* Any record changed, deleted, reordered or inserted *before the last checkpoint* is found and
  the first broken seq is named, even if the attacker re-hashed the rest of the chain: the
  signed checkpoint no longer matches.
* A record changed in place without recomputing hashes is found anywhere, checkpoint or not.
* Cutting records off the end *after* the last checkpoint leaves a shorter chain that is
  internally consistent: a chain alone cannot show it. The report's ``unanchored`` count says
  how many records are in that window; it is at most ``checkpoint_every`` events (plus those
  since the last shutdown checkpoint). Deleting checkpoints too is seen as a gap in their ids
  unless the newest ones are deleted — so copy the latest checkpoint somewhere the database
  owner cannot write and pass it back as ``expect_checkpoint`` to close the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from voxseal.audit.chain import CHECKPOINT_COLUMNS, ChainVerifier, VerifyReport
from voxseal.audit.query import iter_records
from voxseal.errors import AuditChainBroken
from voxseal.store import Database

CHUNK = 20_000


def load_checkpoints(db: Database) -> list[tuple[Any, ...]]:
    """Every checkpoint row, oldest first, in :data:`CHECKPOINT_COLUMNS` order."""
    return db.execute(f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM audit_checkpoints ORDER BY id")


def verify_chain(
    db: Database,
    public_keys: Ed25519PublicKey | Iterable[Ed25519PublicKey],
    *,
    expect_checkpoint: Sequence[object] | None = None,
    raise_on_error: bool = False,
    chunk: int = CHUNK,
) -> VerifyReport:
    """Check every record and checkpoint; returns a report naming the first broken record.

    ``public_keys`` are the trusted checkpoint keys (several across key rotations); a
    checkpoint signed by any other key is a failure. ``expect_checkpoint`` is a checkpoint row
    kept elsewhere (``CHECKPOINT_COLUMNS`` order): it is checked as if it were in the table, so
    truncation up to it is detected even if the table's copy was deleted.
    With ``raise_on_error`` a failure raises :class:`~voxseal.errors.AuditChainBroken`.
    """
    keys = [public_keys] if isinstance(public_keys, Ed25519PublicKey) else list(public_keys)
    checkpoints = load_checkpoints(db)
    mismatch = None
    if expect_checkpoint is not None:
        ext: tuple[Any, ...] = tuple(expect_checkpoint)
        stored = next((r for r in checkpoints if r[0] == ext[0]), None)
        if stored is None:
            checkpoints = sorted([*checkpoints, ext], key=lambda r: r[0])
        elif tuple(stored) != ext:
            mismatch = (int(ext[1]), f"checkpoint #{ext[0]} differs from the trusted copy")
    verifier = ChainVerifier(checkpoints, keys)
    if mismatch is not None:
        verifier.hold(*mismatch)
    try:
        for rows in iter_records(db, chunk=chunk):
            verifier.feed(rows)
    except AuditChainBroken:
        pass
    report = verifier.finish()
    if raise_on_error:
        report.raise_if_broken()
    return report
