"""What the ingress asks of a provider's media-stream serializer (the one per-provider part).

A serializer is sans-I/O: it never touches a socket. :meth:`~ProviderSerializer.parse` takes
one WebSocket message as received and returns one provider-neutral event
(:mod:`voxseal.telephony.events`), raising
:class:`~voxseal.telephony.errors.MalformedFrame` for anything that is not the provider's
protocol; :meth:`~ProviderSerializer.serialize` turns one outbound item into the messages to
send. Adding a provider means writing one class with this shape (and its webhook), as in
Pipecat's ``FrameSerializer`` but without the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voxseal.telephony.events import InboundEvent, OutboundItem

#: one WebSocket message: text (JSON) or binary (raw audio)
WireFrame = str | bytes


class ProviderSerializer(Protocol):
    """One call's media stream in one provider's protocol; stateful (stream id, order,
    resamplers), so one instance per stream."""

    @property
    def provider(self) -> str:
        """The provider's name in rooms, errors and audit events (``twilio``, ``vonage``…)."""
        ...

    def parse(self, frame: WireFrame) -> InboundEvent:
        """One message from the provider → one neutral event, or MalformedFrame."""
        ...

    def serialize(self, item: OutboundItem) -> Sequence[WireFrame]:
        """One neutral item → the messages that carry it (none while a frame fills up).

        Raises :class:`~voxseal.telephony.errors.TelephonyError` (``stream_not_started``)
        when the stream is not open to send to.
        """
        ...


__all__ = ["ProviderSerializer", "WireFrame"]
