"""HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords, built on ``cryptography``'s HMAC.

Sans-I/O: :class:`TOTP` computes and checks codes for a given time; remembering which time step
was last accepted (what makes a code single-use) is the caller's job, because it must be
persisted atomically with the login (see :meth:`voxseal.identity.directory.Directory.verify_totp`).
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from voxseal.errors import InvalidInput, InvalidMFACode, MFAReplay


class Algorithm(StrEnum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


_HASHES: dict[Algorithm, Callable[[], hashes.HashAlgorithm]] = {
    Algorithm.SHA1: hashes.SHA1,
    Algorithm.SHA256: hashes.SHA256,
    Algorithm.SHA512: hashes.SHA512,
}

#: RFC 4226 R6 requires at least 128 bits; we generate 160 (the RFC's recommendation) or more.
MIN_SECRET_BYTES = 16
#: Secret size generated per algorithm: the HMAC block-friendly sizes used by RFC 6238's seeds.
SECRET_BYTES = {Algorithm.SHA1: 20, Algorithm.SHA256: 32, Algorithm.SHA512: 64}


def hotp(
    secret: bytes, counter: int, *, digits: int = 6, algorithm: Algorithm = Algorithm.SHA1
) -> str:
    """RFC 4226 section 5.3: HMAC over the 8-byte counter, dynamic truncation, mod 10^digits."""
    if digits not in (6, 7, 8):
        raise InvalidInput("digits must be 6, 7 or 8", reason="totp_digits")
    if not 0 <= counter < 2**64:
        raise InvalidInput("counter out of range", reason="totp_counter")
    mac = HMAC(secret, _HASHES[Algorithm(algorithm)]())
    mac.update(counter.to_bytes(8, "big"))
    digest = mac.finalize()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def generate_secret(algorithm: Algorithm = Algorithm.SHA1) -> bytes:
    """A fresh random secret: 160 bits for SHA-1, the digest size for SHA-256/512."""
    return secrets.token_bytes(SECRET_BYTES[Algorithm(algorithm)])


def b32encode_secret(secret: bytes) -> str:
    """Base32 without padding, as authenticator apps expect in ``otpauth://`` URIs."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def b32decode_secret(text: str) -> bytes:
    cleaned = text.replace(" ", "").replace("-", "").upper()
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, TypeError):
        raise InvalidInput("secret is not valid base32", reason="totp_secret") from None


class TOTP:
    """A TOTP generator/verifier for one secret (RFC 6238, T0 = 0)."""

    def __init__(
        self,
        secret: bytes,
        *,
        algorithm: Algorithm | str = Algorithm.SHA1,
        digits: int = 6,
        period: int = 30,
        window: int = 1,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise InvalidInput("TOTP secret shorter than 128 bits", reason="totp_secret")
        if digits not in (6, 8):
            raise InvalidInput("TOTP digits must be 6 or 8", reason="totp_digits")
        if not 1 <= period <= 300:
            raise InvalidInput("TOTP period must be 1..300 seconds", reason="totp_period")
        if not 0 <= window <= 10:
            raise InvalidInput("TOTP window must be 0..10 steps", reason="totp_window")
        self._secret = bytes(secret)
        self.algorithm = Algorithm(str(algorithm).upper())
        self.digits = digits
        self.period = period
        self.window = window

    def __repr__(self) -> str:  # never the secret
        return f"TOTP(algorithm={self.algorithm.value}, digits={self.digits}, period={self.period})"

    def time_step(self, at: float | None = None) -> int:
        return int((time.time() if at is None else at) // self.period)

    def code_at(self, at: float | None = None) -> str:
        return self.code_for_step(self.time_step(at))

    def code_for_step(self, step: int) -> str:
        return hotp(self._secret, step, digits=self.digits, algorithm=self.algorithm)

    def verify(self, code: str, *, at: float | None = None, last_step: int | None = None) -> int:
        """Return the time step ``code`` belongs to, within ±``window`` steps of ``at``.

        Raises :class:`InvalidMFACode` when no step in the window matches and
        :class:`MFAReplay` when the only matching steps are ``<= last_step`` (already used).
        Every candidate is compared, in constant time, so timing does not reveal which step
        (or whether any) matched.
        """
        candidate = normalise_code(code, self.digits)
        now_step = self.time_step(at)
        matched: list[int] = []
        for step in range(now_step - self.window, now_step + self.window + 1):
            if step < 0:
                continue
            if hmac.compare_digest(self.code_for_step(step).encode(), candidate.encode()):
                matched.append(step)
        if not matched:
            raise InvalidMFACode("invalid one-time code")
        fresh = [s for s in matched if last_step is None or s > last_step]
        if not fresh:
            raise MFAReplay("one-time code already used")
        return max(fresh)

    def provisioning_uri(self, account_name: str, issuer: str) -> str:
        return provisioning_uri(
            self._secret,
            account_name,
            issuer,
            algorithm=self.algorithm,
            digits=self.digits,
            period=self.period,
        )


def normalise_code(code: str, digits: int) -> str:
    """Digits only (spaces a user may type are dropped); anything else is an invalid code."""
    if not isinstance(code, str):
        raise InvalidMFACode("invalid one-time code")
    cleaned = code.replace(" ", "").strip()
    if len(cleaned) != digits or not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidMFACode("invalid one-time code")
    return cleaned


def provisioning_uri(
    secret: bytes,
    account_name: str,
    issuer: str,
    *,
    algorithm: Algorithm | str = Algorithm.SHA1,
    digits: int = 6,
    period: int = 30,
) -> str:
    """``otpauth://totp/Issuer:name?secret=…&issuer=…&algorithm=…&digits=…&period=…``.

    The Key URI Format used by Google Authenticator and compatible apps; the issuer appears both
    as label prefix and parameter, as the format recommends.
    """
    if ":" in issuer or ":" in account_name:
        raise InvalidInput("issuer and account name must not contain ':'", reason="totp_label")
    label = quote(f"{issuer}:{account_name}", safe=":@")
    query = urlencode(
        {
            "secret": b32encode_secret(secret),
            "issuer": issuer,
            "algorithm": Algorithm(str(algorithm).upper()).value,
            "digits": str(digits),
            "period": str(period),
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def terminal_qr(uri: str) -> str:
    """A QR code of ``uri`` drawn with Unicode half blocks, for ``voxseal user mfa-enroll``."""
    import segno

    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()
