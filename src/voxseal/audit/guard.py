"""Keep secrets and oversized or malformed data out of the audit log before it is hashed in.

Once a record is chained it can never be removed without breaking verification, so a secret
written by mistake would be there for good. The guard therefore refuses, loudly and at the
call site, ``details`` keys that name a secret (``password``, ``token``, ``otp``, ``code``,
``key`` ...) and values that look like credentials (a JWT, a PEM block, a bearer header, an
``otpauth://`` URI) in any field, and any action outside the catalogue
(:mod:`voxseal.audit.actions`).

Identifier fields (actor, target, source, correlation id) often carry what an attacker typed
(a username on a failed login), so they are *normalised* rather than refused: an audit write
must not fail because the input was hostile. Lone surrogates and NUL (PostgreSQL TEXT cannot
hold it) become U+FFFD and anything longer than :data:`MAX_FIELD` characters is cut and marked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from voxseal.audit.chain import canonical_details
from voxseal.audit.events import AuditEvent, AuditEventRejected, Outcome, parse_action

MAX_FIELD = 256
MAX_DETAILS = 8192
_TRUNCATED = "…[truncated]"

#: words that make a details key name a secret, wherever they appear in the key
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "code",
        "key",
        "apikey",
        "otp",
        "totp",
        "hotp",
        "pin",
        "credential",
        "credentials",
        "cookie",
        "authorization",
        "bearer",
        "privatekey",
        "seed",
        "mnemonic",
    }
)
#: a key whose *last* word says it is a name for, or a fact about, the secret is fine:
#: ``key_id``, ``token_type``, ``code_count``, ``failure_reason``
SAFE_LAST_WORDS = frozenset(
    {
        "id",
        "ids",
        "jti",
        "kid",
        "count",
        "type",
        "kind",
        "name",
        "names",
        "status",
        "reason",
        "fingerprint",
        "length",
        "ttl",
        "expiry",
        "expires",
        "scope",
        "scopes",
        "alg",
        "algorithm",
        "method",
        "version",
        "valid",
        "used",
        "remaining",
    }
)
#: exact keys allowed although a word in them is on the list (they hold reason codes)
SAFE_KEYS = frozenset(
    {
        "reason_code",
        "status_code",
        "error_code",
        "http_status_code",
        "country_code",
        "language_code",
        "region_code",
    }
)
#: secret names glued into one word (``recoverycode``, ``newpassword``)
SECRET_FRAGMENTS = (
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "secret",
    "token",
    "totp",
    "passcode",
    "recoverycode",
    "authcode",
    "mfacode",
    "otpcode",
)

#: the shape every catalogue action has (a test checks each member against it)
ACTION_SHAPE = re.compile(r"[a-z0-9_]+(?:[.:-][a-z0-9_]+)*")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_CREDENTIAL_VALUE = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.|-----BEGIN |(?i:^\s*bearer\s+\S)|(?i:otpauth://)"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_OUTCOMES = frozenset(o.value for o in Outcome)


def key_words(key: str) -> list[str]:
    """``"totpCode"`` -> ``["totp", "code"]``; ``"api_key"`` -> ``["api", "key"]``."""
    return [w.lower() for w in _WORD.findall(key)]


def secret_key_reason(key: str) -> str | None:
    """Why ``key`` looks like it names a secret, or None when it does not."""
    if key.lower() in SAFE_KEYS:
        return None
    words = key_words(key)
    if not words or words[-1] in SAFE_LAST_WORDS:
        return None
    flat = "".join(words)
    for w in words:
        if w in SECRET_WORDS:
            return f"details key {key!r} looks like it holds a secret ({w!r})"
    for w in SECRET_FRAGMENTS:
        if w in flat:
            return f"details key {key!r} looks like it holds a secret ({w!r})"
    return None


def _check_value(where: str, value: str) -> None:
    if _CREDENTIAL_VALUE.search(value):
        raise AuditEventRejected(
            f"{where} looks like a credential (token, key or OTP URI); audit events must "
            "never carry secrets — log an identifier instead"
        )


def _check_details(obj: Any, path: str, depth: int = 0) -> None:
    if depth > 8:
        raise AuditEventRejected(f"details nested too deeply at {path}")
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise AuditEventRejected(f"details key {k!r} at {path} is not a string")
            reason = secret_key_reason(k)
            if reason is not None:
                raise AuditEventRejected(
                    f"{reason}; audit events must never carry secrets or codes — "
                    "log an identifier, a count or a reason instead"
                )
            _check_details(v, f"{path}.{k}", depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_details(v, f"{path}[{i}]", depth + 1)
    elif isinstance(obj, str):
        _check_value(f"details value at {path}", obj)
    elif obj is None or isinstance(obj, bool | int | float):
        return
    else:
        raise AuditEventRejected(
            f"details value at {path} is a {type(obj).__name__}; use str, number, bool, "
            "null, list or object"
        )


def clean_text(value: str | None) -> str | None:
    """Normalise an identifier field so that any input can be stored and exported."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuditEventRejected(f"expected a string, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if len(value) > MAX_FIELD:
        value = value[: MAX_FIELD - len(_TRUNCATED)] + _TRUNCATED
    return value


def prepare(
    event: AuditEvent,
) -> tuple[str | None, str, str | None, str, str | None, str | None, str]:
    """Check and normalise one event.

    Returns ``(actor, action, target, outcome, source, correlation_id, details_json)``.
    """
    action = parse_action(event.action).value  # only the catalogue's actions are logged
    outcome = str(event.outcome.value if isinstance(event.outcome, Outcome) else event.outcome)
    if outcome not in _OUTCOMES:
        raise AuditEventRejected(f"outcome {outcome!r} is not one of {sorted(_OUTCOMES)}")
    actor = clean_text(event.actor)
    target = clean_text(event.target)
    source = clean_text(event.source)
    cid = clean_text(event.correlation_id)
    for name, value in (("actor", actor), ("target", target), ("correlation_id", cid)):
        if value is not None:
            _check_value(name, value)
    details = event.details
    if details:
        if not isinstance(details, Mapping):
            raise AuditEventRejected("details must be a mapping")
        _check_details(details, "details")
        try:
            text = canonical_details(details)
        except (TypeError, ValueError) as exc:
            raise AuditEventRejected(f"details are not canonical JSON: {exc}") from None
        if len(text) > MAX_DETAILS:
            raise AuditEventRejected(
                f"details are {len(text)} characters; the limit is {MAX_DETAILS}"
            )
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise AuditEventRejected("details contain unpaired surrogates") from None
    else:
        text = "{}"
    return actor, action, target, outcome, source, cid, text
