"""Typed refusals of the media plane (WebRTC sessions, E2EE state, SFU routing).

They hang off :class:`voxseal.errors.VoxsealError` so the signaling layer maps them to a
``reason`` code and an audit event like every other refusal; messages carry participant ids
and KIDs only, never keys or media.
"""

from __future__ import annotations

from voxseal.errors import NotFound, VoxsealError

__all__ = [
    "E2EENotReady",
    "MediaError",
    "NegotiationFailed",
    "NoReceiveSlot",
    "UnknownParticipant",
]


class MediaError(VoxsealError):
    """Base of every media-plane refusal."""

    reason = "media_error"


class E2EENotReady(MediaError):
    """Publishing was asked for before a sender key exists: we never send clear audio."""

    reason = "e2ee_not_ready"


class NegotiationFailed(MediaError):
    """An SDP offer/answer could not be applied, or DTLS-SRTP did not come up in time."""

    reason = "negotiation_failed"


class UnknownParticipant(NotFound):
    """The SFU has no session for this participant id."""

    reason = "unknown_participant"


class NoReceiveSlot(MediaError):
    """The subscriber offered no free receive slot (recvonly audio m-line) for a new publisher."""

    reason = "no_receive_slot"
    http_status = 409
