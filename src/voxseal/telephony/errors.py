"""Rejections of the telephony ingress.

Each carries a stable ``reason`` for the audit log, an ``http_status`` for webhooks and a
WebSocket ``close_code`` for media streams, so the edge can answer without inspecting the
message. Messages name what was wrong, never the secret or the token that was presented.
"""

from __future__ import annotations

import re
from typing import Final

from voxseal.errors import VoxsealError

#: RFC 6455 close codes the stream endpoints use
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009

_EVENT_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9:_.-]{0,63}")


class TelephonyError(VoxsealError):
    """Root of the telephony adapters' rejections."""

    reason = "telephony_error"
    http_status = 400
    close_code = CLOSE_POLICY_VIOLATION


class InvalidSignature(TelephonyError):
    """A provider webhook whose signature is missing, malformed or wrong (HTTP 403)."""

    reason = "invalid_signature"
    http_status = 403


class MissingSignature(InvalidSignature):
    reason = "missing_signature"


class MalformedFrame(TelephonyError):
    """A media-stream message that breaks the provider's protocol; the stream is closed."""

    reason = "malformed_frame"
    close_code = CLOSE_INVALID_PAYLOAD


class FrameTooLarge(MalformedFrame):
    close_code = CLOSE_MESSAGE_TOO_BIG


class StreamTokenError(TelephonyError):
    """The media WebSocket's stream token is not acceptable; no audio is taken from it."""

    reason = "invalid_stream_token"
    http_status = 401


class StreamTokenExpired(StreamTokenError):
    reason = "stream_token_expired"


class StreamTokenReplayed(StreamTokenError):
    reason = "stream_token_replayed"


class StreamTokenMismatch(StreamTokenError):
    """A genuine token presented for another provider or another call."""

    reason = "stream_token_mismatch"
    http_status = 403


def unknown_event_name(event: object) -> str:
    """The name of an event a serializer does not know, if it is a plausible one (a short
    identifier); anything else in the ``event`` field makes the frame malformed."""
    if not isinstance(event, str) or not _EVENT_NAME.fullmatch(event):
        raise MalformedFrame("message has no valid event name")
    return event
