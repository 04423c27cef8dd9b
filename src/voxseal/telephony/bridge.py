"""One phone call bridged into a voxseal room: the I/O shell around :class:`CallAudio`.

The bridge joins the call's room through the SDK like any endpoint — its own identity key,
sealed SFrame sender keys, DTLS-SRTP — so the gateway and its SFU relay only ciphertext. The
phone leg itself cannot be end to end (the carrier decodes it); that is why this process lives
in the agent zone, not in the gateway.

Everything the call *decides* — the jitter buffer, when an agent utterance ends and gets its
mark, barge-in — is :class:`~voxseal.telephony.call_audio.CallAudio`, which owns no socket,
task or clock. This module is the shell around it, as aioquic's ``asyncio/protocol.py`` is
around ``QuicConnection``: it feeds CallAudio the stream's provider-neutral events, the room's
audio and the published track's pace, reads the clock for it, and turns what it returns into
the provider's messages (through the stream's serializer) on one ordered send queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, TypedDict

import numpy as np

from voxseal.sdk.client import Audio, RoomClient
from voxseal.telephony.call_audio import CallAudio
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.events import FlushAudio, InboundEvent, OutboundItem, PlayAudio
from voxseal.telephony.ingress import Ingress, room_for
from voxseal.telephony.serializer import ProviderSerializer, WireFrame

log = logging.getLogger("voxseal.telephony")

#: joining the room (HTTPS, WSS, keys, DTLS-SRTP) must finish within this
JOIN_TIMEOUT: Final = 20.0


class CallCounters(TypedDict):
    """A call's end-of-call counters, as the ``telephony.stream.end`` event carries them."""

    frames_in: int
    frames_out: int
    marks_sent: int
    marks_played: int
    barge_ins: int
    dtmf_digits: int


class CallBridge:
    """One call: joins the room, pumps audio both ways, ends with the stream or the room."""

    def __init__(
        self,
        ingress: Ingress,
        serializer: ProviderSerializer,
        send: Callable[[WireFrame], Awaitable[None]],
        *,
        call_id: str,
        subject_id: str | None,
        on_room_closed: Callable[[str], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ingress = ingress
        self.serializer = serializer
        self._send = send
        self.call_id = call_id
        self.subject_id = subject_id
        self.room_name = room_for(serializer.provider, call_id)
        self.identity = f"phone:{serializer.provider}"
        self._on_room_closed = on_room_closed
        self._clock = clock
        self.audio = CallAudio(started_at=clock())
        self.room: RoomClient | None = None
        self.job: str | None = None
        self._closed = False
        self._out: asyncio.Queue[WireFrame | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        #: provider audio messages queued for the caller (for the end-of-call audit event)
        self.frames_out = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Ask for the agent, mint our join token, join with E2EE (raises on failure)."""
        access = self.ingress.access
        self.job = await access.request_agent(self.room_name, self.subject_id)
        token = await access.join_token(self.room_name, self.identity)
        self.room = await RoomClient.connect(
            access.url,
            token,
            ca_file=self.ingress.ca_file,
            audio=Audio(publish=self._frames(), receive_slots=2, on_audio=self._on_room_audio),
            timeout=JOIN_TIMEOUT,
        )
        self._tasks = [
            asyncio.create_task(self._pump_out(), name=f"telephony-out-{self.call_id}"),
            asyncio.create_task(self._watch_room(), name=f"telephony-room-{self.call_id}"),
        ]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._out.put_nowait(None)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            if task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.room is not None:
            with contextlib.suppress(Exception):
                await self.room.leave()

    async def _watch_room(self) -> None:
        assert self.room is not None
        async for _ in self.room.events():
            pass
        if not self._closed and self._on_room_closed is not None:
            closed = self.room.closed
            await self._on_room_closed(f"room closed ({closed.close_code if closed else None})")

    # -- caller → room --------------------------------------------------------------------

    def receive(self, event: InboundEvent) -> None:
        """One provider-neutral event of the caller's stream, at the clock's time now.

        Raises :class:`TelephonyError` (``stream_flood``) as :meth:`CallAudio.receive` does.
        """
        self._emit(self.audio.receive(event, self._clock()))

    async def _frames(self) -> AsyncIterator[np.ndarray]:
        """The published track's source, paced by the track: CallAudio's jitter buffer."""
        while not self._closed:
            yield self.audio.next_room_frame()
            await asyncio.sleep(0)

    # -- room → caller --------------------------------------------------------------------

    def _on_room_audio(self, identity: str, pcm: np.ndarray) -> None:
        if not self._closed:
            self._emit(self.audio.room_audio(identity, pcm))

    def _emit(self, items: list[OutboundItem]) -> None:
        """Serialize CallAudio's items in order onto the send queue."""
        for item in items:
            try:
                frames = self.serializer.serialize(item)
            except TelephonyError:
                # the stream stopped (CallAudio has the event): nothing more can be sent
                log.debug("%s stream closed: dropping %s", self.serializer.provider, item)
                continue
            if isinstance(item, PlayAudio | FlushAudio):
                self.frames_out += len(frames)
            for frame in frames:
                self._out.put_nowait(frame)

    async def _pump_out(self) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                return
            try:
                await self._send(frame)
            except Exception:  # the provider hung up; the stream handler ends the call
                return

    def summary(self) -> CallCounters:
        counters = self.audio.summary()
        return {
            "frames_in": counters["frames_in"],
            "frames_out": self.frames_out,
            "marks_sent": counters["marks_sent"],
            "marks_played": counters["marks_played"],
            "barge_ins": counters["barge_ins"],
            "dtmf_digits": counters["dtmf_digits"],
        }


__all__ = ["JOIN_TIMEOUT", "CallBridge", "CallCounters"]
