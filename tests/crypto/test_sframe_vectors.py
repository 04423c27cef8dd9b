"""RFC 9605 official vectors (tests/vectors/sframe-rfc9605.json), all three sections."""

from __future__ import annotations

from typing import Any

import pytest

from voxseal.crypto import sframe
from voxseal.crypto.errors import MalformedHeader
from voxseal.crypto.sframe import CtrHmacAead, Receiver, Sender

FILE = "sframe-rfc9605.json"


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def test_every_header_vector_encodes_and_decodes(vectors: Any) -> None:
    cases = vectors(FILE)["header"]
    assert len(cases) > 100
    for v in cases:
        encoded = h(v["encoded"])
        assert sframe.encode_header(v["kid"], v["ctr"]) == encoded, v
        assert sframe.decode_header(encoded) == (v["kid"], v["ctr"], len(encoded)), v
        # every truncation of an encoded header is refused, never misread
        for cut in range(len(encoded)):
            if cut == 0 or encoded[0] & 0x88:
                with pytest.raises(MalformedHeader):
                    sframe.decode_header(encoded[:cut])


def test_every_aes_ctr_hmac_vector(vectors: Any) -> None:
    cases = vectors(FILE)["aes_ctr_hmac"]
    assert {v["cipher_suite"] for v in cases} == {1, 2, 3}
    for v in cases:
        params = sframe.suite_params(v["cipher_suite"])
        key = h(v["key"])
        # key split of RFC 9605 §4.5.1: encryption key first, authentication key second
        assert key[: params.nka] == h(v["enc_key"])
        assert key[params.nka :] == h(v["auth_key"])
        aead = CtrHmacAead(key, params.nt)
        ct = aead.encrypt(h(v["nonce"]), h(v["pt"]), h(v["aad"]))
        assert ct == h(v["ct"]), v["cipher_suite"]
        assert len(ct) == len(h(v["pt"])) + params.nt
        assert aead.decrypt(h(v["nonce"]), ct, h(v["aad"])) == h(v["pt"])


def test_every_sframe_vector_functional(vectors: Any) -> None:
    cases = vectors(FILE)["sframe"]
    assert {v["cipher_suite"] for v in cases} == {1, 2, 3, 4, 5}
    for v in cases:
        suite, kid, ctr = v["cipher_suite"], v["kid"], v["ctr"]
        base_key = h(v["base_key"])
        tail = kid.to_bytes(8, "big") + suite.to_bytes(2, "big")
        assert b"SFrame 1.0 Secret key " + tail == h(v["sframe_key_label"])
        assert b"SFrame 1.0 Secret salt " + tail == h(v["sframe_salt_label"])
        assert sframe.derive_secret(suite, base_key) == h(v["sframe_secret"])
        key, salt = sframe.derive_key_salt(suite, base_key, kid)
        assert key == h(v["sframe_key"])
        assert salt == h(v["sframe_salt"])
        nonce = (int.from_bytes(salt, "big") ^ ctr).to_bytes(12, "big")
        assert nonce == h(v["nonce"])
        header = sframe.encode_header(kid, ctr)
        assert header + h(v["metadata"]) == h(v["aad"])
        frame = sframe.encrypt(suite, base_key, kid, ctr, h(v["metadata"]), h(v["pt"]))
        assert frame == h(v["ct"]), suite
        assert sframe.decrypt(suite, base_key, h(v["metadata"]), frame) == (kid, ctr, h(v["pt"]))


def test_every_sframe_vector_stateful(vectors: Any) -> None:
    for v in vectors(FILE)["sframe"]:
        suite, kid, ctr = v["cipher_suite"], v["kid"], v["ctr"]
        sender = Sender(suite, kid, h(v["base_key"]), initial_counter=ctr)
        frame = sender.protect(h(v["pt"]), h(v["metadata"]))
        assert frame == h(v["ct"]), suite
        assert sender.counter == ctr + 1
        receiver = Receiver(suite)
        receiver.add_key(kid, h(v["base_key"]))
        assert receiver.unprotect(frame, h(v["metadata"])) == h(v["pt"])
