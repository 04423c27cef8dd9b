"""The room registry's edge cases found in review: reconnecting alone, copied identity keys."""

from __future__ import annotations

import base64

import pytest

from voxseal.crypto import Identity
from voxseal.errors import InvalidInput, PermissionDenied
from voxseal.media.rooms import MAX_IDENTITY_DOC, Grants, RoomRegistry
from voxseal.sdk.key_agreement import E2EEError, KeyAgreement


def key() -> tuple[str, str, Identity]:
    ident = Identity.generate()
    return ident.did, base64.b64encode(ident.public.encode()).decode(), ident


def test_reconnecting_alone_keeps_the_room() -> None:
    reg = RoomRegistry()
    did, doc, _ = key()
    first, _, _ = reg.join("demo", "caller-1", Grants(True, True), did, doc, now=0)
    second, _, replaced = reg.join("demo", "caller-1", Grants(True, True), did, doc, now=1)
    assert replaced is not None and replaced.id == first.id
    assert [p.id for p in reg.rooms["demo"].participants.values()] == [second.id]
    assert reg.announce_epoch(second.id, 2) == []  # still addressable: it is in a room


def test_a_copied_identity_key_is_refused() -> None:
    reg = RoomRegistry()
    did, doc, _ = key()
    reg.join("r", "victim", Grants(True, True), did, doc, now=0)
    with pytest.raises(PermissionDenied, match="already in the room"):
        reg.join("r", "mallory", Grants(True, True), did, doc, now=1)


def test_the_sdk_refuses_peers_that_share_a_key_or_an_index() -> None:
    me = KeyAgreement(Identity.generate(), "r")
    did, doc, _ = key()
    me.joined(
        {"id": "PA_1", "index": 1},
        [{"id": "PA_2", "identity": "a", "index": 2, "did": did, "identity_doc": doc}],
        now=0,
    )
    with pytest.raises(E2EEError, match="reuses"):
        me.participant_joined(
            {"id": "PA_3", "identity": "b", "index": 3, "did": did, "identity_doc": doc}, now=1
        )
    other_did, other_doc, _ = key()
    with pytest.raises(E2EEError, match="reuses"):
        me.participant_joined(
            {
                "id": "PA_4",
                "identity": "c",
                "index": 2,
                "did": other_did,
                "identity_doc": other_doc,
            },
            now=1,
        )
    mine = base64.b64encode(me.identity.public.encode()).decode()
    with pytest.raises(E2EEError, match="our own"):
        me.participant_joined(
            {
                "id": "PA_5",
                "identity": "d",
                "index": 5,
                "did": me.identity.did,
                "identity_doc": mine,
            },
            now=1,
        )


def test_a_hybrid_post_quantum_identity_can_join_and_an_oversized_one_cannot() -> None:
    reg = RoomRegistry()
    ident = Identity.generate(post_quantum_signatures=True)
    doc = base64.b64encode(ident.public.encode()).decode()
    assert len(doc) > 8 * 1024  # the size the registry used to refuse
    p, _, _ = reg.join("r", "pq", Grants(True, True), ident.did, doc, now=0)
    assert p.identity == "pq"
    with pytest.raises(InvalidInput, match=r"identity_key\.doc"):
        reg.join("r", "big", Grants(True, True), key()[0], "A" * (MAX_IDENTITY_DOC + 1), now=1)
