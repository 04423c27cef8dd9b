"""Python client for apps and agents: join a room, keys handled, E2EE state visible."""

from voxseal.sdk.client import Audio, JoinRefused, RoomClient, RoomClosed, rtc_url
from voxseal.sdk.key_agreement import E2EEError, KeyAgreement

__all__ = [
    "Audio",
    "E2EEError",
    "JoinRefused",
    "KeyAgreement",
    "RoomClient",
    "RoomClosed",
    "rtc_url",
]
