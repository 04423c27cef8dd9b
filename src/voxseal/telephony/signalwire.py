"""SignalWire: its Twilio-compatible cXML and media-stream protocol, with its own signature.

SignalWire's compatibility API answers a voice webhook with cXML, which for a stream is the
same ``<Response><Connect><Stream>`` document as TwiML, and its media WebSocket speaks the
Twilio Media Streams events (``connected``, ``start``, ``media`` as base64 μ-law 8 kHz,
``dtmf``, ``mark``, ``stop``; ``media``/``mark``/``clear`` back). So the Twilio serializer and
builder are reused as they are; what differs is the webhook signature, which SignalWire puts
in ``X-SignalWire-Signature`` keyed by the project's signing key
(:class:`~voxseal.telephony.signatures.SignalWireWebhookVerifier`), and the ids, which are
UUIDs rather than ``CA…``/``MZ…`` SIDs (the parser does not assume a SID shape).
"""

from __future__ import annotations

from collections.abc import Mapping

from voxseal.telephony.signatures import SignalWireWebhookVerifier
from voxseal.telephony.twilio import TwilioSerializer, connect_stream_twiml

__all__ = ["SignalWireSerializer", "SignalWireWebhookVerifier", "connect_stream_cxml"]


class SignalWireSerializer(TwilioSerializer):
    """A SignalWire media stream: the Twilio protocol under SignalWire's name (which appears
    in errors and audit events, so a refusal says which provider sent the frame)."""

    provider = "signalwire"


def connect_stream_cxml(
    stream_url: str,
    parameters: Mapping[str, str] | None = None,
    *,
    status_callback: str | None = None,
) -> str:
    """cXML ``<Connect><Stream>`` for a bidirectional stream, the token as a ``<Parameter>``."""
    return connect_stream_twiml(stream_url, parameters, status_callback=status_callback)
