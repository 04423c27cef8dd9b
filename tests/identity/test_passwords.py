"""argon2id hashing, policy refusals, rehash on parameter change, constant work."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.identity.helpers import CHEAP, PASSWORD
from voxseal.errors import ConfigError, InvalidInput
from voxseal.identity.passwords import PasswordHasher, PasswordParams, PasswordPolicy


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP)


def test_hash_is_argon2id_with_configured_parameters(hasher: PasswordHasher) -> None:
    h = hasher.hash(PASSWORD)
    assert h.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert PASSWORD not in h
    assert hasher.hash(PASSWORD) != h  # random salt


def test_verify_right_and_wrong(hasher: PasswordHasher) -> None:
    h = hasher.hash(PASSWORD)
    assert hasher.verify(h, PASSWORD) is True
    assert hasher.verify(h, PASSWORD + "!") is False
    assert hasher.verify(h, PASSWORD.upper()) is False
    assert hasher.verify("not-a-hash", PASSWORD) is False
    assert hasher.verify(None, PASSWORD) is False


def test_unicode_is_normalised(hasher: PasswordHasher) -> None:
    composed = "pässwörd-long-enough"
    decomposed = "pa\u0308sswo\u0308rd-long-enough"
    assert composed != decomposed
    assert hasher.verify(hasher.hash(composed), decomposed)


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "password_empty"), ("abc123", "password_too_short"), ("x" * 1025, "password_too_long")],
)
def test_policy_refusals_on_hash(hasher: PasswordHasher, password: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        hasher.hash(password)
    assert exc.value.reason == reason
    assert exc.value.http_status == 422
    if password:
        assert password not in str(exc.value)


def test_verify_refuses_empty_and_oversized_but_not_short(hasher: PasswordHasher) -> None:
    h = hasher.hash(PASSWORD)
    with pytest.raises(InvalidInput):
        hasher.verify(h, "")
    with pytest.raises(InvalidInput):
        hasher.verify(h, "é" * 600)  # 1200 bytes in UTF-8
    assert hasher.verify(h, "short") is False  # an old short password must still be checkable


def test_min_length_is_configurable() -> None:
    lax = PasswordHasher(CHEAP, PasswordPolicy(min_length=4))
    assert lax.verify(lax.hash("abcd"), "abcd")


def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    old = hasher.hash(PASSWORD)
    assert not hasher.needs_rehash(old)
    stronger = PasswordHasher(PasswordParams(time_cost=2, memory_cost=128, parallelism=1))
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, PASSWORD)  # old hashes still verify
    new = stronger.rehash(PASSWORD)
    assert not stronger.needs_rehash(new)
    assert stronger.needs_rehash("garbage")


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        PasswordParams(time_cost=0)
    with pytest.raises(ConfigError):
        PasswordParams(memory_cost=4, parallelism=1)


def test_repr_has_no_hash(hasher: PasswordHasher) -> None:
    assert "argon2id$" not in repr(hasher)


def test_dummy_verify_costs_about_as_much_as_a_real_one() -> None:
    slow = PasswordHasher(PasswordParams(time_cost=2, memory_cost=4096, parallelism=1))
    h = slow.hash(PASSWORD)

    def timed(fn) -> float:
        samples = []
        for _ in range(7):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    real = timed(lambda: slow.verify(h, "wrong password!"))
    dummy = timed(lambda: slow.verify(None, "wrong password!"))
    assert 0.5 < dummy / real < 2.0, (real, dummy)
