"""Access and join tokens: issuing, verifying, and every refusal with its status and reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.errors import (
    InvalidInput,
    PermissionDenied,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    TokenScopeError,
)
from voxseal.identity.rbac import Permission, Role
from voxseal.identity.tokens import (
    ACCESS_AUDIENCE,
    JOIN_AUDIENCE,
    JoinGrants,
    RevocationList,
    TokenAuthority,
    key_id,
)

ISSUER = "https://voxseal.test"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: dict, payload: dict, signer=None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = signer(signing_input.encode()) if signer else b""
    return f"{signing_input}.{b64(sig)}"


def payload_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sign_raw(tokens: TokenAuthority, key: Ed25519PrivateKey, payload: dict, kid=None) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid or tokens.kid})


# -- happy paths ----------------------------------------------------------------------------


def test_access_token_claims(tokens: TokenAuthority, clock) -> None:
    issued = tokens.issue_access("alice", [Role.ADMIN, Role.AUDITOR])
    p = payload_of(issued.token)
    assert p["sub"] == "alice" and p["aud"] == ACCESS_AUDIENCE and p["typ"] == "access"
    assert p["iss"] == ISSUER and p["roles"] == ["admin", "auditor"] and p["scope"] == "*"
    assert p["exp"] - p["iat"] == 900 and p["iat"] == int(clock.now)
    assert p["jti"] == issued.jti and len(issued.jti) >= 16
    assert jwt.get_unverified_header(issued.token) == {
        "alg": "EdDSA",
        "typ": "JWT",
        "kid": tokens.kid,
    }
    claims = tokens.verify_access(issued.token)
    assert claims.subject == "alice" and claims.roles == {Role.ADMIN, Role.AUDITOR}
    assert claims.jti == issued.jti and claims.expires_at == issued.expires_at
    assert claims.allows(Permission.USERS_WRITE) and not claims.allows(Permission.RECORDINGS_READ)


def test_join_token_claims(tokens: TokenAuthority) -> None:
    grants = JoinGrants.from_names(["publish", "subscribe"])
    issued = tokens.issue_join("support-42", "caller-7", grants, ttl=120)
    p = payload_of(issued.token)
    assert p["aud"] == JOIN_AUDIENCE and p["typ"] == "join" and p["sub"] == "caller-7"
    assert p["room"] == "support-42" and p["exp"] - p["iat"] == 120
    assert p["grants"] == {"publish": True, "subscribe": True, "admin": False}
    claims = tokens.verify_join(issued.token, room="support-42")
    assert claims.identity == "caller-7" and claims.grants == grants
    assert tokens.verify_join(issued.token).room == "support-42"


def test_verification_by_another_node_with_the_public_key(tokens, db, signing_key, clock) -> None:
    other_node = TokenAuthority(
        Ed25519PrivateKey.generate(),
        ISSUER,
        trusted_keys=[signing_key.public_key()],
        revocations=RevocationList(db, clock=clock),
        clock=clock,
    )
    issued = tokens.issue_access("alice", ["caller"])
    assert other_node.verify_access(issued.token).subject == "alice"
    tokens.revoke(tokens.verify_access(issued.token))
    with pytest.raises(TokenRevoked):
        other_node.verify_access(issued.token)


# -- expiry, leeway, lifetime ---------------------------------------------------------------


def test_expired_access_token(tokens, clock) -> None:
    issued = tokens.issue_access("alice", ["caller"])
    clock.advance(900 + 29)  # within the 30 s leeway
    tokens.verify_access(issued.token)
    clock.advance(2)
    with pytest.raises(TokenExpired) as exc:
        tokens.verify_access(issued.token)
    assert exc.value.http_status == 401 and exc.value.reason == "token_expired"


def test_expired_join_token(tokens, clock) -> None:
    issued = tokens.issue_join("r1", "bob", JoinGrants(subscribe=True), ttl=60)
    clock.advance(60 + 31)
    with pytest.raises(TokenExpired):
        tokens.verify_join(issued.token)


def test_token_from_the_future_is_invalid(tokens, signing_key, clock) -> None:
    now = int(clock.now) + 120
    token = sign_raw(
        tokens,
        signing_key,
        {
            "iss": ISSUER,
            "sub": "a",
            "aud": ACCESS_AUDIENCE,
            "typ": "access",
            "roles": [],
            "scope": "*",
            "jti": "j" * 20,
            "iat": now,
            "exp": now + 60,
        },
    )
    with pytest.raises(TokenInvalid, match="not valid yet"):
        tokens.verify_access(token)


def test_lifetime_above_maximum_is_refused(tokens, signing_key, clock) -> None:
    now = int(clock.now)
    base = {"iss": ISSUER, "jti": "j" * 20, "iat": now}
    access = {**base, "sub": "a", "aud": ACCESS_AUDIENCE, "typ": "access", "roles": []}
    access |= {"scope": "*", "exp": now + 901}
    with pytest.raises(TokenInvalid, match="lifetime"):
        tokens.verify_access(sign_raw(tokens, signing_key, access))
    join = {**base, "sub": "a", "aud": JOIN_AUDIENCE, "typ": "join", "room": "r"}
    join |= {"grants": {"publish": True}, "exp": now + 6 * 3600 + 1}
    with pytest.raises(TokenInvalid, match="lifetime"):
        tokens.verify_join(sign_raw(tokens, signing_key, join))


def test_issue_bounds(tokens) -> None:
    with pytest.raises(InvalidInput):
        tokens.issue_join("r", "i", JoinGrants(publish=True), ttl=6 * 3600 + 1)
    with pytest.raises(InvalidInput):
        tokens.issue_join("r", "i", JoinGrants())
    with pytest.raises(InvalidInput):
        tokens.issue_join("bad room/..", "i", JoinGrants(publish=True))
    with pytest.raises(InvalidInput):
        tokens.issue_join("r", "\x00", JoinGrants(publish=True))
    with pytest.raises(InvalidInput):
        tokens.issue_access("a", ["caller"], ttl=901)
    with pytest.raises(InvalidInput):
        tokens.issue_access("a", ["caller"], scope=["launch:missiles"])
    with pytest.raises(InvalidInput):
        JoinGrants.from_names(["publish", "root"])
    with pytest.raises(InvalidInput):
        tokens.issue_access("a", ["root"])


# -- revocation -----------------------------------------------------------------------------


def test_revoked_tokens_are_refused(tokens) -> None:
    access = tokens.issue_access("alice", ["caller"])
    join = tokens.issue_join("r", "bob", JoinGrants(publish=True))
    tokens.revoke(tokens.verify_access(access.token))
    tokens.revoke(tokens.verify_join(join.token))
    tokens.revoke(access.claims)  # idempotent
    with pytest.raises(TokenRevoked) as exc:
        tokens.verify_access(access.token)
    assert exc.value.http_status == 401 and exc.value.reason == "token_revoked"
    with pytest.raises(TokenRevoked):
        tokens.verify_join(join.token)
    assert tokens.verify_access(tokens.issue_access("alice", ["caller"]).token)


def test_revocation_survives_restart_and_purges(db, tokens, signing_key, clock) -> None:
    issued = tokens.issue_access("alice", ["caller"])
    tokens.revoke(issued.claims)
    restarted = TokenAuthority(
        signing_key, ISSUER, revocations=RevocationList(db, clock=clock), clock=clock
    )
    with pytest.raises(TokenRevoked):
        restarted.verify_access(issued.token)
    revocations = restarted.revocations
    assert revocations.purge() == 0
    clock.advance(900 + 61)
    assert revocations.purge() == 1
    assert not revocations.is_revoked(issued.jti)
    with pytest.raises(TokenExpired):  # still refused: it has expired
        restarted.verify_access(issued.token)


def test_revoke_without_list_is_an_error(signing_key) -> None:
    bare = TokenAuthority(signing_key, ISSUER)
    issued = bare.issue_access("a", ["caller"])
    assert bare.verify_access(issued.token).subject == "a"
    with pytest.raises(InvalidInput):
        bare.revoke(issued.claims)


# -- signatures, algorithms, kinds ----------------------------------------------------------


def test_wrong_signature(tokens) -> None:
    issued = tokens.issue_access("alice", ["caller"])
    head, body, sig = issued.token.split(".")
    tampered_body = b64(json.dumps({**payload_of(issued.token), "roles": ["admin"]}).encode())
    for bad in (f"{head}.{tampered_body}.{sig}", f"{head}.{body}.{b64(b'x' * 64)}"):
        with pytest.raises(TokenInvalid) as exc:
            tokens.verify_access(bad)
        assert exc.value.http_status == 401 and exc.value.reason == "token_invalid"


def test_signed_by_another_key_with_our_kid(tokens) -> None:
    rogue_key = Ed25519PrivateKey.generate()
    rogue = TokenAuthority(rogue_key, ISSUER)
    forged = sign_raw(rogue, rogue_key, payload_of(rogue.issue_access("a", ["admin"]).token))
    forged_with_our_kid = jwt.encode(
        payload_of(forged), rogue_key, algorithm="EdDSA", headers={"kid": tokens.kid}
    )
    with pytest.raises(TokenInvalid, match="unknown key"):
        tokens.verify_access(forged)
    with pytest.raises(TokenInvalid, match="signature"):
        tokens.verify_access(forged_with_our_kid)


def test_alg_none_is_refused(tokens) -> None:
    payload = payload_of(tokens.issue_access("a", ["admin"]).token)
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "typ": "JWT", "kid": tokens.kid}, payload)
        with pytest.raises(TokenInvalid, match="algorithm"):
            tokens.verify_access(token)


def test_hs256_with_public_key_confusion_is_refused(tokens, signing_key) -> None:
    payload = payload_of(tokens.issue_access("a", ["admin"]).token)
    public = signing_key.public_key()
    secrets_an_attacker_might_use = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    ]
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        for secret in secrets_an_attacker_might_use:
            token = forge(
                {"alg": alg, "typ": "JWT", "kid": tokens.kid},
                payload,
                lambda m, s=secret, d=digest: hmac.new(s, m, d).digest(),
            )
            with pytest.raises(TokenInvalid, match="algorithm"):
                tokens.verify_access(token)


def test_other_asymmetric_algorithms_are_refused(tokens) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    payload = payload_of(tokens.issue_access("a", ["admin"]).token)
    token = jwt.encode(payload, ec_key, algorithm="ES256", headers={"kid": tokens.kid})
    with pytest.raises(TokenInvalid):
        tokens.verify_access(token)


def test_join_token_is_not_an_access_token_and_vice_versa(tokens) -> None:
    join = tokens.issue_join("r", "bob", JoinGrants(publish=True))
    access = tokens.issue_access("alice", ["admin"])
    with pytest.raises(TokenInvalid, match="audience"):
        tokens.verify_access(join.token)
    with pytest.raises(TokenInvalid, match="audience"):
        tokens.verify_join(access.token)


def test_wrong_typ_with_right_audience(tokens, signing_key, clock) -> None:
    now = int(clock.now)
    payload = {
        "iss": ISSUER,
        "sub": "a",
        "aud": ACCESS_AUDIENCE,
        "typ": "join",
        "roles": ["admin"],
        "scope": "*",
        "jti": "j" * 20,
        "iat": now,
        "exp": now + 60,
    }
    with pytest.raises(TokenInvalid, match="not a access token"):
        tokens.verify_access(sign_raw(tokens, signing_key, payload))


def test_wrong_issuer(tokens, signing_key) -> None:
    other = TokenAuthority(signing_key, "https://evil.test")
    with pytest.raises(TokenInvalid, match="issuer"):
        tokens.verify_access(other.issue_access("a", ["admin"]).token)


@pytest.mark.parametrize(
    "missing", ["iss", "sub", "aud", "jti", "iat", "exp"], ids=lambda m: f"no-{m}"
)
def test_missing_claims(tokens, signing_key, missing: str) -> None:
    payload = payload_of(tokens.issue_access("a", ["admin"]).token)
    del payload[missing]
    with pytest.raises(TokenInvalid):
        tokens.verify_access(sign_raw(tokens, signing_key, payload))


@pytest.mark.parametrize(
    "patch",
    [
        {"roles": "admin"},
        {"roles": ["root"]},
        {"scope": ["*"]},
        {"exp": "never"},
        {"iat": True},
        {"sub": 5},
    ],
    ids=["roles-str", "roles-unknown", "scope-list", "exp-str", "iat-bool", "sub-int"],
)
def test_malformed_claims(tokens, signing_key, patch: dict) -> None:
    payload = payload_of(tokens.issue_access("a", ["admin"]).token) | patch
    with pytest.raises(TokenInvalid):
        tokens.verify_access(sign_raw(tokens, signing_key, payload))


def test_malformed_join_claims(tokens, signing_key) -> None:
    payload = payload_of(tokens.issue_join("r", "b", JoinGrants(publish=True)).token)
    for patch in ({"grants": ["publish"]}, {"room": 7}, {"grants": {"publish": "yes"}}):
        with pytest.raises(TokenInvalid):
            tokens.verify_join(sign_raw(tokens, signing_key, payload | patch))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 9000, None, "e30.e30.", "..."])
def test_garbage_is_invalid(tokens, garbage) -> None:
    with pytest.raises(TokenInvalid):
        tokens.verify_access(garbage)  # type: ignore[arg-type]
    with pytest.raises(TokenInvalid):
        tokens.verify_join(garbage)  # type: ignore[arg-type]


# -- scope and room -------------------------------------------------------------------------


def test_scope_is_enforced_with_403(tokens) -> None:
    narrow = tokens.issue_access("svc", ["backend"], scope=[Permission.TOKENS_JOIN_MINT])
    claims = tokens.verify_access(narrow.token, scope=Permission.TOKENS_JOIN_MINT)
    claims.require(Permission.TOKENS_JOIN_MINT)
    with pytest.raises(TokenScopeError) as exc:
        tokens.verify_access(narrow.token, scope=Permission.ROOMS_ADMIN)
    assert exc.value.http_status == 403 and exc.value.reason == "token_scope"
    with pytest.raises(TokenScopeError):
        claims.require(Permission.ROOMS_ADMIN)  # the role has it; the token does not


def test_full_scope_still_limited_by_roles(tokens) -> None:
    claims = tokens.verify_access(tokens.issue_access("c", ["caller"]).token)
    assert claims.in_scope(Permission.USERS_WRITE)
    with pytest.raises(PermissionDenied) as exc:
        claims.require(Permission.USERS_WRITE)
    assert exc.value.http_status == 403 and not isinstance(exc.value, TokenScopeError)


def test_join_token_for_another_room_is_403(tokens) -> None:
    issued = tokens.issue_join("room-a", "bob", JoinGrants(subscribe=True))
    with pytest.raises(TokenScopeError) as exc:
        tokens.verify_join(issued.token, room="room-b")
    assert exc.value.http_status == 403


# -- no secrets in reprs --------------------------------------------------------------------


def test_reprs_never_show_tokens_or_keys(tokens, signing_key) -> None:
    issued = tokens.issue_access("alice", ["admin"])
    join = tokens.issue_join("r", "bob", JoinGrants(publish=True))
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for obj in (issued, join, tokens, tokens.verify_access(issued.token), tokens.revocations):
        text = repr(obj) + str(obj)
        assert issued.token not in text and join.token not in text
        assert raw.hex() not in text and b64(raw) not in text
        assert "eyJ" not in text
    assert key_id(signing_key.public_key()) == tokens.kid
