"""HOTP/TOTP against every RFC vector, against pyotp as an independent client, and refusals."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from voxseal.errors import InvalidInput, InvalidMFACode, MFAReplay
from voxseal.identity.totp import (
    TOTP,
    Algorithm,
    b32decode_secret,
    b32encode_secret,
    generate_secret,
    hotp,
    normalise_code,
    provisioning_uri,
    terminal_qr,
)

NOW = 1_700_000_000.0


def test_hotp_rfc4226_vectors(vectors) -> None:
    data = vectors("hotp-rfc4226.json")
    secret = bytes.fromhex(data["secret_hex"])
    assert len(data["vectors"]) == 10
    for v in data["vectors"]:
        assert hotp(secret, v["count"], digits=data["digits"]) == v["hotp"]
        assert int(v["hotp"]) == v["truncated_decimal"] % 10**6


def test_totp_rfc6238_vectors_all_algorithms(vectors) -> None:
    data = vectors("totp-rfc6238.json")
    assert len(data["vectors"]) == 18
    seen = set()
    for v in data["vectors"]:
        seed = bytes.fromhex(data["seeds"][v["mode"]]["hex"])
        totp = TOTP(seed, algorithm=v["mode"], digits=data["digits"], period=data["time_step_x"])
        assert totp.time_step(v["time"]) == int(v["t_hex"], 16)
        assert totp.code_at(v["time"]) == v["totp"]
        assert totp.verify(v["totp"], at=v["time"]) == int(v["t_hex"], 16)
        seen.add(v["mode"])
    assert seen == {"SHA1", "SHA256", "SHA512"}


@pytest.mark.parametrize("algorithm", list(Algorithm))
@pytest.mark.parametrize("digits", [6, 8])
def test_codes_from_pyotp_are_accepted(algorithm: Algorithm, digits: int) -> None:
    secret = generate_secret(algorithm)
    ours = TOTP(secret, algorithm=algorithm, digits=digits)
    theirs = pyotp.TOTP(
        b32encode_secret(secret), digits=digits, digest=algorithm.value.lower(), interval=30
    )
    for offset in range(0, 3600, 97):
        at = NOW + offset
        assert ours.verify(theirs.at(at), at=at) == ours.time_step(at)
        assert theirs.verify(ours.code_at(at), for_time=at)


def test_pyotp_uri_round_trip_gives_same_codes() -> None:
    secret = generate_secret(Algorithm.SHA256)
    ours = TOTP(secret, algorithm="SHA256", digits=8, period=30)
    uri = ours.provisioning_uri("alice@example.com", "Voxseal Test")
    parsed = pyotp.parse_uri(uri)
    assert parsed.digits == 8 and parsed.interval == 30
    assert parsed.issuer == "Voxseal Test" and parsed.name == "alice@example.com"
    assert parsed.at(NOW) == ours.code_at(NOW)


def test_provisioning_uri_fields() -> None:
    secret = bytes(range(20))
    uri = provisioning_uri(secret, "bob", "voxseal", algorithm="sha512", digits=6, period=30)
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/voxseal:bob"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "secret": base64.b32encode(secret).decode().rstrip("="),
        "issuer": "voxseal",
        "algorithm": "SHA512",
        "digits": "6",
        "period": "30",
    }
    with pytest.raises(InvalidInput):
        provisioning_uri(secret, "a:b", "voxseal")


def test_window_is_plus_minus_one_step() -> None:
    totp = TOTP(generate_secret())
    step = totp.time_step(NOW)
    for delta in (-1, 0, 1):
        code = totp.code_for_step(step + delta)
        assert totp.verify(code, at=NOW) == step + delta
    for delta in (-3, -2, 2, 3):
        code = totp.code_for_step(step + delta)
        if code in {totp.code_for_step(step + d) for d in (-1, 0, 1)}:
            continue  # a 1-in-10^6 collision is not a window bug
        with pytest.raises(InvalidMFACode):
            totp.verify(code, at=NOW)


def test_window_zero_accepts_only_current_step() -> None:
    totp = TOTP(generate_secret(), window=0)
    step = totp.time_step(NOW)
    assert totp.verify(totp.code_for_step(step), at=NOW) == step
    with pytest.raises(InvalidMFACode):
        totp.verify(totp.code_for_step(step - 1), at=NOW)


def test_replay_refused_by_last_step() -> None:
    totp = TOTP(generate_secret())
    code = totp.code_at(NOW)
    step = totp.verify(code, at=NOW)
    with pytest.raises(MFAReplay) as exc:
        totp.verify(code, at=NOW, last_step=step)
    assert exc.value.reason == "mfa_code_reused" and exc.value.http_status == 401
    # the same code a step later is still within the window, still refused
    with pytest.raises(MFAReplay):
        totp.verify(code, at=NOW + 30, last_step=step)
    # an older step's code after a newer one was used is refused too
    older = totp.code_for_step(step - 1)
    with pytest.raises(MFAReplay):
        totp.verify(older, at=NOW, last_step=step)
    # the next step's code is fine
    assert totp.verify(totp.code_for_step(step + 1), at=NOW + 30, last_step=step) == step + 1


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        None,
        123456,
    ],
)
def test_malformed_codes_are_invalid(bad) -> None:
    totp = TOTP(generate_secret())
    with pytest.raises(InvalidMFACode):
        totp.verify(bad, at=NOW)  # type: ignore[arg-type]


def test_spaces_in_codes_are_ignored() -> None:
    totp = TOTP(generate_secret())
    code = totp.code_at(NOW)
    assert totp.verify(f"{code[:3]} {code[3:]}", at=NOW) == totp.time_step(NOW)
    assert normalise_code(" 123 456 ", 6) == "123456"


def test_generated_secrets_have_at_least_160_bits() -> None:
    assert len(generate_secret()) * 8 >= 160
    assert len(generate_secret(Algorithm.SHA256)) == 32
    assert len(generate_secret(Algorithm.SHA512)) == 64
    assert generate_secret() != generate_secret()
    assert len(b32encode_secret(generate_secret())) == 32


def test_parameters_are_validated() -> None:
    with pytest.raises(InvalidInput):
        TOTP(b"short")
    with pytest.raises(InvalidInput):
        TOTP(generate_secret(), digits=7)
    with pytest.raises(InvalidInput):
        TOTP(generate_secret(), period=0)
    with pytest.raises(ValueError):
        TOTP(generate_secret(), algorithm="MD5")


def test_base32_round_trip() -> None:
    secret = generate_secret()
    text = b32encode_secret(secret)
    assert "=" not in text
    assert b32decode_secret(text) == secret
    assert b32decode_secret(text.lower()) == secret
    with pytest.raises(InvalidInput):
        b32decode_secret("not base32!")


def test_repr_never_shows_the_secret() -> None:
    secret = generate_secret()
    totp = TOTP(secret)
    text = repr(totp) + str(totp)
    assert b32encode_secret(secret) not in text and secret.hex() not in text


def test_terminal_qr_draws_the_uri() -> None:
    qr = terminal_qr(provisioning_uri(generate_secret(), "alice", "voxseal"))
    lines = qr.strip("\n").splitlines()
    assert len(lines) > 10
    assert set("".join(lines)) <= set("█▀▄ ")
