"""API keys for service accounts: ``vxk_<key id>_<secret>``, shown once, stored as a hash.

Why this format: the ``vxk_`` prefix makes a leaked key easy to spot (secret scanners, logs);
the key id is a public handle (listed, audited, revoked by id) and lets us find the row without
comparing secrets; the secret is 256 random bits. Because the secret has full entropy a single
SHA-256 is a sufficient storage hash (nothing to brute-force); it is compared to the stored hash
with :func:`hmac.compare_digest`, after the row was found by key id, so timing reveals nothing
about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voxseal.errors import InvalidCredentials, NotFound
from voxseal.store import Database

PREFIX = "vxk"
_KEY_RE = re.compile(r"^vxk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def _hash_secret(key_id: str, secret: str) -> bytes:
    return hashlib.sha256(f"voxseal-apikey-v1\x00{key_id}\x00{secret}".encode()).digest()


def parse_key(key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    if not isinstance(key, str):
        return None
    m = _KEY_RE.match(key.strip())
    return (m.group(1), m.group(2)) if m else None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A just-created key: ``key`` is the only copy and is never shown in a repr."""

    key_id: str
    principal_id: str
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str
    principal_id: str
    label: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyStore:
    """Create, list, revoke and check API keys (the principal checks live in the directory)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def create(self, principal_id: str, label: str | None = None) -> NewApiKey:
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        self._db.execute(
            "INSERT INTO identity_api_keys (key_id, principal_id, secret_hash, label, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key_id, principal_id, _hash_secret(key_id, secret), label, self._clock()),
        )
        return NewApiKey(key_id, principal_id, f"{PREFIX}_{key_id}_{secret}")

    def verify(self, key: str) -> tuple[str, str]:
        """``(principal_id, key_id)`` for a valid, unrevoked key; else InvalidCredentials."""
        parsed = parse_key(key)
        if parsed is None:
            raise InvalidCredentials("invalid API key", reason="invalid_api_key")
        key_id, secret = parsed
        row = self._db.query_one(
            "SELECT principal_id, secret_hash, revoked_at FROM identity_api_keys WHERE key_id = ?",
            (key_id,),
        )
        expected = bytes(row[1]) if row is not None else b"\x00" * 32
        ok = hmac.compare_digest(expected, _hash_secret(key_id, secret))
        if row is None or not ok or row[2] is not None:
            raise InvalidCredentials("invalid API key", reason="invalid_api_key")
        self._db.execute(
            "UPDATE identity_api_keys SET last_used_at = ? WHERE key_id = ?",
            (self._clock(), key_id),
        )
        return str(row[0]), key_id

    def keys(self, principal_id: str | None = None) -> list[ApiKeyInfo]:
        sql = (
            "SELECT key_id, principal_id, label, created_at, last_used_at, revoked_at"
            " FROM identity_api_keys"
        )
        params: tuple[str, ...] = ()
        if principal_id is not None:
            sql += " WHERE principal_id = ?"
            params = (principal_id,)
        rows = self._db.execute(sql + " ORDER BY created_at, key_id", params)
        return [ApiKeyInfo(*r) for r in rows]

    def revoke(self, key_id: str) -> None:
        rows = self._db.execute(
            "UPDATE identity_api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"
            " RETURNING key_id",
            (self._clock(), key_id),
        )
        if not rows:
            raise NotFound(f"no active API key {key_id[:32]!r}", reason="apikey_not_found")
