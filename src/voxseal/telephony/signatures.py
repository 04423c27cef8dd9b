"""Webhook signature checks for Twilio, Vonage and SignalWire.

A provider's webhook decides which stream URL and token a call gets, so an unsigned or forged
request must never reach the TwiML/NCCO builders. Each verifier raises
:class:`~voxseal.telephony.errors.InvalidSignature` (HTTP 403) or returns; comparisons are
constant-time; the secret lives only in a private attribute and never in a repr or message.

Twilio (and SignalWire's Twilio-compatible API) sign ``URL + sorted(name + value)`` with
HMAC-SHA1 and base64. The URL is the *public* one the provider called, so behind a proxy the
verifier rebuilds it from a configured public base URL; like Twilio's own ``RequestValidator``
it accepts the signature computed with or without the port, because Twilio's signing is not
consistent about the default port. JSON bodies are signed through a ``bodySHA256`` query
parameter instead of form parameters.

Vonage signs webhooks with a JWT (HS256, keyed by the account's signature secret) in the
``Authorization: Bearer`` header; its ``payload_hash`` claim is the SHA-256 of the body, and
``iat`` bounds its age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

import jwt

from voxseal.telephony.errors import InvalidSignature, MissingSignature

TWILIO_SIGNATURE_HEADER: Final = "X-Twilio-Signature"
#: present when a Twilio Webhook Rule signs with a SharedKey: ``key=…,algorithm=HMAC_SHA256``
TWILIO_SIGNATURE_SETTINGS_HEADER: Final = "X-Twilio-Webhooks-Signature-Settings"
_HASHES: Final = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
SIGNALWIRE_SIGNATURE_HEADER: Final = "X-SignalWire-Signature"
#: longest signature header we will even look at (a base64 SHA-1 is 28 characters)
_MAX_SIGNATURE_LEN: Final = 256

Params = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
    want = name.lower()
    for key, value in headers.items():
        if key.lower() == want:
            return value
    return None


def _grouped(params: Params | None) -> dict[str, list[str]]:
    """Form parameters as name → values, whatever mapping or pair list the framework gives."""
    out: dict[str, list[str]] = {}
    if params is None:
        return out
    if isinstance(params, Mapping):
        for name, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            out.setdefault(name, []).extend(values)
    else:
        for name, value in params:
            out.setdefault(name, []).append(value)
    return out


def twilio_signature(
    secret: str, url: str, params: Params | None = None, algorithm: str = "HMAC_SHA1"
) -> str:
    """Twilio's signature of ``url`` and form ``params``: base64(HMAC(url + name value…)),
    SHA-1 by default, SHA-256 for a SharedKey whose setting names ``HMAC_SHA256``.

    Names are sorted, and a repeated name's values are sorted (and de-duplicated, as Twilio's
    helper library does) so the result matches the provider whatever order the form arrived in.
    """
    data = url
    for name, values in sorted(_grouped(params).items()):
        for value in sorted(set(values)):
            data += name + value
    mac = hmac.new(secret.encode(), data.encode(), _HASHES[algorithm]).digest()
    return base64.b64encode(mac).decode()


def _with_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    port = 443 if parts.scheme == "https" else 80
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is None:
        return url
    host = parts.netloc.rsplit(":", 1)[0]
    return urlunsplit(parts._replace(netloc=host))


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TwilioWebhookVerifier:
    """Checks ``X-Twilio-Signature`` (or a compatible provider's header) on one webhook.

    ``public_base_url`` (e.g. ``https://voice.example.com``) replaces the scheme and host of
    the URL the server saw, and prefixes its path, so a TLS-terminating proxy or a port
    mapping does not break the signature. Without it, the URL is taken as given.
    """

    provider = "twilio"
    signature_header = TWILIO_SIGNATURE_HEADER

    def __init__(
        self,
        auth_token: str,
        *,
        public_base_url: str | None = None,
        shared_key_secret: str | None = None,
    ) -> None:
        if not auth_token:
            raise ValueError(f"{self.provider} signing secret is empty")
        self._secret = auth_token
        # a Twilio Webhook Rule may sign with a SharedKey instead of the auth token; the
        # request then says so (and which hash) in X-Twilio-Webhooks-Signature-Settings
        self._shared_secret = shared_key_secret or None
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        if self.public_base_url is not None:
            base = urlsplit(self.public_base_url)
            if base.scheme not in ("https", "http") or not base.netloc or base.query:
                raise ValueError("public_base_url must be an absolute http(s) URL")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public_base_url={self.public_base_url!r})"

    def public_url(self, request_url: str) -> str:
        """The URL the provider signed, rebuilt from the URL this server received."""
        if self.public_base_url is None:
            return request_url
        seen = urlsplit(request_url)
        base = urlsplit(self.public_base_url)
        return urlunsplit((base.scheme, base.netloc, base.path + seen.path, seen.query, ""))

    def verify(
        self,
        request_url: str,
        headers: Mapping[str, str],
        *,
        params: Params | None = None,
        body: bytes | None = None,
    ) -> None:
        """Accept the request or raise :class:`InvalidSignature`.

        Form webhooks pass ``params`` (the decoded POST form). JSON webhooks pass the raw
        ``body``; the URL must then carry ``bodySHA256``, the hex SHA-256 of that body, and
        the signature covers the URL alone.
        """
        signature = header(headers, self.signature_header)
        if not signature:
            raise MissingSignature(f"{self.provider} webhook without {self.signature_header}")
        if len(signature) > _MAX_SIGNATURE_LEN:
            raise InvalidSignature(f"{self.provider} webhook signature is malformed")
        url = self.public_url(request_url)
        query = parse_qs(urlsplit(url).query)
        if body is not None:
            if params:
                raise InvalidSignature("a webhook is signed over a form or a body, not both")
            claimed = query.get("bodySHA256")
            if not claimed or len(claimed) != 1:
                raise InvalidSignature(f"{self.provider} JSON webhook without bodySHA256")
            if not _equal(hashlib.sha256(body).hexdigest(), claimed[0].lower()):
                raise InvalidSignature(f"{self.provider} webhook body does not match bodySHA256")
            params = None
        secret, algorithm = self._key_for(headers)
        ok = False
        for candidate in (_without_port(url), _with_port(url)):
            ok |= _equal(twilio_signature(secret, candidate, params, algorithm), signature)
        if not ok:
            raise InvalidSignature(f"{self.provider} webhook signature does not match")

    def _key_for(self, headers: Mapping[str, str]) -> tuple[str, str]:
        """The secret and hash the request says it was signed with."""
        settings = header(headers, TWILIO_SIGNATURE_SETTINGS_HEADER)
        if settings is None or self.provider != "twilio":
            return self._secret, "HMAC_SHA1"
        if self._shared_secret is None:
            raise InvalidSignature("webhook signed with a SharedKey this gateway does not hold")
        algorithm = "HMAC_SHA1"
        for part in settings.split(","):
            name, sep, value = part.partition("=")
            if sep and name.strip() == "algorithm" and value.strip():
                algorithm = value.strip().upper()
        if algorithm not in _HASHES:
            raise InvalidSignature("unsupported webhook signature algorithm")
        return self._shared_secret, algorithm


class SignalWireWebhookVerifier(TwilioWebhookVerifier):
    """SignalWire's compatibility (cXML) webhooks: Twilio's scheme, keyed by the project's
    signing key, in ``X-SignalWire-Signature``. The Twilio header is not accepted in its place,
    so a Twilio-signed request cannot pass as a SignalWire one."""

    provider = "signalwire"
    signature_header = SIGNALWIRE_SIGNATURE_HEADER


class VonageWebhookVerifier:
    """Checks a Vonage signed webhook: ``Authorization: Bearer <JWT HS256>``.

    The JWT must verify with the signature secret, be no older than ``max_age`` seconds
    (``iat``; at most ``leeway`` in the future), and its ``payload_hash`` must equal the
    SHA-256 of the body when there is one. ``api_key``, when configured, must match the
    token's, so another account's correctly signed webhook is refused.
    """

    provider = "vonage"

    def __init__(
        self,
        signature_secret: str,
        *,
        api_key: str | None = None,
        max_age: float = 300.0,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signature_secret:
            raise ValueError("vonage signature secret is empty")
        self._secret = signature_secret
        self.api_key = api_key
        self.max_age, self.leeway, self._clock = max_age, leeway, clock

    def __repr__(self) -> str:
        return f"VonageWebhookVerifier(api_key={self.api_key!r}, max_age={self.max_age})"

    def verify(self, headers: Mapping[str, str], body: bytes = b"") -> dict[str, Any]:
        """Return the verified claims or raise :class:`InvalidSignature`."""
        auth = header(headers, "Authorization")
        if not auth:
            raise MissingSignature("vonage webhook without Authorization")
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 8192:
            raise InvalidSignature("vonage webhook Authorization is not a bearer JWT")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["iat"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidSignature(f"vonage webhook JWT rejected ({type(exc).__name__})") from None
        iat = claims.get("iat")
        now = self._clock()
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise InvalidSignature("vonage webhook JWT iat is not a number")
        if iat > now + self.leeway or now - iat > self.max_age:
            raise InvalidSignature("vonage webhook JWT is stale or from the future")
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int | float) or exp < now - self.leeway):
            raise InvalidSignature("vonage webhook JWT has expired")
        if self.api_key is not None and not _equal(str(claims.get("api_key", "")), self.api_key):
            raise InvalidSignature("vonage webhook JWT is for another account")
        claimed = claims.get("payload_hash")
        if body or claimed is not None:
            if not isinstance(claimed, str):
                raise InvalidSignature("vonage webhook JWT has no payload_hash for its body")
            if not _equal(hashlib.sha256(body).hexdigest(), claimed.lower()):
                raise InvalidSignature("vonage webhook body does not match payload_hash")
        return claims
