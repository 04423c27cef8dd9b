"""MFA challenges: the short-lived ticket between "password correct" and "second factor done".

Why random and stored rather than a signed token: a stored challenge can be made single-use
and attempt-limited across all nodes with one atomic statement each, which a stateless token
cannot. Only the SHA-256 of the 256-bit challenge is stored, so the table is useless to a reader.
A challenge is bound to one principal, lives at most five minutes, admits a few code attempts
(typos happen) and is consumed by the first success.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voxseal.errors import InvalidInput, MFAError
from voxseal.store import Database

MAX_CHALLENGE_TTL = 300.0


def _digest(challenge: str) -> bytes:
    return hashlib.sha256(f"voxseal-mfa-challenge-v1\x00{challenge}".encode()).digest()


@dataclass(frozen=True, slots=True)
class MFAChallenge:
    value: str = field(repr=False)
    principal_id: str
    expires_at: float


class MFAChallenges:
    def __init__(
        self,
        db: Database,
        *,
        ttl: float = MAX_CHALLENGE_TTL,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < ttl <= MAX_CHALLENGE_TTL:
            raise InvalidInput("MFA challenge ttl must be within (0, 300] s", reason="mfa_ttl")
        if max_attempts < 1:
            raise InvalidInput("max_attempts must be >= 1", reason="mfa_attempts")
        self._db = db
        self.ttl = ttl
        self.max_attempts = max_attempts
        self._clock = clock

    def create(self, principal_id: str) -> MFAChallenge:
        value = secrets.token_urlsafe(32)
        now = self._clock()
        self._db.execute(
            "INSERT INTO identity_mfa_challenges (challenge_hash, principal_id, expires_at)"
            " VALUES (?, ?, ?)",
            (_digest(value), principal_id, now + self.ttl),
        )
        return MFAChallenge(value, principal_id, now + self.ttl)

    def begin_attempt(self, challenge: str) -> str:
        """Count one attempt on a live challenge and return its principal id.

        Unknown, used, expired and exhausted challenges all raise :class:`MFAError`
        (``mfa_challenge_invalid`` / ``mfa_challenge_expired``).
        """
        if not isinstance(challenge, str) or not 16 <= len(challenge) <= 128:
            raise MFAError("MFA challenge is invalid", reason="mfa_challenge_invalid")
        digest = _digest(challenge)
        now = self._clock()
        rows = self._db.execute(
            "UPDATE identity_mfa_challenges SET attempts = attempts + 1"
            " WHERE challenge_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?"
            " RETURNING principal_id",
            (digest, now, self.max_attempts),
        )
        if rows:
            return str(rows[0][0])
        row = self._db.query_one(
            "SELECT expires_at, used_at FROM identity_mfa_challenges WHERE challenge_hash = ?",
            (digest,),
        )
        if row is not None and row[1] is None and float(row[0]) <= now:
            raise MFAError(
                "MFA challenge has expired; log in again", reason="mfa_challenge_expired"
            )
        raise MFAError("MFA challenge is invalid", reason="mfa_challenge_invalid")

    def consume(self, challenge: str) -> bool:
        """Mark the challenge used; True for exactly one caller."""
        rows = self._db.execute(
            "UPDATE identity_mfa_challenges SET used_at = ?"
            " WHERE challenge_hash = ? AND used_at IS NULL AND expires_at > ?"
            " RETURNING principal_id",
            (self._clock(), _digest(challenge), self._clock()),
        )
        return len(rows) == 1

    def purge(self) -> int:
        rows = self._db.execute(
            "DELETE FROM identity_mfa_challenges WHERE expires_at < ? RETURNING principal_id",
            (self._clock() - MAX_CHALLENGE_TTL,),
        )
        return len(rows)
