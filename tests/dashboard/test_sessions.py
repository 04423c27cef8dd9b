"""The dashboard's session store and CSRF tokens, on both backends, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clock import Clock
from voxseal.dashboard.schema import MIGRATIONS
from voxseal.dashboard.sessions import (
    ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT,
    RETAIN_ENDED,
    SessionEnd,
    SessionRefused,
    SessionStore,
    csrf_for,
    login_csrf_for,
    tokens_match,
)
from voxseal.identity.rbac import Role
from voxseal.identity.schema import MIGRATIONS as IDENTITY_MIGRATIONS
from voxseal.store import Database, open_store


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    store = open_store(database_url, [IDENTITY_MIGRATIONS, MIGRATIONS])
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db: Database, clock: Clock) -> SessionStore:
    return SessionStore(db, clock=clock)


def refused(store: SessionStore, cookie: str | None) -> SessionEnd:
    with pytest.raises(SessionRefused) as info:
        store.check(cookie)
    return info.value.why


def test_a_session_lives_while_used_and_ends_when_idle(
    store: SessionStore, clock: Clock, db: Database
) -> None:
    cookie, s = store.create("alice", {Role.ADMIN}, "127.0.0.1")
    assert store.check(cookie).roles == {Role.ADMIN} and s.principal == "alice"
    # only a hash of the cookie is stored
    rows = db.execute("SELECT id_hash, handle FROM dashboard_sessions")
    assert len(rows) == 1 and cookie.encode() not in bytes(rows[0][0])
    assert rows[0][1] == s.handle and s.handle not in cookie
    for _ in range(5):  # activity keeps it alive well past one idle period
        clock.now += IDLE_TIMEOUT - 1
        assert store.check(cookie).handle == s.handle
    clock.now += IDLE_TIMEOUT
    assert refused(store, cookie) is SessionEnd.IDLE
    assert refused(store, cookie) is SessionEnd.REVOKED  # and it stays ended


def test_the_absolute_timeout_holds_however_active(store: SessionStore, clock: Clock) -> None:
    start = clock.now
    cookie, _ = store.create("alice", {Role.AUDITOR}, None)
    while clock.now + IDLE_TIMEOUT / 2 < start + ABSOLUTE_TIMEOUT:
        clock.now += IDLE_TIMEOUT / 2
        store.check(cookie)  # a request every 7.5 minutes
    clock.now = start + ABSOLUTE_TIMEOUT
    assert refused(store, cookie) is SessionEnd.ABSOLUTE


def test_revocation_unknown_and_malformed_cookies(store: SessionStore) -> None:
    cookie, _ = store.create("alice", {Role.ADMIN}, None)
    other, _ = store.create("alice", {Role.ADMIN}, None)
    bob, _ = store.create("bob", {Role.SUPERVISOR}, None)
    assert store.revoke(cookie) and not store.revoke(cookie)
    assert refused(store, cookie) is SessionEnd.REVOKED
    assert store.revoke_principal("alice") == 1  # the other live one
    assert refused(store, other) is SessionEnd.REVOKED
    assert store.check(bob).principal == "bob"
    for bad in (None, "", "x" * 500, "é" * 10, cookie[:-1] + ("A" if cookie[-1] != "A" else "B")):
        assert refused(store, bad) is SessionEnd.UNKNOWN


def test_purge_forgets_only_long_dead_sessions(
    store: SessionStore, clock: Clock, db: Database
) -> None:
    old, _ = store.create("alice", {Role.ADMIN}, None)
    store.revoke(old)
    store.create("bob", {Role.ADMIN}, None)
    assert store.purge() == 0
    clock.now += RETAIN_ENDED + 1  # bob never comes back
    assert store.purge() == 1  # alice's revoked session; bob's could have lived until now-ish
    clock.now += IDLE_TIMEOUT
    assert store.purge() == 1  # alice's (revoked) and bob's (idle for a day)
    assert db.query_one("SELECT COUNT(*) FROM dashboard_sessions")[0] == 0


def test_csrf_tokens_are_bound_to_the_cookie_and_compared_strictly(store: SessionStore) -> None:
    cookie, s = store.create("alice", {Role.ADMIN}, None)
    _other, t = store.create("alice", {Role.ADMIN}, None)
    assert s.csrf == csrf_for(cookie) == store.check(cookie).csrf
    assert s.csrf != t.csrf
    assert login_csrf_for(cookie) != csrf_for(cookie)  # a login token is no session token
    assert tokens_match(s.csrf, s.csrf)
    for wrong in (None, "", t.csrf, s.csrf[:-1], s.csrf + "A", "é" * 43, "A" * 1000):
        assert not tokens_match(s.csrf, wrong)
    assert "csrf" not in repr(s) and cookie not in repr(s)
