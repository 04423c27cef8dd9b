"""Python client for apps and agents: join a room, keys handled, E2EE state visible."""

from voxseal.sdk.client import Audio, JoinRefused, RoomClient, RoomClosed, rtc_url
from voxseal.sdk.e2ee import E2EEError, E2EESession

__all__ = [
    "Audio",
    "E2EEError",
    "E2EESession",
    "JoinRefused",
    "RoomClient",
    "RoomClosed",
    "rtc_url",
]
