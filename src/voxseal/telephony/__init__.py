"""Telephony ingress: Twilio, Vonage and SignalWire media streams, sans-I/O.

The phone leg cannot be end-to-end encrypted (the carrier decodes the audio), so the ingress
runs in the agent zone: it authenticates the provider's webhook and media stream, converts
the audio to 48 kHz, and joins the room like any endpoint.

The protocol core is sans-I/O — codecs (:mod:`.audio`), signature checks (:mod:`.signatures`),
stream tokens (:mod:`.stream_tokens`), per-provider serializers that speak the
provider-neutral events of :mod:`.events` (:mod:`.serializer` says what one must do), and one
call's audio logic (:mod:`.call_audio`: jitter buffer, marks, barge-in) — and the first of
these are what this package exports. The I/O edge is ``voxseal telephony`` (:mod:`.cli`): the
ASGI app (:mod:`.app`), the per-call shell that joins a room around CallAudio (:mod:`.bridge`)
and the process's shared state (:mod:`.ingress`); they are imported only by that command,
never by ``serve``. See docs/telephony.md.
"""

from voxseal.telephony.errors import (
    InvalidSignature,
    MalformedFrame,
    MissingSignature,
    StreamTokenError,
    StreamTokenExpired,
    StreamTokenMismatch,
    StreamTokenReplayed,
    TelephonyError,
)
from voxseal.telephony.signalwire import SignalWireSerializer, connect_stream_cxml
from voxseal.telephony.signatures import (
    SignalWireWebhookVerifier,
    TwilioWebhookVerifier,
    VonageWebhookVerifier,
)
from voxseal.telephony.stream_tokens import InMemoryUsedTokens, StreamTokenIssuer
from voxseal.telephony.twilio import TwilioSerializer, connect_stream_twiml
from voxseal.telephony.vonage import VonageSerializer, connect_websocket_ncco

__all__ = [
    "InMemoryUsedTokens",
    "InvalidSignature",
    "MalformedFrame",
    "MissingSignature",
    "SignalWireSerializer",
    "SignalWireWebhookVerifier",
    "StreamTokenError",
    "StreamTokenExpired",
    "StreamTokenIssuer",
    "StreamTokenMismatch",
    "StreamTokenReplayed",
    "TelephonyError",
    "TwilioSerializer",
    "TwilioWebhookVerifier",
    "VonageSerializer",
    "VonageWebhookVerifier",
    "connect_stream_cxml",
    "connect_stream_twiml",
    "connect_websocket_ncco",
]
