"""Identities: did:key, base58btc, hybrid signatures, public identity documents, secrecy."""

from __future__ import annotations

import pickle

import pytest

from voxseal.crypto.errors import BadSignature, MalformedIdentity
from voxseal.crypto.keys import (
    ED25519_SIGNATURE_SIZE,
    HYBRID_SIGNATURE_SIZE,
    Identity,
    PublicIdentity,
    b58decode,
    b58encode,
    did_from_ed25519,
    ed25519_from_did,
)

# Bitcoin's base58 encode/decode vectors (hex input, base58 output)
B58 = [
    ("", ""),
    ("61", "2g"),
    ("626262", "a3gV"),
    ("636363", "aPEr"),
    ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
    ("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
    ("516b6fcd0f", "ABnLTmg"),
    ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
    ("572e4794", "3EFU7m"),
    ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
    ("10c8511e", "Rt5zm"),
    ("00000000000000000000", "1111111111"),
]


@pytest.mark.parametrize(("hexdata", "text"), B58)
def test_base58btc_vectors(hexdata: str, text: str) -> None:
    assert b58encode(bytes.fromhex(hexdata)) == text
    assert b58decode(text) == bytes.fromhex(hexdata)


def test_base58_refuses_foreign_characters() -> None:
    for bad in ("0", "O", "I", "l", "abc+"):
        with pytest.raises(MalformedIdentity):
            b58decode(bad)


def test_did_key_interop_example() -> None:
    # a did:key and its publicKeyBase58 as published by another implementation
    pk = b58decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K")
    did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"
    assert did_from_ed25519(pk) == did
    assert ed25519_from_did(did) == pk


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com",
        "did:key:u6MkmjY8",  # wrong multibase
        "did:key:z6LShpNhGwSupbB7zjuivH156vhLJBDDzmQtA4BY9S94pe1K",  # x25519-pub, not ed25519
        "did:key:zTjsVPtY",  # too short
        "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th0",  # bad char
    ],
)
def test_bad_dids_refused(did: str) -> None:
    with pytest.raises(MalformedIdentity):
        ed25519_from_did(did)


def test_identity_did_names_its_key() -> None:
    ident = Identity.generate()
    assert ident.did.startswith("did:key:z6Mk")
    assert ed25519_from_did(ident.did) == ident.public.ed25519_public_bytes


@pytest.mark.parametrize("hybrid", [False, True])
def test_sign_verify_and_context_separation(hybrid: bool) -> None:
    ident = Identity.generate(post_quantum_signatures=hybrid)
    sig = ident.sign(b"message", context=b"purpose-a")
    assert len(sig) == (HYBRID_SIGNATURE_SIZE if hybrid else ED25519_SIGNATURE_SIZE)
    ident.public.verify(sig, b"message", context=b"purpose-a")
    with pytest.raises(BadSignature):
        ident.public.verify(sig, b"message", context=b"purpose-b")
    with pytest.raises(BadSignature):
        ident.public.verify(sig, b"messagE", context=b"purpose-a")
    with pytest.raises(BadSignature):
        Identity.generate().public.verify(sig, b"message", context=b"purpose-a")


def test_hybrid_needs_both_halves() -> None:
    ident = Identity.generate(post_quantum_signatures=True)
    sig = ident.sign(b"m", context=b"c")
    ed_half, pq_half = sig[:64], sig[64:]
    with pytest.raises(BadSignature):  # downgrade: only the Ed25519 half
        ident.public.verify(ed_half, b"m", context=b"c")
    bad_ed = bytes([ed_half[0] ^ 1]) + ed_half[1:] + pq_half
    with pytest.raises(BadSignature):
        ident.public.verify(bad_ed, b"m", context=b"c")
    bad_pq = ed_half + pq_half[:-1] + bytes([pq_half[-1] ^ 1])
    with pytest.raises(BadSignature):
        ident.public.verify(bad_pq, b"m", context=b"c")
    other = Identity.generate(post_quantum_signatures=True).sign(b"m", context=b"c")
    with pytest.raises(BadSignature):  # a valid Ed25519 half with someone else's ML-DSA half
        ident.public.verify(ed_half + other[64:], b"m", context=b"c")


@pytest.mark.parametrize("hybrid", [False, True])
def test_public_identity_document_round_trip(hybrid: bool) -> None:
    ident = Identity.generate(post_quantum_signatures=hybrid)
    doc = ident.public.encode()
    back = PublicIdentity.decode(doc)
    assert back == ident.public
    assert back.did == ident.did
    assert back.hybrid is hybrid
    assert back.fingerprint() == ident.public.fingerprint()


def test_public_identity_with_swapped_kem_key_refused() -> None:
    victim = Identity.generate()
    attacker = Identity.generate()
    doc = bytearray(victim.public.encode())
    doc[34 : 34 + 1216] = attacker.public.kem_public_key.public_bytes()
    with pytest.raises(BadSignature):
        PublicIdentity.decode(bytes(doc))


@pytest.mark.parametrize("cut", [0, 1, 2, 40, 1313])
def test_truncated_public_identity_refused(cut: int) -> None:
    doc = Identity.generate().public.encode()
    with pytest.raises(MalformedIdentity):
        PublicIdentity.decode(doc[:cut])
    with pytest.raises(MalformedIdentity):
        PublicIdentity.decode(doc + b"\x00")


def test_secret_export_round_trip() -> None:
    for hybrid in (False, True):
        ident = Identity.generate(post_quantum_signatures=hybrid)
        again = Identity.from_secret(ident.export_secret())
        assert again.public == ident.public
        again.public.verify(ident.sign(b"x", context=b"c"), b"x", context=b"c")
    with pytest.raises(MalformedIdentity):
        Identity.from_secret(b"\x01\x00" + b"\x00" * 10)


def test_secrets_never_in_repr_str_or_pickle() -> None:
    ident = Identity.generate(post_quantum_signatures=True)
    secret = ident.export_secret()
    seeds = [secret[2:34], secret[34:66], secret[66:98]]
    for text in (repr(ident), str(ident), repr(ident.public), repr(ident.kem_private_key())):
        for seed in seeds:
            assert seed.hex() not in text
            assert repr(seed)[2:-1] not in text
    with pytest.raises(TypeError):
        pickle.dumps(ident)


SMALL_ORDER_POINTS = [
    bytes([1]) + bytes(31),  # the neutral element (order 1)
    bytes(32),  # (0, 0)-ish encoding of order 4
    bytes([0xEC]) + b"\xff" * 30 + b"\x7f",  # y = p - 1 (order 2)
    bytes([0xEE]) + b"\xff" * 30 + b"\x7f",  # y = p + 1: a non-canonical encoding of the neutral
]


@pytest.mark.parametrize(
    "point", SMALL_ORDER_POINTS, ids=["neutral", "order4", "order2", "noncanon"]
)
def test_small_order_or_non_canonical_signing_keys_are_refused(point: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if point == SMALL_ORDER_POINTS[0]:
        # why the check exists: OpenSSL alone lets R = neutral, S = 0 "sign" any message
        degenerate = ed25519.Ed25519PublicKey.from_public_bytes(point)
        degenerate.verify(point + bytes(32), b"any message at all")
    kem = Identity.generate().public.kem_public_key
    with pytest.raises(BadSignature, match="small-order or not a canonical point"):
        PublicIdentity(point, kem)
