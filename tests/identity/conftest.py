"""Fixtures for the identity tests: a real store (SQLite and PostgreSQL), cheap argon2 params,
a controllable clock and an audit sink that keeps what it was given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.harness.audit import ListSink
from tests.identity.helpers import CHEAP
from voxseal.identity import schema
from voxseal.identity.auth import Authenticator, AuthPolicy
from voxseal.identity.directory import Directory
from voxseal.identity.lockout import BruteForceLockout, LockoutPolicy
from voxseal.identity.passwords import PasswordHasher, PasswordPolicy
from voxseal.identity.sealing import SecretSealer
from voxseal.identity.tokens import RevocationList, TokenAuthority
from voxseal.store import Database, open_store

T0 = 1_700_000_000.0


class FakeClock:
    """Wall-clock stand-in: tests move time instead of sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    store = open_store(database_url, migrations=[schema.MIGRATIONS])
    yield store
    store.close()


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP, PasswordPolicy(min_length=12))


@pytest.fixture
def sealer() -> SecretSealer:
    return SecretSealer.generate()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def directory(db: Database, hasher: PasswordHasher, sealer: SecretSealer, clock) -> Directory:
    return Directory(db, hasher, sealer, issuer="voxseal-test", clock=clock)


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def tokens(db: Database, signing_key: Ed25519PrivateKey, clock) -> TokenAuthority:
    return TokenAuthority(
        signing_key,
        "https://voxseal.test",
        access_ttl=900,
        join_ttl=600,
        revocations=RevocationList(db, clock=clock),
        clock=clock,
    )


@pytest.fixture
def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy(threshold=3, ip_threshold=6, base_delay=10.0, max_delay=80.0, window=300)


@pytest.fixture
def lockout(
    db: Database, lockout_policy: LockoutPolicy, sink: ListSink, clock
) -> BruteForceLockout:
    return BruteForceLockout(db, lockout_policy, audit=sink, clock=clock)


@pytest.fixture
def auth(directory, tokens, lockout, sink, clock) -> Authenticator:
    return Authenticator(directory, tokens, lockout, sink, AuthPolicy(), clock=clock)
