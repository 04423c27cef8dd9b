"""Stream tokens: bound to call and provider, short-lived, single-use."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.clock import Clock
from voxseal.telephony.errors import (
    StreamTokenError,
    StreamTokenExpired,
    StreamTokenMismatch,
    StreamTokenReplayed,
)
from voxseal.telephony.stream_tokens import InMemoryUsedTokens, StreamTokenIssuer

KEY = b"k" * 32


@pytest.fixture(params=["hs256", "eddsa"])
def issuer(request: pytest.FixtureRequest) -> tuple[StreamTokenIssuer, Clock]:
    clock = Clock()
    key = KEY if request.param == "hs256" else Ed25519PrivateKey.generate()
    return StreamTokenIssuer(key, clock=clock), clock


def test_token_redeems_once(issuer: tuple[StreamTokenIssuer, Clock]) -> None:
    iss, _ = issuer
    token = iss.issue("CA123", "twilio")
    claims = iss.redeem(token, call_id="CA123", provider="twilio")
    assert claims["sub"] == "CA123"
    with pytest.raises(StreamTokenReplayed) as e:
        iss.redeem(token, call_id="CA123", provider="twilio")
    assert e.value.close_code == 1008
    assert token not in str(e.value)


def test_call_id_may_be_learned_from_the_token(issuer: tuple[StreamTokenIssuer, Clock]) -> None:
    iss, _ = issuer
    assert iss.redeem(iss.issue("uuid-1", "vonage"), provider="vonage")["sub"] == "uuid-1"


def test_expired_token_is_refused(issuer: tuple[StreamTokenIssuer, Clock]) -> None:
    iss, clock = issuer
    token = iss.issue("CA123", "twilio", ttl=30)
    clock.now += 33
    with pytest.raises(StreamTokenExpired):
        iss.redeem(token, call_id="CA123", provider="twilio")


def test_foreign_provider_and_wrong_call_are_refused_without_using_it_up(
    issuer: tuple[StreamTokenIssuer, Clock],
) -> None:
    iss, _ = issuer
    token = iss.issue("CA123", "twilio")
    with pytest.raises(StreamTokenMismatch, match="signalwire"):
        iss.redeem(token, call_id="CA123", provider="signalwire")
    with pytest.raises(StreamTokenMismatch, match="another call"):
        iss.redeem(token, call_id="CA999", provider="twilio")
    iss.redeem(token, call_id="CA123", provider="twilio")


def test_forged_and_garbage_tokens_are_refused(issuer: tuple[StreamTokenIssuer, Clock]) -> None:
    iss, clock = issuer
    other = StreamTokenIssuer(b"x" * 32, clock=clock).issue("CA123", "twilio")
    payload = {"iss": "voxseal:telephony", "aud": "voxseal:telephony:twilio", "sub": "CA123"}
    unsigned = jwt.encode({**payload, "jti": "j", "iat": 1, "exp": 2**31}, None, algorithm="none")  # type: ignore[arg-type]
    for bad in [other, unsigned, "", "a.b.c", "x" * 10_000]:
        with pytest.raises(StreamTokenError):
            iss.redeem(bad, call_id="CA123", provider="twilio")


def test_tokens_from_another_issuer_shape_are_refused() -> None:
    clock = Clock()
    iss = StreamTokenIssuer(KEY, clock=clock)
    now = int(clock.now)
    base = {"aud": "voxseal:telephony:twilio", "sub": "CA1", "jti": "j", "iat": now}
    for claims in [
        {**base, "iss": "someone-else", "exp": now + 60},  # wrong issuer
        {**base, "iss": "voxseal:telephony"},  # no expiry
    ]:
        with pytest.raises(StreamTokenError):
            iss.redeem(jwt.encode(claims, KEY, algorithm="HS256"), provider="twilio")


def test_used_set_forgets_expired_ids() -> None:
    used = InMemoryUsedTokens()
    assert used.claim("a", 10.0, now=0.0)
    assert not used.claim("a", 10.0, now=5.0)
    assert used.claim("b", 30.0, now=20.0)
    assert len(used) == 1


def test_issue_arguments_and_key_are_checked() -> None:
    iss = StreamTokenIssuer(KEY)
    for kwargs in [
        {"call_id": "CA1", "provider": "skype"},
        {"call_id": "", "provider": "twilio"},
        {"call_id": "CA1", "provider": "twilio", "ttl": 0},
        {"call_id": "CA1", "provider": "twilio", "ttl": 3600},
    ]:
        with pytest.raises(ValueError):
            iss.issue(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StreamTokenIssuer(b"short")
    assert "k" * 32 not in repr(iss)
