"""The canonical encoding, chaining and checkpoint signatures as pure functions (no store)."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit.chain import (
    CHECKPOINT_TAG,
    GENESIS_HASH,
    ChainVerifier,
    canonical_details,
    chain_rows,
    checkpoint_payload,
    encode_record,
    key_id,
    raw_public_key,
    record_hash,
)
from voxseal.errors import AuditChainBroken

ZERO_HEX = "00" * 32


def test_encoding_is_the_documented_json_array() -> None:
    enc = encode_record(
        1, 1_700_000_000_123_456, "zoë", "auth.login", None, "success", "127.0.0.1", "c1",
        '{"a":1}', GENESIS_HASH,
    )  # fmt: skip
    expected = (
        '["voxseal.audit.v1",1,1700000000123456,"zoë","auth.login",null,"success",'
        f'"127.0.0.1","c1","{{\\"a\\":1}}","{ZERO_HEX}"]'
    ).encode()
    assert enc == expected
    # an independent decoder reads the same fields back
    assert json.loads(enc) == [
        "voxseal.audit.v1", 1, 1700000000123456, "zoë", "auth.login", None, "success",
        "127.0.0.1", "c1", '{"a":1}', ZERO_HEX,
    ]  # fmt: skip
    assert record_hash(
        1, 1_700_000_000_123_456, "zoë", "auth.login", None, "success", "127.0.0.1", "c1",
        '{"a":1}', GENESIS_HASH,
    ) == hashlib.sha256(expected).digest()  # fmt: skip


def test_encoding_matches_pythons_reference_json() -> None:
    """The fast C path and the documented rule (json.dumps, no whitespace) agree."""
    fields = [2, 5, 'a"b\\c\n\x01\u2028', "x.y", "", "denied", None, "ü", '{"k":"v"}', b"\x01" * 32]
    ref = json.dumps(
        ["voxseal.audit.v1", *fields[:-1], fields[-1].hex()],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    assert encode_record(*fields) == ref


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((None, "x"), ("", "x")),  # null is not the empty string
        (("a,b", None), ("a", "b")),  # no field boundary can be forged
        (('a","b', None), ("a", "b")),
    ],
)
def test_encoding_is_unambiguous(a: tuple, b: tuple) -> None:
    def enc(actor: str | None, target: str | None) -> bytes:
        return encode_record(1, 0, actor, "x", target, "success", None, None, "{}", GENESIS_HASH)

    assert enc(*a) != enc(*b)


def test_canonical_details_sorted_and_compact() -> None:
    assert canonical_details({"b": 1, "a": [1, "ü"]}) == '{"a":[1,"ü"],"b":1}'
    assert canonical_details({}) == "{}"
    with pytest.raises(ValueError):
        canonical_details({"x": float("nan")})


def _chain(n: int) -> list[tuple]:
    events = [
        (1_000 + i, f"u{i}", "auth.login", None, "success", "10.0.0.1", None, f'{{"i":{i}}}')
        for i in range(n)
    ]
    return chain_rows(1, GENESIS_HASH, events)


def test_chain_rows_link_each_record_to_the_previous_hash() -> None:
    rows = _chain(5)
    assert rows[0][9] == GENESIS_HASH
    for prev, row in itertools.pairwise(rows):
        assert row[9] == prev[10]
        assert row[0] == prev[0] + 1
    for row in rows:
        assert record_hash(*row[:10]) == row[10]


def test_checkpoint_payload_layout() -> None:
    key = Ed25519PrivateKey.generate()
    raw = raw_public_key(key.public_key())
    head = b"\xab" * 32
    payload = checkpoint_payload(3, 1000, 1_700_000_000_000_000, head, raw)
    assert (
        payload == CHECKPOINT_TAG + struct.pack(">QQQ", 3, 1000, 1_700_000_000_000_000) + head + raw
    )
    assert len(key_id(key.public_key())) == 32
    assert key_id(key.public_key()) == key_id(raw)


def _checkpoint(key: Ed25519PrivateKey, cp_id: int, seq: int, head: bytes) -> tuple:
    raw = raw_public_key(key.public_key())
    sig = key.sign(checkpoint_payload(cp_id, seq, 7, head, raw))
    return (cp_id, seq, head, 7, key_id(raw), raw, sig)


def test_verifier_accepts_an_intact_chain_fed_in_chunks() -> None:
    key = Ed25519PrivateKey.generate()
    rows = _chain(30)
    cps = [_checkpoint(key, 1, 10, rows[9][10]), _checkpoint(key, 2, 30, rows[29][10])]
    v = ChainVerifier(cps, [key.public_key()])
    for i in range(0, 30, 7):
        v.feed(rows[i : i + 7])
    report = v.finish()
    assert report.ok, report.problem
    assert (report.records_checked, report.checkpoints_checked, report.head_seq) == (30, 2, 30)
    assert report.unanchored == 0


def test_verifier_names_the_changed_record() -> None:
    rows = _chain(10)
    bad = list(rows[4])
    bad[2] = "mallory"
    rows[4] = tuple(bad)
    v = ChainVerifier([], [])
    with pytest.raises(AuditChainBroken) as exc:
        v.feed(rows)
    assert exc.value.seq == 5
    assert v.finish().broken_seq == 5


def test_verifier_orders_checkpoint_problems_with_record_problems() -> None:
    """A bad checkpoint at seq 20 is reported only if nothing earlier is broken."""
    key = Ed25519PrivateKey.generate()
    rows = _chain(30)
    forged = list(_checkpoint(key, 1, 20, rows[19][10]))
    forged[6] = bytes(64)
    v = ChainVerifier([tuple(forged)], [key.public_key()])
    with pytest.raises(AuditChainBroken) as exc:
        v.feed(rows)
    assert exc.value.seq == 20 and "bad signature" in exc.value.problem

    rows2 = list(rows)
    rows2[3] = (*rows2[3][:2], "x", *rows2[3][3:])
    v = ChainVerifier([tuple(forged)], [key.public_key()])
    with pytest.raises(AuditChainBroken) as exc:
        v.feed(rows2)
    assert exc.value.seq == 4


def test_untrusted_key_is_refused() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    rows = _chain(5)
    v = ChainVerifier([_checkpoint(key, 1, 5, rows[4][10])], [other.public_key()])
    v.feed(rows[:4])
    with pytest.raises(AuditChainBroken, match="untrusted key"):
        v.feed(rows[4:])
