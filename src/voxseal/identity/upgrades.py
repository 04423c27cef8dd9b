"""Data upgrades of the identity tables that SQL migrations cannot express.

Re-sealing needs the sealing key, which lives in a file and never in the database, so it cannot
be a migration; it runs when the gateway opens (:meth:`voxseal.gateway.Gateway.open`) and is
recorded in ``identity_upgrades`` so that later starts skip it.

``reseal-totp-secrets-v1``: TOTP secrets written before the shared at-rest envelope (version
byte not authenticated) are re-sealed in it. Each row is updated with a compare-and-set on the
old blob, so nodes starting together cannot clobber each other or a fresh enrolment. A row that
opens in neither format (a wrong key file, a damaged value) is left as it is and logged by
principal id; the upgrade is then not recorded, so the next start with the right key file
converts it. Such a row fails to open on login, as it already did before the upgrade.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from voxseal.errors import CryptoError
from voxseal.identity.sealing import SecretSealer
from voxseal.store import Database

log = logging.getLogger(__name__)

RESEAL_TOTP_SECRETS = "reseal-totp-secrets-v1"


@dataclass(frozen=True, slots=True)
class ResealResult:
    """What one run did: rows re-sealed, rows that did not open (principal ids only)."""

    resealed: int
    unreadable: tuple[str, ...]
    already_done: bool = False


def upgrade_sealed_secrets(
    db: Database, sealer: SecretSealer, *, clock: Callable[[], float] = time.time
) -> ResealResult:
    """Re-seal pre-envelope TOTP secrets once per database (see the module docstring)."""
    if db.query_one("SELECT 1 FROM identity_upgrades WHERE name = ?", (RESEAL_TOTP_SECRETS,)):
        return ResealResult(0, (), already_done=True)
    rows = db.execute(
        "SELECT id, totp_secret FROM identity_principals WHERE totp_secret IS NOT NULL"
    )
    resealed = 0
    unreadable: list[str] = []
    for principal_id, blob in rows:
        old = bytes(blob)
        try:
            new = sealer.reseal_legacy(old, context=f"totp:{principal_id}")
        except CryptoError:
            unreadable.append(str(principal_id))
            continue
        if new is None:
            continue
        resealed += len(
            db.execute(
                "UPDATE identity_principals SET totp_secret = ?"
                " WHERE id = ? AND totp_secret = ? RETURNING id",
                (new, principal_id, old),
            )
        )
    if unreadable:
        log.warning(
            "identity upgrade %s: %d TOTP secret(s) open with neither format and were left "
            "as they are (principals %s); it runs again at the next start",
            RESEAL_TOTP_SECRETS,
            len(unreadable),
            ", ".join(unreadable),
        )
    else:
        db.execute(
            "INSERT INTO identity_upgrades (name, applied_at) VALUES (?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (RESEAL_TOTP_SECRETS, float(clock())),
        )
    return ResealResult(resealed, tuple(unreadable))
