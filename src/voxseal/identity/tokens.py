"""Signed access tokens (for the REST API) and join tokens (for rooms), and their revocation.

Both are EdDSA (Ed25519) JWTs: small, verifiable by any node that knows the public key, and
free of the algorithm-confusion traps of HS/RS keys. Verification never trusts the token's
header: only ``EdDSA`` with a key we know (``kid``) is accepted, so ``alg: none`` and the
HS256-with-the-public-key trick are refused before any claim is read.

Two audiences keep the two kinds apart: an access token (``aud: voxseal:api``, ``typ: access``)
is never a valid join token (``aud: voxseal:rtc``, ``typ: join``) and vice versa. Lifetimes are
short and bounded at verification too: a token whose ``exp - iat`` exceeds the maximum is
refused even when correctly signed (a leaked signing key cannot mint "forever" tokens that
verify, and a configuration mistake cannot either).

Time comes from an injectable clock, so expiry is tested without sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from voxseal.errors import (
    InvalidInput,
    PermissionDenied,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    TokenScopeError,
)
from voxseal.identity.rbac import Permission, Role, has_permission
from voxseal.store import Database

ACCESS_AUDIENCE = "voxseal:api"
JOIN_AUDIENCE = "voxseal:rtc"
#: Scope of tokens issued by a login: everything the principal's roles allow.
FULL_SCOPE = "*"
MAX_TOKEN_BYTES = 8192

_ROOM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_IDENTITY_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a verification key (SHA-256 of the raw key, base64url)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class JoinGrants:
    """What a participant may do in a room (cf. LiveKit's VideoGrants)."""

    publish: bool = False
    subscribe: bool = False
    admin: bool = False

    @classmethod
    def from_names(cls, names: Iterable[str]) -> JoinGrants:
        """``["publish", "subscribe"]`` → grants; unknown names are refused."""
        wanted = {n.strip().lower() for n in names}
        unknown = wanted - {"publish", "subscribe", "admin"}
        if unknown:
            raise InvalidInput(f"unknown grant(s): {sorted(unknown)}", reason="unknown_grant")
        return cls("publish" in wanted, "subscribe" in wanted, "admin" in wanted)

    def names(self) -> list[str]:
        return [n for n in ("publish", "subscribe", "admin") if getattr(self, n)]

    def as_claim(self) -> dict[str, bool]:
        return {"publish": self.publish, "subscribe": self.subscribe, "admin": self.admin}


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token: who, with which roles, limited to which scope."""

    subject: str
    roles: frozenset[Role]
    scope: frozenset[str]
    jti: str
    issued_at: float
    expires_at: float
    issuer: str

    def in_scope(self, permission: Permission | str) -> bool:
        return FULL_SCOPE in self.scope or str(permission) in self.scope

    def allows(self, permission: Permission | str) -> bool:
        return self.in_scope(permission) and has_permission(self.roles, permission)

    def require(self, permission: Permission | str) -> None:
        """403 unless the token's scope *and* the principal's roles both grant ``permission``."""
        if not self.in_scope(permission):
            raise TokenScopeError(f"token scope does not include {str(permission)!r}")
        if not has_permission(self.roles, permission):
            raise PermissionDenied(
                f"permission {str(permission)!r} is not granted to roles "
                f"{sorted(r.value for r in self.roles)}",
                reason="permission_denied",
            )


@dataclass(frozen=True, slots=True)
class JoinClaims:
    """A verified join token: ``identity`` may enter ``room`` with ``grants`` until expiry."""

    identity: str
    room: str
    grants: JoinGrants
    jti: str
    issued_at: float
    expires_at: float
    issuer: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token; ``token`` is a bearer secret, so it is kept out of the repr."""

    token: str = field(repr=False)
    jti: str
    expires_at: float
    claims: AccessClaims | JoinClaims


class RevocationList:
    """Revoked token ids, persisted so every node refuses them; rows die with the token."""

    def __init__(
        self, db: Database, *, clock: Callable[[], float] = time.time, grace: float = 60.0
    ) -> None:
        self._db = db
        self._clock = clock
        self._grace = grace

    def revoke(self, jti: str, expires_at: float) -> None:
        self._db.execute(
            "INSERT INTO identity_revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)"
            " ON CONFLICT (jti) DO NOTHING",
            (jti, float(expires_at), self._clock()),
        )

    def is_revoked(self, jti: str) -> bool:
        row = self._db.query_one("SELECT 1 FROM identity_revoked_tokens WHERE jti = ?", (jti,))
        return row is not None

    def purge(self) -> int:
        """Forget revocations of tokens that have expired anyway (plus clock-skew grace)."""
        rows = self._db.execute(
            "DELETE FROM identity_revoked_tokens WHERE expires_at < ? RETURNING jti",
            (self._clock() - self._grace,),
        )
        return len(rows)


class TokenAuthority:
    """Issues and verifies access and join tokens with one Ed25519 signing key."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        issuer: str,
        *,
        access_ttl: float = 900.0,
        join_ttl: float = 600.0,
        max_join_ttl: float = 6 * 3600.0,
        revocations: RevocationList | None = None,
        leeway: float = 30.0,
        trusted_keys: Iterable[Ed25519PublicKey] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < access_ttl <= 24 * 3600:
            raise InvalidInput("access_ttl must be within (0, 24h]", reason="token_ttl")
        if not 0 < join_ttl <= max_join_ttl:
            raise InvalidInput("join_ttl must be within (0, max_join_ttl]", reason="token_ttl")
        if not 0 <= leeway <= 300:
            raise InvalidInput("leeway must be within [0, 300] s", reason="token_leeway")
        self._key = signing_key
        self.issuer = issuer
        self.access_ttl = float(access_ttl)
        self.join_ttl = float(join_ttl)
        self.max_join_ttl = float(max_join_ttl)
        self.revocations = revocations
        self.leeway = float(leeway)
        self._clock = clock
        self.public_key = signing_key.public_key()
        self.kid = key_id(self.public_key)
        # own key plus older keys still trusted during a rotation, by kid
        self._keys: Mapping[str, Ed25519PublicKey] = {
            **{key_id(k): k for k in trusted_keys},
            self.kid: self.public_key,
        }

    def __repr__(self) -> str:
        return f"TokenAuthority(issuer={self.issuer!r}, kid={self.kid!r})"

    # -- issuing --------------------------------------------------------------------------

    def issue_access(
        self,
        subject: str,
        roles: Iterable[Role | str],
        *,
        scope: Iterable[str] = (FULL_SCOPE,),
        ttl: float | None = None,
    ) -> IssuedToken:
        ttl = self.access_ttl if ttl is None else float(ttl)
        if not 0 < ttl <= self.access_ttl:
            raise InvalidInput("access token ttl out of range", reason="token_ttl")
        try:
            role_set = frozenset(Role(r) for r in roles)
        except ValueError:
            raise InvalidInput(
                "unknown role in access token request", reason="unknown_role"
            ) from None
        scope_set = frozenset(str(s) for s in scope)
        for s in scope_set:
            if s != FULL_SCOPE and s not in {p.value for p in Permission}:
                raise InvalidInput(f"unknown scope {s[:40]!r}", reason="unknown_scope")
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": ACCESS_AUDIENCE,
            "typ": "access",
            "roles": sorted(r.value for r in role_set),
            "scope": " ".join(sorted(scope_set)),
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
        }
        claims = AccessClaims(subject, role_set, scope_set, jti, now, now + int(ttl), self.issuer)
        return IssuedToken(self._sign(payload), jti, claims.expires_at, claims)

    def issue_join(
        self, room: str, identity: str, grants: JoinGrants, *, ttl: float | None = None
    ) -> IssuedToken:
        if not isinstance(room, str) or not _ROOM_RE.match(room):
            raise InvalidInput("room name must be 1-128 of [A-Za-z0-9._:-]", reason="room_name")
        if not isinstance(identity, str) or not _IDENTITY_RE.match(identity):
            raise InvalidInput("identity must be 1-128 printable characters", reason="identity")
        if not grants.names():
            raise InvalidInput("a join token needs at least one grant", reason="no_grant")
        ttl = self.join_ttl if ttl is None else float(ttl)
        if not 1 <= ttl <= self.max_join_ttl:
            raise InvalidInput(
                f"join token ttl must be within [1 s, {self.max_join_ttl:.0f} s]",
                reason="token_ttl",
            )
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        payload = {
            "iss": self.issuer,
            "sub": identity,
            "aud": JOIN_AUDIENCE,
            "typ": "join",
            "room": room,
            "grants": grants.as_claim(),
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
        }
        claims = JoinClaims(identity, room, grants, jti, now, now + int(ttl), self.issuer)
        return IssuedToken(self._sign(payload), jti, claims.expires_at, claims)

    def _sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self._key, algorithm="EdDSA", headers={"kid": self.kid})

    # -- verifying ------------------------------------------------------------------------

    def verify_access(self, token: str, *, scope: Permission | str | None = None) -> AccessClaims:
        """Claims of a valid access token; ``scope`` (a permission) must be covered if given."""
        p = self._decode(token, ACCESS_AUDIENCE, "access", self.access_ttl)
        roles_raw, scope_raw = p.get("roles"), p.get("scope")
        if not isinstance(roles_raw, list) or not isinstance(scope_raw, str):
            raise TokenInvalid("token roles/scope claims are malformed", reason="token_invalid")
        try:
            roles = frozenset(Role(r) for r in roles_raw)
        except ValueError:
            raise TokenInvalid("token names an unknown role", reason="token_invalid") from None
        claims = AccessClaims(
            subject=p["sub"],
            roles=roles,
            scope=frozenset(scope_raw.split()),
            jti=p["jti"],
            issued_at=float(p["iat"]),
            expires_at=float(p["exp"]),
            issuer=p["iss"],
        )
        if scope is not None and not claims.in_scope(scope):
            raise TokenScopeError(f"token scope does not include {str(scope)!r}")
        return claims

    def verify_join(self, token: str, *, room: str | None = None) -> JoinClaims:
        """Claims of a valid join token; if ``room`` is given the token must be for it."""
        p = self._decode(token, JOIN_AUDIENCE, "join", self.max_join_ttl)
        g = p.get("grants")
        if (
            not isinstance(p.get("room"), str)
            or not isinstance(g, dict)
            or not all(isinstance(g.get(k, False), bool) for k in ("publish", "subscribe", "admin"))
        ):
            raise TokenInvalid("token room/grants claims are malformed", reason="token_invalid")
        claims = JoinClaims(
            identity=p["sub"],
            room=p["room"],
            grants=JoinGrants(
                bool(g.get("publish")), bool(g.get("subscribe")), bool(g.get("admin"))
            ),
            jti=p["jti"],
            issued_at=float(p["iat"]),
            expires_at=float(p["exp"]),
            issuer=p["iss"],
        )
        if room is not None and claims.room != room:
            raise TokenScopeError("join token is for another room")
        return claims

    def revoke(self, claims: AccessClaims | JoinClaims) -> None:
        """Refuse this token from now on, on every node sharing the store."""
        if self.revocations is None:
            raise InvalidInput("no revocation list configured", reason="no_revocation_list")
        self.revocations.revoke(claims.jti, claims.expires_at)

    def _decode(self, token: str, audience: str, typ: str, max_ttl: float) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise TokenInvalid("token is missing or too large", reason="token_invalid")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid("token is malformed", reason="token_invalid") from None
        if header.get("alg") != "EdDSA":
            raise TokenInvalid("token algorithm is not EdDSA", reason="token_invalid")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise TokenInvalid("token signed by an unknown key", reason="token_invalid")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=audience,
                issuer=self.issuer,
                options={
                    "require": ["iss", "sub", "aud", "jti", "iat", "exp"],
                    # times are checked below against the injectable clock
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenInvalid("token signature is invalid", reason="token_invalid") from None
        except jwt.InvalidAudienceError:
            raise TokenInvalid("token audience is wrong", reason="token_invalid") from None
        except jwt.InvalidIssuerError:
            raise TokenInvalid("token issuer is wrong", reason="token_invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenInvalid(f"token lacks claim {exc.claim!r}", reason="token_invalid") from None
        except jwt.PyJWTError:
            raise TokenInvalid("token is malformed", reason="token_invalid") from None
        if payload.get("typ") != typ:
            raise TokenInvalid(f"not a {typ} token", reason="token_invalid")
        iat, exp, nbf = payload["iat"], payload["exp"], payload.get("nbf", payload["iat"])
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp, nbf)):
            raise TokenInvalid("token times are malformed", reason="token_invalid")
        if not isinstance(payload["sub"], str) or not isinstance(payload["jti"], str):
            raise TokenInvalid("token sub/jti are malformed", reason="token_invalid")
        if exp - iat > max_ttl or exp <= iat:
            raise TokenInvalid("token lifetime exceeds the maximum", reason="token_invalid")
        now = self._clock()
        if iat > now + self.leeway or nbf > now + self.leeway:
            raise TokenInvalid("token is not valid yet", reason="token_invalid")
        if exp <= now - self.leeway:
            raise TokenExpired("token has expired")
        if self.revocations is not None and self.revocations.is_revoked(payload["jti"]):
            raise TokenRevoked("token has been revoked")
        return payload
