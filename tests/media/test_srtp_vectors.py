"""The SRTP vectors of RFC 3711, RFC 7714 and RFC 6188 against the libsrtp sessions the SFU drives.

libsrtp takes a master key and salt and derives the session keys itself; its API has no way to
set a session key, to read a derived one, or to set a rollover counter. So the vectors are used
in two steps:

1. A small reference model of SRTP written here on ``cryptography`` (the RFC 3711 key
   derivation and AES-CM keystream, HMAC-SHA1 authentication, the RFC 7714 AES-GCM packet
   layout) reproduces every vector exactly: the B.2 / 6188 7.1 keystream blocks, the B.3 /
   6188 7.2 derived keys and the 7714 protected SRTP and SRTCP packets, from the vectors'
   own keys.
2. libsrtp sessions built as aiortc builds them after DTLS (``RTCDtlsTransport._setup_srtp``:
   ``SSRC_ANY_OUTBOUND`` / ``SSRC_ANY_INBOUND``, repeat allowed, window 1024) are given a
   vector's master key and salt, protect the vector's RTP (and RTCP) plaintext with the
   vector's SSRC, sequence number and index, and must output exactly the packet the model
   builds. For AES_CM_128_HMAC_SHA1_80 with the RFC 3711 B.3 master key that packet is built
   from the *vector's* derived keys, so libsrtp's key derivation is checked against the RFC
   numbers themselves. The inbound session opens the packet again and refuses it with any
   bit flipped, and refuses it replayed.

Both call paths of the fast path are covered (``lean``: libsrtp called directly on the session's
``srtp_t``; ``public``: pylibsrtp's methods), and one test sends a vector packet through the fast
path's per-packet forwarding function. pylibsrtp binds no AES-256-CM profile, so RFC 6188's
AES-256-CM is checked in the model only; its AES-256 key derivation (7.2) is the one libsrtp
uses for AEAD_AES_256_GCM, checked below through that profile.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pylibsrtp
import pytest
from aiortc.rtcdtlstransport import SRTP_PROFILES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voxseal.media import fastpath
from voxseal.media.fastpath import FastPath, FastSession, OutStream, SlotParams
from voxseal.media.srtp import SrtpMonitor

RFC3711 = "srtp-rfc3711.json"
RFC7714 = "srtp-rfc7714-aes-gcm.json"
RFC6188 = "srtp-rfc6188-aes256-cm.json"

#: RFC 3711 4.3.1 key derivation labels
RTP_KEY, RTP_AUTH, RTP_SALT, RTCP_KEY, RTCP_AUTH, RTCP_SALT = range(6)


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# --- the reference model (RFC 3711, RFC 7714) --------------------------------------------------


def aes_cm(key: bytes, counter: bytes, length: int) -> bytes:
    """AES counter-mode keystream from a 16-byte initial counter block (RFC 3711 4.1.1)."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    return encryptor.update(bytes(length))


def srtp_iv(salt: bytes, ssrc: int, index: int) -> bytes:
    """RFC 3711 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), 128 bits."""
    value = int.from_bytes(salt, "big") << 16 ^ ssrc << 64 ^ index << 16
    return value.to_bytes(16, "big")


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 4.3.1 with key_derivation_rate 0: x = label * 2^48 XOR master_salt.

    A 96-bit (AES-GCM) master salt is zero-padded to the 112 bits of the PRF, as libsrtp does.
    """
    x = bytearray(master_salt.ljust(14, b"\0"))
    x[7] ^= label
    return aes_cm(master_key, bytes(x) + b"\0\0", length)


def rtp_fields(packet: bytes) -> tuple[int, int]:
    """(SSRC, sequence number) of an RTP packet."""
    return struct.unpack_from("!I", packet, 8)[0], struct.unpack_from("!H", packet, 2)[0]


def cm_protect_rtp(
    keys: tuple[bytes, bytes, bytes], packet: bytes, roc: int, header_length: int = 12
) -> bytes:
    """AES_CM_128_HMAC_SHA1_80: encrypt the payload, tag = HMAC-SHA1(k_a, packet || ROC)[:10]."""
    cipher_key, cipher_salt, auth_key = keys
    ssrc, seq = rtp_fields(packet)
    payload = packet[header_length:]
    stream = aes_cm(cipher_key, srtp_iv(cipher_salt, ssrc, roc << 16 | seq), len(payload))
    protected = packet[:header_length] + xor(payload, stream)
    tag = hmac.new(auth_key, protected + struct.pack("!I", roc), hashlib.sha1).digest()[:10]
    return protected + tag


def cm_protect_rtcp(keys: tuple[bytes, bytes, bytes], packet: bytes, index: int) -> bytes:
    """SRTCP with AES-CM (RFC 3711 3.4): encrypted after the first 8 octets, then E || index."""
    cipher_key, cipher_salt, auth_key = keys
    ssrc = struct.unpack_from("!I", packet, 4)[0]
    body = packet[8:]
    stream = aes_cm(cipher_key, srtp_iv(cipher_salt, ssrc, index), len(body))
    protected = packet[:8] + xor(body, stream) + struct.pack("!I", 0x80000000 | index)
    return protected + hmac.new(auth_key, protected, hashlib.sha1).digest()[:10]


def gcm_protect_rtp(key: bytes, salt: bytes, packet: bytes, roc: int, header_length: int) -> bytes:
    """RFC 7714 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, AAD = the RTP header."""
    ssrc, seq = rtp_fields(packet)
    iv = xor(b"\0\0" + struct.pack("!IIH", ssrc, roc, seq), salt)
    header = packet[:header_length]
    return header + AESGCM(key).encrypt(iv, packet[header_length:], header)


def gcm_protect_rtcp(key: bytes, salt: bytes, packet: bytes, index: int, *, encrypt: bool) -> bytes:
    """RFC 7714 9: IV from SSRC and the 31-bit SRTCP index; E || index ends the packet."""
    ssrc = struct.unpack_from("!I", packet, 4)[0]
    iv = xor(b"\0\0" + struct.pack("!IHI", ssrc, 0, index), salt)
    trailer = struct.pack("!I", (0x80000000 if encrypt else 0) | index)
    if encrypt:
        return packet[:8] + AESGCM(key).encrypt(iv, packet[8:], packet[:8] + trailer) + trailer
    return packet + AESGCM(key).encrypt(iv, b"", packet + trailer) + trailer


# --- step 1: the model reproduces the RFC vectors ----------------------------------------------


def test_aes_cm_keystream_matches_rfc3711_b2(vectors: Any) -> None:
    v = vectors(RFC3711)["aes_cm_keystream"]
    iv = srtp_iv(h(v["session_salt"]), v["ssrc"], v["roc"] << 16 | v["seq"])
    assert iv == h(v["offset"])
    key = h(v["session_key"])
    assert len(v["blocks"]) == 6
    for block in v["blocks"]:
        counter = (int.from_bytes(iv, "big") + block["block_index"]).to_bytes(16, "big")
        assert counter == h(block["counter"])
        assert aes_cm(key, counter, 16) == h(block["keystream"]), block["block_index"]


def test_aes_256_cm_keystream_matches_rfc6188_7_1(vectors: Any) -> None:
    v = vectors(RFC6188)["aes_256_cm_keystream"]
    iv = srtp_iv(h(v["session_salt"]), v["ssrc"], v["roc"] << 16 | v["seq"])
    assert aes_cm(h(v["session_key"]), iv, 48) == h(v["keystream_first_3_blocks"])


def test_key_derivation_matches_rfc3711_b3(vectors: Any) -> None:
    v = vectors(RFC3711)["key_derivation"]
    assert v["key_derivation_rate"] == 0 and int(v["index"], 16) == 0
    assert {d["label"] for d in v["derived"]} == {RTP_KEY, RTP_AUTH, RTP_SALT}
    for d in v["derived"]:
        got = derive(h(v["master_key"]), h(v["master_salt"]), d["label"], d["length"])
        assert got == h(d["value"]), d["name"]


def test_aes_256_key_derivation_matches_rfc6188_7_2(vectors: Any) -> None:
    v = vectors(RFC6188)["aes_256_key_derivation"]
    mk, ms = h(v["master_key"]), h(v["master_salt"])
    assert derive(mk, ms, RTP_KEY, 32) == h(v["cipher_key"])
    assert derive(mk, ms, RTP_SALT, 14) == h(v["cipher_salt"])
    assert derive(mk, ms, RTP_AUTH, 20) == h(v["auth_key_first_20"])


def test_aes_gcm_packets_match_rfc7714(vectors: Any) -> None:
    cases = vectors(RFC7714)["vectors"]
    assert [c["profile"] for c in cases] == ["AEAD_AES_128_GCM", "AEAD_AES_256_GCM"]
    for c in cases:
        key, salt = h(c["session_key"]), h(c["session_salt"])
        rtp, rtcp = c["srtp"], c["srtcp"]
        got = gcm_protect_rtp(
            key, salt, h(rtp["plaintext_packet"]), rtp["roc"], rtp["header_length"]
        )
        assert got == h(rtp["protected_packet"]), c["profile"]
        assert rtp_fields(got) == (rtp["ssrc"], rtp["seq"])
        pt, index = h(rtcp["plaintext_packet"]), rtcp["srtcp_index"]
        assert gcm_protect_rtcp(key, salt, pt, index, encrypt=True) == h(
            rtcp["protected_packet_encrypted"]
        )
        assert gcm_protect_rtcp(key, salt, pt, index, encrypt=False) == h(
            rtcp["protected_packet_tag_only"]
        )


# --- step 2: libsrtp, as the fast path drives it -----------------------------------------------


def profile(name: str) -> Any:
    """aiortc's entry for one DTLS-SRTP protection profile (what ``_setup_srtp`` reads)."""
    found = [p for p in SRTP_PROFILES if p.openssl_profile.decode() == name]
    assert found, f"{name} is not offered by this aiortc + libsrtp build"
    return found[0]


def libsrtp_session(name: str, master_key: bytes, master_salt: bytes, ssrc_type: int) -> Any:
    """A ``pylibsrtp.Session`` with the very policy aiortc builds after the DTLS handshake."""
    p = profile(name)
    assert (len(master_key), len(master_salt)) == (p.key_length, p.salt_length)
    policy = pylibsrtp.Policy(
        key=master_key + master_salt, ssrc_type=ssrc_type, srtp_profile=p.libsrtp_profile
    )
    policy.allow_repeat_tx = True
    policy.window_size = 1024
    return pylibsrtp.Session(policy)


class _NoSocket(asyncio.DatagramTransport):
    """The datagram transport a fast-path session sends on, keeping what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def sendto(self, data: Any, addr: Any = None) -> None:
        self.sent.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0


def fast_session(name: str, rx: Any, tx: Any) -> tuple[FastSession, _NoSocket]:
    socket = _NoSocket()
    session = FastSession(
        name, socket, asyncio.DatagramProtocol(), ("127.0.0.1", 9), rx, tx, SrtpMonitor()
    )
    return session, socket


@pytest.fixture(params=["lean", "public"])
def srtp_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which SRTP call path the fast path takes: libsrtp direct, or the fallback."""
    if request.param == "public":
        monkeypatch.setattr(fastpath, "_LEAN_BINDING", False)
    return str(request.param)


class SessionPair:
    """An outbound and an inbound libsrtp session on one master key, called as the fast path
    calls them: on the ``lean`` path straight into libsrtp with the session's own buffer."""

    def __init__(self, name: str, master_key: bytes, master_salt: bytes) -> None:
        self.tx = libsrtp_session(name, master_key, master_salt, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self.rx = libsrtp_session(name, master_key, master_salt, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        self.fast, _ = fast_session("vector", self.rx, self.tx)

    @staticmethod
    def _call(lean: Any, call: Callable[..., int], packet: bytes) -> bytes:
        lean.buffer[0 : len(packet)] = packet
        lean.length[0] = len(packet)
        if call(lean.ctx, lean.cdata, lean.length):
            raise pylibsrtp.Error("libsrtp refused the packet")
        return bytes(lean.buffer[0 : lean.length[0]])

    def protect(self, packet: bytes) -> bytes:
        if self.fast.lean_tx is not None:
            return self._call(self.fast.lean_tx, pylibsrtp.lib.srtp_protect, packet)
        return bytes(self.tx.protect(packet))

    def unprotect(self, packet: bytes) -> bytes:
        if self.fast.lean_rx is not None:
            return self._call(self.fast.lean_rx, pylibsrtp.lib.srtp_unprotect, packet)
        return bytes(self.rx.unprotect(packet))


def bit_flips(packet: bytes) -> Iterator[bytes]:
    """The packet with one bit flipped: in the header, the payload and the tag."""
    for at in (1, 8, 12, len(packet) // 2, len(packet) - 1):
        flipped = bytearray(packet)
        flipped[at] ^= 0x01
        yield bytes(flipped)


def assert_opens_once_and_refuses_tampering(
    pair: SessionPair, protected: bytes, plaintext: bytes
) -> None:
    for flipped in bit_flips(protected):
        with pytest.raises(pylibsrtp.Error):
            pair.unprotect(flipped)
    assert pair.unprotect(protected) == plaintext
    with pytest.raises(pylibsrtp.Error):  # a replay
        pair.unprotect(protected)


def rtp_plaintext(vectors: Any) -> dict[str, Any]:
    """The RFC 7714 RTP plaintext packet (SSRC 0x5501a0b2, seq 61819, ROC 0), 12-byte header."""
    rtp: dict[str, Any] = vectors(RFC7714)["vectors"][0]["srtp"]
    return rtp


def test_the_sessions_take_the_lean_path_unless_told_not_to(srtp_calls: str, vectors: Any) -> None:
    v = vectors(RFC3711)["key_derivation"]
    pair = SessionPair("SRTP_AES128_CM_SHA1_80", h(v["master_key"]), h(v["master_salt"]))
    lean = (pair.fast.lean_rx is not None, pair.fast.lean_tx is not None)
    assert lean == ((True, True) if srtp_calls == "lean" else (False, False))


def test_libsrtp_derives_the_rfc3711_b3_keys(srtp_calls: str, vectors: Any) -> None:
    """The packet libsrtp protects under the B.3 master key is the one the B.3 session keys
    give, across a sequence-number wrap (ROC 0 -> 1, which HMAC covers)."""
    v = vectors(RFC3711)["key_derivation"]
    derived = {d["label"]: h(d["value"]) for d in v["derived"]}
    keys = (derived[RTP_KEY], derived[RTP_SALT], derived[RTP_AUTH][:20])
    pair = SessionPair("SRTP_AES128_CM_SHA1_80", h(v["master_key"]), h(v["master_salt"]))
    rtp = rtp_plaintext(vectors)
    plaintext = h(rtp["plaintext_packet"])
    assert rtp_fields(plaintext) == (rtp["ssrc"], rtp["seq"])
    protected = pair.protect(plaintext)
    assert protected == cm_protect_rtp(keys, plaintext, rtp["roc"])
    assert_opens_once_and_refuses_tampering(pair, protected, plaintext)
    # the last sequence number before the wrap, then the first after it (ROC 1)
    for seq, roc in ((0xFFFF, 0), (0x0000, 1)):
        packet = plaintext[:2] + struct.pack("!H", seq) + plaintext[4:]
        protected = pair.protect(packet)
        assert protected == cm_protect_rtp(keys, packet, roc), (seq, roc)
        assert_opens_once_and_refuses_tampering(pair, protected, packet)


def test_libsrtp_srtcp_with_the_rfc3711_b3_master_key(srtp_calls: str, vectors: Any) -> None:
    v = vectors(RFC3711)["key_derivation"]
    mk, ms = h(v["master_key"]), h(v["master_salt"])
    keys = (derive(mk, ms, RTCP_KEY, 16), derive(mk, ms, RTCP_SALT, 14), derive(mk, ms, 4, 20))
    pair = SessionPair("SRTP_AES128_CM_SHA1_80", mk, ms)
    rtcp = h(vectors(RFC7714)["vectors"][0]["srtcp"]["plaintext_packet"])
    for index in (1, 2):  # libsrtp numbers SRTCP packets from 1
        protected = bytes(pair.tx.protect_rtcp(rtcp))
        assert protected == cm_protect_rtcp(keys, rtcp, index)
        assert bytes(pair.rx.unprotect_rtcp(protected)) == rtcp
        for flipped in bit_flips(protected):
            with pytest.raises(pylibsrtp.Error):
                pair.rx.unprotect_rtcp(flipped)


@pytest.mark.parametrize("case", [0, 1], ids=["AEAD_AES_128_GCM", "AEAD_AES_256_GCM"])
def test_libsrtp_aes_gcm_on_the_rfc7714_packets(srtp_calls: str, vectors: Any, case: int) -> None:
    """The profiles DTLS negotiates in production. The vector's session key and salt serve as
    libsrtp's master key and salt; the expected packets follow RFC 7714 from the keys the
    RFC 3711 derivation gives (AES-256 derivation for AES-256-GCM, RFC 6188 7.2)."""
    c = vectors(RFC7714)["vectors"][case]
    mk, ms = h(c["session_key"]), h(c["session_salt"])
    pair = SessionPair(f"SRTP_{c['profile']}", mk, ms)
    rtp, rtcp = c["srtp"], c["srtcp"]
    plaintext = h(rtp["plaintext_packet"])
    key, salt = derive(mk, ms, RTP_KEY, len(mk)), derive(mk, ms, RTP_SALT, 12)
    protected = pair.protect(plaintext)
    assert protected == gcm_protect_rtp(key, salt, plaintext, rtp["roc"], rtp["header_length"])
    assert_opens_once_and_refuses_tampering(pair, protected, plaintext)

    # SRTCP at the vector's index: libsrtp counts from 1, so send up to it
    control = h(rtcp["plaintext_packet"])
    for _ in range(rtcp["srtcp_index"] - 1):
        pair.tx.protect_rtcp(control)
    protected = bytes(pair.tx.protect_rtcp(control))
    key, salt = derive(mk, ms, RTCP_KEY, len(mk)), derive(mk, ms, RTCP_SALT, 12)
    assert protected == gcm_protect_rtcp(key, salt, control, rtcp["srtcp_index"], encrypt=True)
    assert bytes(pair.rx.unprotect_rtcp(protected)) == control
    for flipped in bit_flips(protected):
        with pytest.raises(pylibsrtp.Error):
            pair.rx.unprotect_rtcp(flipped)


def test_the_fast_path_forwards_a_vector_packet(srtp_calls: str, vectors: Any) -> None:
    """A packet built from the B.3 session keys alone (not by libsrtp) goes through the fast
    path's per-packet function: unprotected under the publisher's B.3 master key, re-headed
    for the subscriber's slot, protected with AES-128-GCM under the subscriber's key. A
    tampered copy is counted and never forwarded."""
    v = vectors(RFC3711)["key_derivation"]
    derived = {d["label"]: h(d["value"]) for d in v["derived"]}
    mk, ms = h(v["master_key"]), h(v["master_salt"])
    pub, _ = fast_session(
        "publisher",
        libsrtp_session("SRTP_AES128_CM_SHA1_80", mk, ms, pylibsrtp.Policy.SSRC_ANY_INBOUND),
        libsrtp_session("SRTP_AES128_CM_SHA1_80", mk, ms, pylibsrtp.Policy.SSRC_ANY_OUTBOUND),
    )
    gcm = vectors(RFC7714)["vectors"][0]
    sub_key, sub_salt = h(gcm["session_key"]), h(gcm["session_salt"])
    sub, socket = fast_session(
        "subscriber",
        libsrtp_session(
            "SRTP_AEAD_AES_128_GCM", sub_key, sub_salt, pylibsrtp.Policy.SSRC_ANY_INBOUND
        ),
        libsrtp_session(
            "SRTP_AEAD_AES_128_GCM", sub_key, sub_salt, pylibsrtp.Policy.SSRC_ANY_OUTBOUND
        ),
    )
    slot = OutStream(sub, "0", SlotParams(ssrc=0x0BADCAFE, payload_type=111))
    pub.outs = [slot]
    # the per-packet function the socket callback runs (attach() needs a connected aiortc
    # peer; tests/media/test_fastpath.py covers that on loopback)
    forward = FastPath()._receiver(pub)

    rtp = rtp_plaintext(vectors)
    plaintext = h(rtp["plaintext_packet"])
    published = cm_protect_rtp(
        (derived[RTP_KEY], derived[RTP_SALT], derived[RTP_AUTH][:20]), plaintext, rtp["roc"]
    )
    for flipped in bit_flips(published):
        forward(flipped)
    assert (pub.monitor.rtp_failures, socket.sent, pub.packets_in) == (5, [], 0)

    forward(published)
    assert pub.packets_in == 1 and slot.packets == 1
    _, seq = rtp_fields(plaintext)
    timestamp = struct.unpack_from("!I", plaintext, 4)[0]
    assert (slot.last_seq, slot.last_ts) == (
        (seq + slot.seq_off) & 0xFFFF,
        (timestamp + slot.ts_off) & 0xFFFFFFFF,
    )
    # V=2, no marker (the vector's is clear), the slot's PT, sequence, timestamp and SSRC
    header = struct.pack("!BBHII", 0x80, 111, slot.last_seq, slot.last_ts, 0x0BADCAFE)
    key = derive(sub_key, sub_salt, RTP_KEY, 16)
    salt = derive(sub_key, sub_salt, RTP_SALT, 12)
    assert socket.sent == [gcm_protect_rtp(key, salt, header + plaintext[12:], 0, 12)]
    forward(published)  # a replay: refused by libsrtp, not forwarded again
    assert (pub.monitor.rtp_failures, len(socket.sent)) == (6, 1)
