"""Single-use recovery codes: the way back in when the authenticator app is lost.

Each code is 80 random bits written as 16 Crockford base32 characters in four groups
(``7K3Q-M9XD-2HWR-P0TB``): easy to read aloud and type, no ambiguous I/L/O/U, and case, dashes
and spaces do not matter when typed.

Why SHA-256 and not argon2 for storage: argon2 exists to slow down guessing of *low-entropy*
secrets. A recovery code has 80 bits of entropy, so even a fast hash leaves an offline attacker
with 2^80 guesses per code — infeasible — while a fast hash lets us look a code up by its hash
in one indexed statement, which is what makes consumption atomic. The hash is domain-separated
and bound to the principal id, so equal codes of two users never collide.

Consumption is one ``UPDATE … WHERE used_at IS NULL RETURNING`` statement: two concurrent
requests with the same code cannot both succeed, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from voxseal.store import Database

RECOVERY_CODE_COUNT = 10
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_GROUPS, _GROUP_LEN = 4, 4
_CODE_LEN = _GROUPS * _GROUP_LEN  # 16 chars x 5 bits = 80 bits
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def generate_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LEN))
    return "-".join(chars[i : i + _GROUP_LEN] for i in range(0, _CODE_LEN, _GROUP_LEN))


def normalise(code: str) -> str | None:
    """Canonical form of a typed code, or None when it cannot be a recovery code."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    cleaned = code.replace("-", "").replace(" ", "").upper().translate(_CONFUSABLE)
    if len(cleaned) != _CODE_LEN or any(c not in _ALPHABET for c in cleaned):
        return None
    return cleaned


def looks_like_recovery_code(code: str) -> bool:
    return normalise(code) is not None


def hash_code(principal_id: str, code: str) -> bytes:
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return hashlib.sha256(f"voxseal-recovery-v1\x00{principal_id}\x00{canonical}".encode()).digest()


class RecoveryCodes:
    """The stored (hashed) recovery codes of every principal."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def replace(self, principal_id: str, count: int = RECOVERY_CODE_COUNT) -> list[str]:
        """Issue a fresh set (the old set stops working); returns the codes to show once."""
        codes = [generate_code() for _ in range(count)]
        now = self._clock()
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM identity_recovery_codes WHERE principal_id = ?", (principal_id,)
            )
            tx.executemany(
                "INSERT INTO identity_recovery_codes (principal_id, code_hash, created_at)"
                " VALUES (?, ?, ?)",
                [(principal_id, hash_code(principal_id, c), now) for c in codes],
            )
        return codes

    def consume(self, principal_id: str, code: str) -> bool:
        """Use ``code`` up; True exactly once per issued code, False otherwise."""
        if normalise(code) is None:
            return False
        rows = self._db.execute(
            "UPDATE identity_recovery_codes SET used_at = ?"
            " WHERE principal_id = ? AND code_hash = ? AND used_at IS NULL RETURNING principal_id",
            (self._clock(), principal_id, hash_code(principal_id, code)),
        )
        return len(rows) == 1

    def remaining(self, principal_id: str) -> int:
        row = self._db.query_one(
            "SELECT COUNT(*) FROM identity_recovery_codes"
            " WHERE principal_id = ? AND used_at IS NULL",
            (principal_id,),
        )
        return int(row[0]) if row else 0

    def clear(self, principal_id: str) -> None:
        self._db.execute(
            "DELETE FROM identity_recovery_codes WHERE principal_id = ?", (principal_id,)
        )
