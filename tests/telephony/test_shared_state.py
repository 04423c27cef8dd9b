"""Ingress nodes share stream-token redemptions and pending calls through the store.

Two ``Database`` objects on one URL stand for two ``voxseal telephony`` processes (two hosts
on PostgreSQL): single use must hold across them, and a stream that lands on the other node
must still find its call. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.clock import Clock
from voxseal.store.database import Database, open_store
from voxseal.telephony.errors import StreamTokenReplayed
from voxseal.telephony.schema import MIGRATIONS
from voxseal.telephony.shared_state import (
    CLOCK_SKEW_MARGIN,
    PendingCall,
    StorePendingCalls,
    StoreUsedTokens,
)
from voxseal.telephony.stream_tokens import StreamTokenIssuer


@pytest.fixture
def two_nodes(database_url: str) -> Iterator[tuple[Database, Database]]:
    a, b = open_store(database_url, [MIGRATIONS]), open_store(database_url, [MIGRATIONS])
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_token_redeemed_on_one_node_is_refused_on_the_other(
    two_nodes: tuple[Database, Database],
) -> None:
    key, clock = Ed25519PrivateKey.generate(), Clock()  # nodes share keys/telephony-stream.key
    node_a, node_b = (
        StreamTokenIssuer(key, used=StoreUsedTokens(db), clock=clock) for db in two_nodes
    )
    token = node_a.issue("CA42", "twilio", ttl=60)
    assert node_b.redeem(token, call_id="CA42", provider="twilio")["sub"] == "CA42"
    for node in (node_a, node_b):
        with pytest.raises(StreamTokenReplayed):
            node.redeem(token, call_id="CA42", provider="twilio")
    # another call's token is unaffected
    other = node_b.issue("CA43", "twilio", ttl=60)
    assert node_a.redeem(other, call_id="CA43", provider="twilio")["sub"] == "CA43"


def test_racing_redemptions_admit_exactly_one(two_nodes: tuple[Database, Database]) -> None:
    """On PostgreSQL the two connections really race (on SQLite BEGIN IMMEDIATE serialises
    them, so there it only checks the outcome); the primary key decides, not a read first."""
    used = [StoreUsedTokens(db) for db in two_nodes]
    wins: list[bool] = []
    start = threading.Barrier(8)

    def claim(i: int) -> None:
        start.wait()
        wins.append(used[i % 2].claim("jti-1", 2e9, 1e9))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_used_ids_are_forgotten_well_after_they_expire(
    two_nodes: tuple[Database, Database],
) -> None:
    used = StoreUsedTokens(two_nodes[0])
    assert used.claim("old", expires_at=100.0, now=50.0)
    assert not used.claim("old", expires_at=100.0, now=99.0)
    # a node whose clock runs ahead keeps the row: a slower node may still accept the token
    assert used.claim("new", expires_at=300.0, now=100.0 + CLOCK_SKEW_MARGIN - 1)
    assert len(used) == 2 and not used.claim("old", expires_at=100.0, now=99.0)
    assert used.claim("newer", expires_at=900.0, now=100.0 + CLOCK_SKEW_MARGIN + 1)
    assert len(used) == 2  # "old" is gone now


def test_a_pending_call_is_taken_once_on_any_node(two_nodes: tuple[Database, Database]) -> None:
    clock = Clock()
    node_a, node_b = (StorePendingCalls(db, clock=clock) for db in two_nodes)
    node_a.add(PendingCall("twilio", "CA1", "tel-abc", clock.now + 60))
    node_a.add(PendingCall("vonage", "CA1", None, clock.now + 60))  # same id, other provider
    assert len(node_b) == 2
    assert node_b.take("twilio", "CA1") == PendingCall("twilio", "CA1", "tel-abc", clock.now + 60)
    assert node_a.take("twilio", "CA1") is None
    assert node_a.take("vonage", "CA1") == PendingCall("vonage", "CA1", None, clock.now + 60)


def test_a_pending_call_expires_and_a_retried_webhook_replaces_it(
    two_nodes: tuple[Database, Database],
) -> None:
    clock = Clock()
    pending = StorePendingCalls(two_nodes[0], clock=clock)
    pending.add(PendingCall("twilio", "CA1", "tel-old", clock.now + 10))
    pending.add(PendingCall("twilio", "CA1", "tel-new", clock.now + 60))  # provider retried
    clock.now += 30
    assert pending.take("twilio", "CA1") == PendingCall("twilio", "CA1", "tel-new", clock.now + 30)
    pending.add(PendingCall("twilio", "CA2", "tel-x", clock.now + 5))
    clock.now += 10
    assert pending.take("twilio", "CA2") is None  # its stream never came in time
    pending.add(PendingCall("twilio", "CA3", None, clock.now + 5))  # sweeps CA2's row
    assert len(pending) == 1
