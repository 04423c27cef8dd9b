"""Webhook signatures, signed by the providers' own helpers where one exists.

Twilio requests are signed with ``twilio.request_validator.RequestValidator`` (the helper
library Twilio publishes), so a passing test means we accept exactly what Twilio sends.
"""

from __future__ import annotations

import hashlib
import json
import time

import jwt
import pytest
from twilio.request_validator import RequestValidator

from voxseal.telephony.errors import InvalidSignature, MissingSignature
from voxseal.telephony.signatures import (
    SignalWireWebhookVerifier,
    TwilioWebhookVerifier,
    VonageWebhookVerifier,
    twilio_signature,
)

TOKEN = "12345abcdef-twilio-auth-token"
URL = "https://voice.example.com/v1/telephony/twilio/voice?tenant=acme"
FORM = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def _sign(url: str, params: object = None) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params or {})


def test_signature_equals_twilios_helper() -> None:
    assert twilio_signature(TOKEN, URL, FORM) == _sign(URL, FORM)
    multi = [("b", "2"), ("a", "z"), ("a", "y")]
    assert twilio_signature(TOKEN, URL, multi) == twilio_signature(
        TOKEN, URL, {"a": ["y", "z"], "b": "2"}
    )


def test_valid_form_webhook_is_accepted() -> None:
    v = TwilioWebhookVerifier(TOKEN)
    v.verify(URL, {"X-Twilio-Signature": _sign(URL, FORM)}, params=FORM)
    v.verify(URL, {"x-twilio-signature": _sign(URL, FORM)}, params=FORM)  # header case


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://voice.example.com:443/hook?x=1", "https://voice.example.com/hook?x=1"),
        ("https://voice.example.com/hook?x=1", "https://voice.example.com:443/hook?x=1"),
        ("https://voice.example.com:8443/hook", "https://voice.example.com:8443/hook"),
        ("https://voice.example.com/hook", "https://voice.example.com:8443/hook"),
    ],
)
def test_port_variants_are_accepted_as_twilio_does(signed_url: str, received_url: str) -> None:
    sig = _sign(signed_url, FORM)
    assert RequestValidator(TOKEN).validate(received_url, FORM, sig)  # the reference agrees
    TwilioWebhookVerifier(TOKEN).verify(received_url, {"X-Twilio-Signature": sig}, params=FORM)


def test_public_base_url_rebuilds_what_twilio_signed_behind_a_proxy() -> None:
    public = "https://voice.example.com/gw/v1/telephony/twilio/voice?tenant=acme"
    sig = _sign(public, FORM)
    seen = "http://10.0.0.5:8080/v1/telephony/twilio/voice?tenant=acme"
    with pytest.raises(InvalidSignature):
        TwilioWebhookVerifier(TOKEN).verify(seen, {"X-Twilio-Signature": sig}, params=FORM)
    v = TwilioWebhookVerifier(TOKEN, public_base_url="https://voice.example.com/gw/")
    assert v.public_url(seen) == public
    v.verify(seen, {"X-Twilio-Signature": sig}, params=FORM)


def test_missing_signature_is_refused() -> None:
    with pytest.raises(MissingSignature) as e:
        TwilioWebhookVerifier(TOKEN).verify(URL, {}, params=FORM)
    assert e.value.http_status == 403
    with pytest.raises(MissingSignature):
        TwilioWebhookVerifier(TOKEN).verify(URL, {"X-Twilio-Signature": ""}, params=FORM)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda f: {**f, "Digits": "9999"},  # changed value
        lambda f: {**f, "Extra": "1"},  # added parameter
        lambda f: {k: v for k, v in f.items() if k != "To"},  # dropped parameter
    ],
)
def test_tampered_params_are_refused(tamper: object) -> None:
    sig = _sign(URL, FORM)
    with pytest.raises(InvalidSignature) as e:
        TwilioWebhookVerifier(TOKEN).verify(URL, {"X-Twilio-Signature": sig}, params=tamper(FORM))  # type: ignore[operator]
    assert e.value.http_status == 403
    assert e.value.reason == "invalid_signature"


def test_wrong_signature_wrong_key_and_wrong_url_are_refused() -> None:
    v = TwilioWebhookVerifier(TOKEN)
    other = RequestValidator("another-token").compute_signature(URL, FORM)
    for headers, url in [
        ({"X-Twilio-Signature": other}, URL),
        ({"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, URL),
        ({"X-Twilio-Signature": "x" * 1000}, URL),
        ({"X-Twilio-Signature": _sign(URL, FORM)}, URL.replace("acme", "evil")),
        ({"X-Twilio-Signature": _sign(URL, FORM)}, URL.replace("https", "http")),
    ]:
        with pytest.raises(InvalidSignature):
            v.verify(url, headers, params=FORM)


def test_json_body_is_checked_through_body_sha256() -> None:
    body = json.dumps({"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030"}).encode()
    url = f"https://voice.example.com/hook?bodySHA256={hashlib.sha256(body).hexdigest()}"
    sig = _sign(url)
    assert RequestValidator(TOKEN).validate(url, body.decode(), sig)
    v = TwilioWebhookVerifier(TOKEN)
    v.verify(url, {"X-Twilio-Signature": sig}, body=body)
    with pytest.raises(InvalidSignature, match="bodySHA256"):
        v.verify(url, {"X-Twilio-Signature": sig}, body=body.replace(b"CA1", b"CA9"))
    no_hash = "https://voice.example.com/hook"
    with pytest.raises(InvalidSignature, match="without bodySHA256"):
        v.verify(no_hash, {"X-Twilio-Signature": _sign(no_hash)}, body=body)
    with pytest.raises(InvalidSignature):
        v.verify(url, {"X-Twilio-Signature": sig}, body=body, params=FORM)


def test_secret_is_never_in_repr_or_errors() -> None:
    v = TwilioWebhookVerifier(TOKEN, public_base_url="https://voice.example.com")
    assert TOKEN not in repr(v)
    try:
        v.verify(URL, {"X-Twilio-Signature": "bad"}, params=FORM)
    except InvalidSignature as exc:
        assert TOKEN not in str(exc) and "bad" not in str(exc)
    with pytest.raises(ValueError):
        TwilioWebhookVerifier("")
    with pytest.raises(ValueError):
        TwilioWebhookVerifier(TOKEN, public_base_url="voice.example.com")


# --- SignalWire ----------------------------------------------------------------------------

SW_KEY = "PSK_signalwire_signing_key"


def test_signalwire_uses_twilio_scheme_with_its_own_header() -> None:
    sig = RequestValidator(SW_KEY).compute_signature(URL, FORM)
    v = SignalWireWebhookVerifier(SW_KEY)
    v.verify(URL, {"X-SignalWire-Signature": sig}, params=FORM)
    with pytest.raises(MissingSignature):  # the Twilio header does not stand in for it
        v.verify(URL, {"X-Twilio-Signature": sig}, params=FORM)
    with pytest.raises(InvalidSignature):
        v.verify(URL, {"X-SignalWire-Signature": sig}, params={**FORM, "To": "+1"})
    twilio_signed = RequestValidator(TOKEN).compute_signature(URL, FORM)
    with pytest.raises(InvalidSignature):
        v.verify(URL, {"X-SignalWire-Signature": twilio_signed}, params=FORM)
    assert SW_KEY not in repr(v)


# --- Vonage --------------------------------------------------------------------------------

VONAGE_SECRET = "vonage-signature-secret-0123456789abcdef"
NOW = 1_800_000_000.0


def _vonage(body: bytes = b"", secret: str = VONAGE_SECRET, **claims: object) -> dict[str, str]:
    payload: dict[str, object] = {
        "iat": int(NOW),
        "jti": "5b2f0f6c-6d3b-4a1e-9a1c-6a3e7b1b2c3d",
        "iss": "Vonage",
        "api_key": "abcd1234",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    }
    if body:
        payload["payload_hash"] = hashlib.sha256(body).hexdigest()
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return {"Authorization": "Bearer " + jwt.encode(payload, secret, algorithm="HS256")}


def _vverifier(**kw: object) -> VonageWebhookVerifier:
    return VonageWebhookVerifier(VONAGE_SECRET, clock=lambda: NOW + 5, **kw)  # type: ignore[arg-type]


def test_vonage_signed_webhook_is_accepted() -> None:
    body = b'{"from":"447700900000","to":"447700900001","uuid":"aaaa"}'
    claims = _vverifier(api_key="abcd1234").verify(_vonage(body), body)
    assert claims["application_id"].startswith("aaaaaaaa")
    _vverifier().verify(_vonage(), b"")  # a signed GET answer webhook has no body


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (_vonage(b"{}", secret="wrong-secret-0123456789abcdef0123"), b"{}"),  # wrong key
        (_vonage(b'{"to":"1"}'), b'{"to":"2"}'),  # tampered body
        (_vonage(), b'{"to":"2"}'),  # body but no payload_hash
        (_vonage(iat=int(NOW) - 3600), b""),  # stale
        (_vonage(iat=int(NOW) + 3600), b""),  # from the future
        (_vonage(iat=None), b""),  # no iat
        (_vonage(exp=int(NOW) - 60), b""),  # expired
        ({"Authorization": "Basic dXNlcjpwYXNz"}, b""),  # not a bearer token
        ({"Authorization": "Bearer not.a.jwt"}, b""),
        (
            {
                "Authorization": "Bearer "
                + jwt.encode({"iat": int(NOW)}, "k" * 64, algorithm="HS512")
            },
            b"",
        ),
    ],
)
def test_vonage_bad_webhooks_are_refused(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(InvalidSignature) as e:
        _vverifier().verify(headers, body)
    assert e.value.http_status == 403
    assert VONAGE_SECRET not in str(e.value)


def test_vonage_missing_header_and_foreign_account() -> None:
    with pytest.raises(MissingSignature):
        _vverifier().verify({}, b"")
    with pytest.raises(InvalidSignature, match="another account"):
        _vverifier(api_key="other").verify(_vonage(), b"")
    assert VONAGE_SECRET not in repr(_vverifier())


def test_vonage_alg_none_is_refused() -> None:
    token = jwt.encode({"iat": int(time.time())}, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature):
        _vverifier().verify({"Authorization": f"Bearer {token}"}, b"")


SHARED = "shared-key-secret-0123456789"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


@pytest.mark.parametrize("algorithm", ["HMAC_SHA256", "HMAC_SHA1"])
def test_shared_key_signatures_follow_the_settings_header(algorithm: str) -> None:
    sig = RequestValidator(SHARED).compute_signature(URL, FORM, algorithm)
    headers = {
        "X-Twilio-Signature": sig,
        SETTINGS: f"key=webhooks_sharedkey_1,algorithm={algorithm}",
    }
    TwilioWebhookVerifier(TOKEN, shared_key_secret=SHARED).verify(URL, headers, params=FORM)
    with pytest.raises(InvalidSignature, match="SharedKey"):  # we were not given the key
        TwilioWebhookVerifier(TOKEN).verify(URL, headers, params=FORM)
    with pytest.raises(InvalidSignature):  # the auth token does not sign SharedKey requests
        TwilioWebhookVerifier(SHARED).verify(
            URL, {**headers, "X-Twilio-Signature": _sign(URL, FORM)}, params=FORM
        )


def test_shared_key_with_unknown_algorithm_is_refused() -> None:
    headers = {"X-Twilio-Signature": "x", SETTINGS: "key=k,algorithm=HMAC_MD5"}
    with pytest.raises(InvalidSignature, match="unsupported"):
        TwilioWebhookVerifier(TOKEN, shared_key_secret=SHARED).verify(URL, headers, params=FORM)
