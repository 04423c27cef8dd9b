"""Small aiortc peer-connection helpers shared by endpoints and the SFU (no SFrame here).

* ICE servers default to **none**: aiortc otherwise falls back to Google's public STUN server,
  which leaks call metadata to a third party and stalls gathering where there is no Internet.
  Deployments that need STUN/TURN pass them explicitly.
* Audio is Opus only: encoded frames are produced and consumed as Opus by our own code, so a
  negotiated PCMU/G.722 would make aiortc mis-pack them.
* SDP travels as plain strings: that is what the signaling JSON carries; aiortc's
  ``setLocalDescription`` finishes ICE gathering, so the SDP holds all candidates (no trickle).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
)
from aiortc.sdp import SessionDescription

from voxseal.media.errors import NegotiationFailed

__all__ = ["new_peer_connection", "offered_directions", "prefer_opus", "wait_connected"]


def new_peer_connection(ice_servers: Sequence[RTCIceServer] = ()) -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))


def prefer_opus(transceiver: RTCRtpTransceiver) -> None:
    """Restrict a transceiver's codecs to Opus (set before creating the offer)."""
    caps = RTCRtpReceiver.getCapabilities("audio")
    opus = [c for c in (caps.codecs if caps else []) if c.mimeType.lower() == "audio/opus"]
    transceiver.setCodecPreferences(opus)


def offered_directions(sdp: str) -> dict[str, str]:
    """``{mid: direction}`` for each audio m-line of an offer, as the *offerer* states it."""
    try:
        desc = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises assorted errors on junk
        raise NegotiationFailed(f"unparsable SDP: {type(exc).__name__}") from None
    return {
        m.rtp.muxId: (m.direction or "sendrecv")
        for m in desc.media
        if m.kind == "audio" and m.rtp.muxId
    }


async def wait_connected(pc: RTCPeerConnection, timeout: float = 10.0) -> None:
    """Wait until ICE + DTLS are up; raise :class:`NegotiationFailed` if they fail or time out."""
    if pc.connectionState == "connected":
        return
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_change() -> None:
        if pc.connectionState in ("connected", "failed", "closed") and not done.done():
            done.set_result(pc.connectionState)

    pc.on("connectionstatechange", on_change)
    try:
        state = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise NegotiationFailed(f"peer connection not up after {timeout:.1f} s") from None
    finally:
        pc.remove_listener("connectionstatechange", on_change)
    if state != "connected":
        raise NegotiationFailed(f"peer connection {state}")
