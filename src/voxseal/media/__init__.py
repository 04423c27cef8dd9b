"""Rooms, WebRTC endpoints and the SFU that forwards encrypted frames."""
