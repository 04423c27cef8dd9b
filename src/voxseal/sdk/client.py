"""An async room client: join over WSS with a join token, and keys handled for you.

    async with await RoomClient.connect("https://localhost:8443", token, ca_file=ca) as room:
        await room.wait_keyed("agent-1")           # E2EE established with that participant
        print(room.safety_number("agent-1").digits)
        frame = room.protect(opus_bytes)            # SFrame ciphertext for the media layer
        pid, opus = room.unprotect(frame_from_them)

Everything that can go wrong says so: a refused token or a full room raises
:class:`JoinRefused` (with the server's reason and close code); a participant whose keys
cannot be opened shows up as an ``e2ee_error`` event and :meth:`wait_keyed` fails — the client
never falls back to clear media, and never hands ciphertext to a decoder as if it were audio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from voxseal.crypto import Identity, RekeyPolicy, SafetyNumber
from voxseal.errors import PermissionDenied, VoxsealError
from voxseal.sdk.key_agreement import DEFAULT_SUITE, E2EEError, KeyAgreement, Outgoing
from voxseal.signaling.protocol import (
    Answer,
    Channel,
    Close,
    E2EECounters,
    IdentityKey,
    Join,
    Joined,
    KeyEpochAnnounced,
    Leave,
    MessageError,
    MessageType,
    Offer,
    ParticipantJoined,
    ParticipantLeft,
    Refusal,
    RelayData,
    RelayedData,
    RelayedE2EE,
    Remove,
    ReportStats,
    decode,
    parse_message,
)
from voxseal.signaling.tls import client_context

if TYPE_CHECKING:
    from voxseal.media.endpoint import MediaEndpoint

log = logging.getLogger("voxseal.sdk")

POLL_INTERVAL = 1.0
EVENT_QUEUE = 1000
#: SFrame metadata (authenticated, not sent) that keeps data messages apart from audio frames
DATA_METADATA = b"voxseal/data/v1"
#: report E2EE receive counters to the gateway every this many polls
STATS_EVERY = 5
#: the events of :meth:`RoomClient.events` that are the client's own, not gateway messages
E2EE_KEY = "e2ee_key"  # a participant's sealed key was installed (from a relayed ``e2ee``)
E2EE_ERROR = "e2ee_error"  # something a participant or the gateway sent was refused
CLOSED = "closed"  # the connection is gone (ends :meth:`RoomClient.events`)


class JoinRefused(VoxsealError):
    """The gateway refused to admit us: ``reason`` is its code, ``close_code`` the WS code."""

    reason = "join_refused"

    def __init__(self, reason: str, detail: str, close_code: int | None = None) -> None:
        self.close_code = close_code
        super().__init__(f"join refused ({reason}): {detail}", reason=reason)


class RoomClosed(VoxsealError):
    reason = "room_closed"

    def __init__(self, close_code: int | None, detail: str) -> None:
        self.close_code = close_code
        super().__init__(f"connection closed ({close_code}): {detail}")


def rtc_url(base: str) -> str:
    """``https://host:port`` (or ``wss://…``, with or without ``/v1/rtc``) → the WSS URL."""
    url = base.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    if not url.startswith("wss://"):
        raise VoxsealError(
            "the gateway URL must be https:// or wss:// (TLS only)", reason="bad_url"
        )
    return url if url.endswith("/v1/rtc") else url + "/v1/rtc"


@dataclass
class Audio:
    """Media options: what to publish, how many participants to hear, where decoded audio goes.

    ``publish`` yields mono int16 PCM at 48 kHz (any chunk size); ``on_audio(identity, pcm)``
    gets 20 ms of decoded audio per remote participant — only ever from frames that decrypted.
    """

    publish: AsyncIterable[np.ndarray] | None = None
    receive_slots: int = 4
    on_audio: Callable[[str, np.ndarray], None] | None = None


class RoomClient:
    def __init__(
        self, ws: ClientConnection, session: KeyAgreement, joined: Mapping[str, Any]
    ) -> None:
        self._ws = ws
        self.session = session
        self.room: str = joined["room"]
        self.me: dict[str, Any] = joined["participant"]
        self.participants: dict[str, dict[str, Any]] = {p["id"]: p for p in joined["participants"]}
        #: bounded: a chatty participant must not grow our memory; the oldest events go first
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=EVENT_QUEUE)
        self._changed = asyncio.Condition()
        self.closed: RoomClosed | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.media: MediaEndpoint | None = None
        self._audio: Audio | None = None
        self._answer: asyncio.Future[str] | None = None
        self.rejected_frames: dict[str, int] = {}

    # -- connecting -----------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str,
        *,
        ca_file: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        identity: Identity | None = None,
        cipher_suite: int = DEFAULT_SUITE,
        policy: RekeyPolicy | None = None,
        audio: Audio | None = None,
        timeout: float = 15.0,
    ) -> RoomClient:
        identity = identity or Identity.generate()
        ctx = ssl_context or client_context(Path(ca_file) if ca_file else None)
        try:
            ws = await asyncio.wait_for(connect(rtc_url(url), ssl=ctx, max_size=1 << 20), timeout)
        except (OSError, InvalidStatus, InvalidURI, TimeoutError) as exc:
            raise JoinRefused("unreachable", f"cannot open {rtc_url(url)}: {exc}") from exc
        doc = base64.b64encode(identity.public.encode()).decode()
        await ws.send(Join(token, IdentityKey(identity.did, doc)).encode())
        try:
            joined = decode(await asyncio.wait_for(ws.recv(), timeout))
            reply = parse_message(joined, Channel.ROOM_SERVER)
            if isinstance(reply, Refusal):
                code = None
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    await asyncio.wait_for(ws.recv(), timeout)
                code = ws.close_code
                raise JoinRefused(reply.reason, reply.detail, code)
            if not isinstance(reply, Joined):
                raise MessageError(f"the gateway answered the join with {reply.type.value!r}")
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            raise JoinRefused("closed", "the gateway closed the connection", code) from exc
        session = KeyAgreement(identity, joined["room"], cipher_suite, policy or RekeyPolicy())
        client = cls(ws, session, joined)
        if audio is not None:
            client._attach_media(audio)
        try:
            await client._send_all(
                session.joined(joined["participant"], joined["participants"], now=time.time())
            )
        except E2EEError:
            await ws.close()
            raise
        client._tasks = [
            asyncio.create_task(client._read(), name="voxseal-sdk-read"),
            asyncio.create_task(client._tick(), name="voxseal-sdk-tick"),
        ]
        if audio is not None:
            try:
                await client._negotiate(audio, timeout)
            except BaseException:
                await client.leave()
                raise
        return client

    # -- media --------------------------------------------------------------------------

    def _attach_media(self, audio: Audio) -> None:
        """One key store for signaling and media: the endpoint shares our Receiver and Sender."""
        from voxseal.media.endpoint import MediaEndpoint

        if audio.publish is not None and "publish" not in self.me["grants"]:
            raise PermissionDenied(
                "this join token has no publish grant", reason="no_publish_grant"
            )
        self._audio = audio
        self.media = MediaEndpoint(
            self.me["id"],
            cipher_suite=self.session.cipher_suite,
            receive_slots=audio.receive_slots,
            on_audio=self._on_audio,
            on_rejected=self._on_rejected,
            receiver=self.session.receiver,
        )
        self.session.on_sender = self.media.use_sender
        self.session.on_participant_key = self.media.add_participant_key
        self.session.on_participant_gone = self.media.remove_participant

    async def _negotiate(self, audio: Audio, timeout: float) -> None:
        assert self.media is not None
        if audio.publish is not None:
            self.media.publish(audio.publish)
        self._answer = asyncio.get_running_loop().create_future()
        offer = await self.media.create_offer()
        await self._ws.send(Offer(offer).encode())
        answer = await asyncio.wait_for(self._answer, timeout)
        await self.media.accept_answer(answer)
        await self.media.wait_connected(timeout)

    def _on_audio(self, participant_id: str, pcm: np.ndarray) -> None:
        if self._audio is not None and self._audio.on_audio is not None:
            who = self.participants.get(participant_id, {}).get("identity", participant_id)
            self._audio.on_audio(who, pcm)

    def _on_rejected(self, rejected: Any) -> None:
        reason = getattr(rejected, "reason", "rejected")
        self.rejected_frames[reason] = self.rejected_frames.get(reason, 0) + 1

    async def media_stats(self) -> Any:
        """Transport and E2EE counters of the media session (None without media)."""
        return await self.media.stats() if self.media is not None else None

    async def __aenter__(self) -> RoomClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.leave()

    # -- what an application uses ---------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self.session.identity

    @property
    def e2ee_state(self) -> dict[str, Any]:
        return self.session.state()

    def participant_id(self, who: str) -> str:
        """A participant id from an id or an identity name."""
        if who in self.participants:
            return who
        for pid, p in self.participants.items():
            if p["identity"] == who:
                return pid
        raise VoxsealError(f"no participant {who!r} in room {self.room!r}", reason="not_in_room")

    def safety_number(self, who: str) -> SafetyNumber:
        return self.session.safety_number(self.participant_id(who))

    def protect(self, frame: bytes, metadata: bytes = b"") -> bytes:
        return self.session.protect(frame, metadata)

    def unprotect(self, frame: bytes, metadata: bytes = b"") -> tuple[str, bytes]:
        return self.session.unprotect(frame, metadata)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Room events as they happen, until the connection closes."""
        while True:
            event = await self._events.get()
            if event["type"] == CLOSED:
                return
            yield event

    async def next_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                event = await self._events.get()
                if event["type"] == kind:
                    return event
                if event["type"] == CLOSED:
                    raise self.closed or RoomClosed(None, "closed")

        return await asyncio.wait_for(wait(), timeout)

    async def wait_keyed(self, who: str, timeout: float = 10.0) -> None:
        """Wait until keys flow both ways with ``who`` (and is in the room)."""

        async def ready() -> None:
            async with self._changed:
                while True:
                    if self.closed:
                        raise self.closed
                    with contextlib.suppress(VoxsealError):
                        if self.session.ready_with(self.participant_id(who)):
                            return
                    await self._changed.wait()

        try:
            await asyncio.wait_for(ready(), timeout)
        except TimeoutError:
            raise E2EEError(
                f"end-to-end encryption with {who!r} was not established within {timeout:.0f}s"
                f" (failures: {list(self.session.failures)[-3:] or 'none'})"
            ) from None

    async def send_data(self, message: dict[str, Any], to: str | None = None) -> None:
        """Send a small JSON message end to end (SFrame under our sender key; the gateway
        relays ciphertext). ``to`` is a participant (id or identity); default: everyone."""
        blob = self.session.protect(json.dumps(message).encode(), DATA_METADATA)
        payload = base64.b64encode(blob).decode()
        targets = [self.participant_id(to)] if to else list(self.participants)
        for pid in targets:
            await self._ws.send(RelayData(pid, payload).encode())

    async def rotate(self) -> None:
        """Start a new sender-key epoch now (e.g. on suspicion of compromise)."""
        await self._send_all(self.session.rotate(now=time.time()))

    async def remove(self, who: str) -> None:
        """Remove a participant (needs the join token's ``admin`` grant)."""
        await self._ws.send(Remove(self.participant_id(who)).encode())

    async def leave(self) -> None:
        still_open = self.closed is None  # the reader's exit below marks us closed
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.media is not None:
            with contextlib.suppress(Exception):
                await self.media.close()
        if still_open:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self._ws.send(Leave().encode())
            self.closed = RoomClosed(Close.NORMAL, "left")
        with contextlib.suppress(Exception):
            await self._ws.close()

    # -- internals ------------------------------------------------------------------------

    async def _send_all(self, out: list[Outgoing]) -> None:
        for o in out:
            await self._ws.send(o.encode())

    async def _notify(self, event: dict[str, Any]) -> None:
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(event)
        async with self._changed:
            self._changed.notify_all()

    async def _e2ee_error(self, participant: str, detail: str) -> None:
        await self._notify({"type": E2EE_ERROR, "participant": participant, "detail": detail})

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    await self._dispatch(decode(raw))
                except ConnectionClosed:
                    raise
                except Exception as exc:  # one hostile message must not end the session
                    log.warning(
                        "dropped a message the client could not handle: %s", type(exc).__name__
                    )
                    await self._notify({"type": E2EE_ERROR, "detail": type(exc).__name__})
        except ConnectionClosed:
            pass
        finally:
            code = self._ws.close_code
            self.closed = self.closed or RoomClosed(code, self._ws.close_reason or "")
            await self._notify({"type": CLOSED, "code": code})

    async def _dispatch(self, msg: Mapping[str, Any]) -> None:
        """One gateway message; ``msg`` (the JSON object) becomes the event applications see."""
        kind: str = msg["type"]
        now = time.time()
        match parse_message(msg, Channel.ROOM_SERVER):
            case ParticipantJoined():
                p = msg["participant"]
                self.participants[p["id"]] = p
                try:
                    await self._send_all(self.session.participant_joined(p, now=now))
                except E2EEError as exc:
                    await self._e2ee_error(p["id"], str(exc))
            case ParticipantLeft(participant_id):
                self.participants.pop(participant_id, None)
                await self._send_all(self.session.participant_left(participant_id, now=now))
            case RelayedE2EE(sender, payload):
                try:
                    self.session.received(sender, payload, now=now)
                except E2EEError as exc:
                    log.warning("refused a sealed key: %s", exc)
                    await self._e2ee_error(sender, str(exc))
                    return
                kind = E2EE_KEY
            case Answer(sdp):
                if self._answer is not None and not self._answer.done():
                    self._answer.set_result(sdp)
            case Refusal(reason, detail) if self._answer is not None and not self._answer.done():
                self._answer.set_exception(JoinRefused(reason, detail))
            case RelayedData(sender, payload):
                try:
                    pid, plain = self.session.unprotect(
                        base64.b64decode(payload, validate=True), DATA_METADATA
                    )
                    data = json.loads(plain)
                except (ValueError, VoxsealError) as exc:
                    await self._e2ee_error(sender, str(exc))
                    return
                who = self.participants.get(pid, {}).get("identity", pid)
                await self._notify({"type": MessageType.DATA.value, "from": who, "data": data})
                return
            case KeyEpochAnnounced(participant_id, epoch):
                p = self.participants.get(participant_id)
                if p is not None:
                    p["key_epoch"] = epoch
        await self._notify({**msg, "type": kind})

    async def _tick(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            ticks += 1
            try:
                await self._send_all(self.session.poll(now=time.time()))
                if self.media is not None and ticks % STATS_EVERY == 0:
                    await self._report_stats()
            except ConnectionClosed:
                return

    async def _report_stats(self) -> None:
        """Tell the gateway our E2EE receive counters: only receivers can see SFrame failures."""
        assert self.media is not None
        r = self.media.receive_stats
        counters = E2EECounters(
            frames_received=r.frames_received,
            frames_decrypted=r.frames_decrypted,
            auth_failures=r.auth_failures,
            replays=r.replays,
            unknown_key=r.unknown_key,
            malformed=r.malformed,
            decode_errors=r.decode_errors,
        )
        await self._ws.send(ReportStats(counters).encode())
