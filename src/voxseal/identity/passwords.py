"""Password hashing with argon2id, and the rules a password must meet.

Why argon2id: it is memory-hard (GPU/ASIC guessing is expensive) and resists side channels; the
parameters come from configuration so an operator can raise them over time, and
:meth:`PasswordHasher.needs_rehash` lets the login flow upgrade each stored hash the next time its
owner proves the password. Passwords are NFKC-normalised first so the same password typed on two
keyboards (composed vs decomposed accents, full-width digits) verifies the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import unicodedata
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from voxseal.errors import ConfigError, InvalidInput


@dataclass(frozen=True, slots=True)
class PasswordParams:
    """argon2id cost parameters (RFC 9106 "second recommended option" by default).

    ``memory_cost`` is in KiB. Tests use tiny values; production keeps the defaults or more.
    """

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if self.time_cost < 1:
            raise ConfigError("password.time_cost", "must be >= 1")
        if self.parallelism < 1:
            raise ConfigError("password.parallelism", "must be >= 1")
        if self.memory_cost < 8 * self.parallelism:
            raise ConfigError("password.memory_cost", "must be >= 8 * parallelism KiB")
        if self.hash_len < 16 or self.salt_len < 16:
            raise ConfigError("password.hash_len", "hash and salt must be >= 16 bytes")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Length rules (NIST SP 800-63B: length over composition rules).

    The maximum bounds the work an unauthenticated client can make us do.
    """

    min_length: int = 12
    max_bytes: int = 1024

    def check(self, password: str) -> str:
        """The normalised password, or :class:`InvalidInput` saying which rule failed."""
        normalised = _normalise(password)
        if not normalised:
            raise InvalidInput("password must not be empty", reason="password_empty")
        if len(normalised.encode("utf-8")) > self.max_bytes:
            raise InvalidInput(
                f"password longer than {self.max_bytes} bytes", reason="password_too_long"
            )
        if len(normalised) < self.min_length:
            raise InvalidInput(
                f"password shorter than {self.min_length} characters", reason="password_too_short"
            )
        return normalised


def _normalise(password: str) -> str:
    if not isinstance(password, str):
        raise InvalidInput("password must be text", reason="password_invalid")
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Hash, verify and upgrade argon2id password hashes."""

    def __init__(
        self, params: PasswordParams | None = None, policy: PasswordPolicy | None = None
    ) -> None:
        self.params = params or PasswordParams()
        self.policy = policy or PasswordPolicy()
        self._argon = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            hash_len=self.params.hash_len,
            salt_len=self.params.salt_len,
            type=argon2.Type.ID,
        )
        # A real hash of a random password with the current parameters: verifying against it
        # costs what a real verification costs, so unknown users are not distinguishable by time.
        self._dummy_hash = self._argon.hash(secrets.token_urlsafe(24))

    def __repr__(self) -> str:
        return f"PasswordHasher({self.params!r})"

    def hash(self, password: str) -> str:
        """Hash a *new* password after checking the policy (length, emptiness)."""
        return self._argon.hash(self.policy.check(password))

    def rehash(self, password: str) -> str:
        """Hash an *existing*, just-verified password with the current parameters.

        Skips ``min_length`` (a password set under an older policy stays valid until changed).
        """
        return self._argon.hash(self._bounded(password))

    def _bounded(self, password: str) -> str:
        normalised = _normalise(password)
        if not normalised:
            raise InvalidInput("password must not be empty", reason="password_empty")
        if len(normalised.encode("utf-8")) > self.policy.max_bytes:
            raise InvalidInput(
                f"password longer than {self.policy.max_bytes} bytes", reason="password_too_long"
            )
        return normalised

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored_hash``; constant work when there is no hash.

        Only emptiness and the byte bound are enforced here (not ``min_length``) so an older,
        shorter password keeps working until it is changed. The comparison of the derived key
        is constant time inside libargon2.
        """
        normalised = self._bounded(password)
        if stored_hash is None:
            self.dummy_verify(normalised)
            return False
        try:
            return self._argon.verify(stored_hash, normalised)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def dummy_verify(self, password: str) -> None:
        """Spend the time of one verification and learn nothing (for unknown principals)."""
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            self._argon.verify(self._dummy_hash, password or "x")

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than the current ones."""
        try:
            return self._argon.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True
