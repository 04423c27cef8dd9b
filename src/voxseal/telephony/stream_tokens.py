"""Single-use, short-lived stream tokens that admit a provider's media WebSocket.

The voice webhook (already signature-checked) issues a token bound to the call and the
provider and puts it in the TwiML/NCCO; the media WebSocket must present it before any audio
is accepted. A token is a JWT — EdDSA with an Ed25519 key, or HS256 with a shared key of at
least 32 bytes — and is redeemed once: its ``jti`` is remembered until it expires, so a
replayed token (say, from a leaked TwiML log) is refused.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from voxseal.telephony.errors import (
    StreamTokenError,
    StreamTokenExpired,
    StreamTokenMismatch,
    StreamTokenReplayed,
)

PROVIDERS: Final = frozenset({"twilio", "vonage", "signalwire"})
ISSUER: Final = "voxseal:telephony"
MAX_TTL: Final = 300
_MAX_TOKEN_LEN: Final = 4096


def _audience(provider: str) -> str:
    return f"{ISSUER}:{provider}"


class UsedTokens(Protocol):
    """Where redeemed token ids are remembered: :class:`InMemoryUsedTokens` for one process,
    :class:`voxseal.telephony.shared_state.StoreUsedTokens` (what the ingress uses) for every
    node sharing a database, so a token redeemed on one node is refused on another."""

    def claim(self, jti: str, expires_at: float, now: float) -> bool:
        """Record ``jti``; False if it was already recorded and has not expired."""
        ...


class InMemoryUsedTokens:
    """Used token ids of this process, forgotten once the token could no longer verify."""

    def __init__(self) -> None:
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            for old in [j for j, exp in self._used.items() if exp < now]:
                del self._used[old]
            if jti in self._used:
                return False
            self._used[jti] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._used)


class StreamTokenIssuer:
    """Issues and redeems stream tokens with a key the caller provides."""

    def __init__(
        self,
        key: bytes | Ed25519PrivateKey,
        *,
        used: UsedTokens | None = None,
        clock: Callable[[], float] = time.time,
        leeway: float = 2.0,
    ) -> None:
        self._sign_key: bytes | Ed25519PrivateKey
        self._verify_key: bytes | Ed25519PublicKey
        if isinstance(key, Ed25519PrivateKey):
            self._alg, self._sign_key, self._verify_key = "EdDSA", key, key.public_key()
        elif isinstance(key, bytes):
            if len(key) < 32:
                raise ValueError("an HMAC stream-token key needs at least 32 bytes")
            self._alg, self._sign_key, self._verify_key = "HS256", key, key
        else:
            raise TypeError("key must be bytes (HS256) or an Ed25519PrivateKey (EdDSA)")
        self._used: UsedTokens = used if used is not None else InMemoryUsedTokens()
        self._clock, self.leeway = clock, leeway

    def __repr__(self) -> str:
        return f"StreamTokenIssuer(alg={self._alg!r})"

    def issue(self, call_id: str, provider: str, ttl: int = 60) -> str:
        """A token for one media stream of ``call_id`` at ``provider``, valid ``ttl`` s."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        if not call_id or len(call_id) > 256:
            raise ValueError("call_id must be 1 to 256 characters")
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be within 1 … {MAX_TTL} s")
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "aud": _audience(provider),
            "sub": call_id,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._sign_key, algorithm=self._alg)

    def redeem(self, token: str, *, call_id: str | None = None, provider: str) -> dict[str, Any]:
        """Check ``token`` for ``provider`` (and ``call_id`` when the stream names one) and use
        it up. Raises a :class:`StreamTokenError` subclass; the token itself is never echoed."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LEN:
            raise StreamTokenError("stream token missing or malformed")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self._alg],
                issuer=ISSUER,
                options={
                    "require": ["iss", "aud", "sub", "jti", "iat", "exp"],
                    "verify_aud": False,  # checked below, to name a foreign provider
                    "verify_exp": False,  # checked below against our clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise StreamTokenError(f"stream token rejected ({type(exc).__name__})") from None
        now = self._clock()
        exp, nbf = claims["exp"], claims.get("nbf", claims["iat"])
        if not all(isinstance(v, int) for v in (exp, nbf)) or not isinstance(claims["jti"], str):
            raise StreamTokenError("stream token claims are malformed")
        if now > exp + self.leeway:
            raise StreamTokenExpired("stream token has expired")
        if now + self.leeway < nbf:
            raise StreamTokenError("stream token is not valid yet")
        if claims["aud"] != _audience(provider):
            raise StreamTokenMismatch(f"stream token is not for {provider}")
        if call_id is not None and not secrets.compare_digest(
            str(claims["sub"]).encode(), call_id.encode()
        ):
            raise StreamTokenMismatch("stream token is for another call")
        if not self._used.claim(claims["jti"], exp + self.leeway, now):
            raise StreamTokenReplayed("stream token was already used")
        return claims
