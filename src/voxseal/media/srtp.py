"""DTLS-SRTP policy and observation for aiortc peer connections: profile choice, what was
negotiated, and how many SRTP packets failed to authenticate.

aiortc 1.16 negotiates the SRTP protection profile inside ``RTCDtlsTransport`` (use_srtp
extension, RFC 5764) from its module list ``SRTP_PROFILES``, which — when the linked libsrtp has
GCM — is, in order of preference, ``SRTP_AEAD_AES_256_GCM``, ``SRTP_AEAD_AES_128_GCM``,
``SRTP_AES128_CM_SHA1_80``. It has no public API to restrict the list per connection, to read
the selected profile, or to count SRTP authentication failures (it logs them at debug level and
drops the packet). So this module does three small, **per-transport** things instead of patching
aiortc globally:

* :func:`secure_transports` sets the transport's own ``_srtp_profiles`` attribute (read when the
  DTLS handshake starts) to the AEAD subset, so a peer that only offers AES-CM-SHA1 fails the
  handshake instead of silently downgrading;
* it reads the selected profile from the transport's OpenSSL connection
  (``SSL.Connection.get_selected_srtp_profile``) once DTLS is connected; and
* it wraps the transport's inbound ``pylibsrtp.Session`` in a counting proxy the moment DTLS
  reaches ``connected`` (the ``statechange`` event fires before the receive loop starts, so no
  packet is missed), so SRTP authentication and replay failures become a stat.

These touch private attributes of one transport object; :func:`secure_transports` checks they
exist and raises :class:`~voxseal.media.errors.MediaError` if a future aiortc renames them,
rather than failing open. Nothing here knows about SFrame: the SFU uses it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCDtlsTransport

from voxseal.media.errors import MediaError

__all__ = [
    "AEAD_PROFILES",
    "SrtpMonitor",
    "available_profiles",
    "secure_transports",
]

#: the profiles the design accepts, best first (RFC 7714 AEAD; both authenticate with GCM)
AEAD_PROFILES: Final = ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM")


def available_profiles() -> list[str]:
    """What this aiortc + libsrtp build can negotiate, in aiortc's order of preference."""
    return [p.openssl_profile.decode() for p in SRTP_PROFILES]


def _dtls_transports(pc: RTCPeerConnection) -> list[RTCDtlsTransport]:
    seen: dict[int, RTCDtlsTransport] = {}
    for transceiver in pc.getTransceivers():
        for t in (transceiver.receiver.transport, transceiver.sender.transport):
            seen.setdefault(id(t), t)
    return list(seen.values())


class _CountingSession:
    """Proxy for one ``pylibsrtp.Session`` that counts failed unprotects (then re-raises)."""

    __slots__ = ("_inner", "_monitor")

    def __init__(self, inner: pylibsrtp.Session, monitor: SrtpMonitor) -> None:
        self._inner = inner
        self._monitor = monitor

    def unprotect(self, data: bytes) -> bytes:
        try:
            return self._inner.unprotect(data)
        except pylibsrtp.Error:
            self._monitor.rtp_failures += 1
            raise

    def unprotect_rtcp(self, data: bytes) -> bytes:
        try:
            return self._inner.unprotect_rtcp(data)
        except pylibsrtp.Error:
            self._monitor.rtcp_failures += 1
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class SrtpMonitor:
    """What DTLS-SRTP negotiated on one peer connection, and how many packets it refused."""

    profile: str | None = None
    #: SRTP packets that failed authentication or replay checks (dropped by aiortc)
    rtp_failures: int = 0
    #: SRTCP packets that failed authentication or replay checks
    rtcp_failures: int = 0
    dtls_state: str = "new"

    @property
    def aead(self) -> bool:
        return self.profile in AEAD_PROFILES

    def _on_state(self, transport: RTCDtlsTransport) -> None:
        self.dtls_state = transport.state
        if transport.state != "connected":
            return
        ssl = getattr(transport, "_ssl", None)
        if ssl is not None:
            selected = ssl.get_selected_srtp_profile()
            self.profile = selected.decode() if selected else None
        rx = getattr(transport, "_rx_srtp", None)
        if rx is not None and not isinstance(rx, _CountingSession):
            # aiortc declares the attribute as Session; it calls only unprotect/unprotect_rtcp
            # on it, which the proxy has (the rest reaches the session via __getattr__)
            transport._rx_srtp = _CountingSession(rx, self)  # type: ignore[assignment]


def secure_transports(pc: RTCPeerConnection, *, aead_only: bool = True) -> SrtpMonitor:
    """Apply the SRTP policy to every DTLS transport of ``pc`` and start observing them.

    Call it after the remote description is set (BUNDLE may have merged transports) and before
    the next ``await`` — aiortc starts DTLS from a task scheduled by ``setRemoteDescription``,
    so code that runs before yielding to the event loop is guaranteed to run first.
    """
    monitor = SrtpMonitor()
    transports = _dtls_transports(pc)
    if aead_only:
        wanted = [p for p in SRTP_PROFILES if p.openssl_profile.decode() in AEAD_PROFILES]
        if not wanted:
            raise MediaError(
                "this libsrtp build offers no AEAD (AES-GCM) SRTP profile", reason="srtp_no_aead"
            )
    for transport in transports:
        if not hasattr(transport, "_srtp_profiles") or not hasattr(transport, "_rx_srtp"):
            raise MediaError(
                "aiortc's RTCDtlsTransport layout changed; cannot enforce the SRTP policy",
                reason="srtp_policy_unavailable",
            )
        if aead_only:
            transport._srtp_profiles = wanted
        transport.on("statechange", lambda t=transport: monitor._on_state(t))
        monitor._on_state(transport)
    return monitor
