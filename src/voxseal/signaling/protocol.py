"""The signaling protocols as data: ``/v1/rtc`` (rooms) and ``/v1/agents`` (agent dispatch).

Sans-I/O, like h11's events: one frozen dataclass per message, :func:`parse_message` that
turns a received JSON text (or an already decoded object) into one of them or refuses it with
a typed :class:`MessageError`, and :meth:`to_json` that gives the JSON object to send. No
socket, no task, no clock inside: the gateway (:mod:`voxseal.signaling.rtc`,
:mod:`voxseal.signaling.agents`), the SDK, the agent worker and the telephony ingress all speak
through this module, and the browser's copy of the names and close codes
(``web/src/protocol.js``) is generated from it (``python -m voxseal.signaling.protocol --js``).

The same ``type`` can mean two messages: ``e2ee`` from a client names its recipient (``to``),
the relayed ``e2ee`` a client receives names its sender (``from``). So a message is always
parsed for a :class:`Channel`: who sent it, on which endpoint.

The parser checks the shape of a message (its type, and the type of each field); the rules
that need state (is that participant in my room, may this worker end that job, is the payload
small enough for the relay) stay with the components that hold the state. A field of the
wrong type is an :class:`InvalidField` (``bad_message`` unless the field says otherwise), on
which a session goes on; an unknown or unparseable message is fatal to a room session.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum, IntEnum, StrEnum
from typing import Any, ClassVar, Literal, Self, TypeAlias, overload

from voxseal.errors import VoxsealError

#: the room protocol's version; a ``join`` with another one is refused
PROTOCOL_VERSION = 1
#: seconds a new connection has to send its ``join`` (or a worker its ``register``)
JOIN_TIMEOUT = 10.0
#: one text frame, at most (uvicorn's ws_max_size bounds the transport at 1 MiB)
MAX_MESSAGE = 64 * 1024
#: the largest count a ``stats`` counter may carry (exact in a JavaScript number)
MAX_COUNT = 2**53


class Close(IntEnum):
    """WebSocket close codes of both endpoints (4000–4999 are the application's)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    INTERNAL_ERROR = 1011
    #: malformed JSON, wrong first message, unknown message, unsupported version
    PROTOCOL_ERROR = 4400
    #: join token (or a worker's API key) missing, invalid, expired or revoked
    UNAUTHENTICATED = 4401
    #: credential valid but not for this (room, identity), or not an agent
    FORBIDDEN = 4403
    #: no ``join`` (``register``) within :data:`JOIN_TIMEOUT`
    JOIN_TIMEOUT = 4408
    #: the same identity joined again elsewhere
    REPLACED = 4409
    #: a room admin removed this participant
    REMOVED = 4410
    TOO_LARGE = 4413
    RATE_LIMITED = 4429
    ROOM_FULL = 4503


class MessageType(StrEnum):
    """Every ``type`` on either endpoint, in either direction."""

    # /v1/rtc, client -> server
    JOIN = "join"
    OFFER = "offer"
    REMOVE = "remove"
    STATS = "stats"
    LEAVE = "leave"
    # /v1/rtc, both directions (different fields each way)
    E2EE = "e2ee"
    DATA = "data"
    KEY_EPOCH = "key_epoch"
    # /v1/rtc, server -> client
    JOINED = "joined"
    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    ANSWER = "answer"
    # /v1/agents, worker -> server
    REGISTER = "register"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ENDED = "ended"
    # /v1/agents, server -> worker
    REGISTERED = "registered"
    DISPATCH = "dispatch"
    # both endpoints
    PING = "ping"
    PONG = "pong"
    ERROR = "error"


class Channel(Enum):
    """Who sent a message, on which endpoint: what :func:`parse_message` expects."""

    ROOM_CLIENT = "a room client, to /v1/rtc"
    ROOM_SERVER = "the gateway, to a room client"
    AGENT_WORKER = "an agent worker, to /v1/agents"
    AGENT_SERVER = "the gateway, to an agent worker"


# -- refusals ---------------------------------------------------------------------------------


class MessageError(VoxsealError):
    """A message that breaks the protocol. Fatal to a room session (close code 4400)."""

    reason = "protocol_error"


class MalformedMessage(MessageError):
    """Not a JSON object with a string ``type``."""


class UnknownMessage(MessageError):
    """A ``type`` this channel does not carry."""

    def __init__(self, kind: str, channel: Channel) -> None:
        self.kind = kind[:32]
        super().__init__(f"unknown message type {self.kind!r}")


class UnsupportedVersion(MessageError):
    """A ``join`` for a protocol version this server does not speak."""


class InvalidField(MessageError):
    """A known message with a field of the wrong type; the session goes on (an ``error``
    reply). ``reason`` is ``bad_message`` unless the field's own refusal is more precise."""

    reason = "bad_message"

    def __init__(self, message: str, *, field: str, reason: str | None = None) -> None:
        self.field = field
        super().__init__(message, reason=reason)


# -- reading fields -----------------------------------------------------------------------------

_ABSENT: Any = object()


class _Fields:
    """One received object's fields, read with the refusal each wrong type deserves."""

    def __init__(self, kind: str, data: Mapping[str, Any]) -> None:
        self.kind = kind
        self.data = data

    def _bad(self, name: str, what: str, reason: str | None) -> InvalidField:
        return InvalidField(f"{self.kind}.{name} must be {what}", field=name, reason=reason)

    def raw(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def string(self, name: str, what: str = "a string", *, reason: str | None = None) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self._bad(name, what, reason)
        return value

    def optional_string(self, name: str, what: str = "a string or null") -> str | None:
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            raise self._bad(name, what, None)
        return value

    def integer(
        self, name: str, what: str = "an integer", *, default: int = _ABSENT, low: int = 0
    ) -> int:
        value = self.data.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self._bad(name, what, None)
        return value

    def mapping(self, name: str, what: str = "an object") -> Mapping[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, Mapping):
            raise self._bad(name, what, None)
        return value

    def array(self, name: str, what: str = "a list") -> list[Any]:
        value = self.data.get(name)
        if not isinstance(value, list):
            raise self._bad(name, what, None)
        return value


def _wire_value(value: Any) -> Any:
    if isinstance(value, _Part):
        return value.to_json()
    if isinstance(value, tuple):
        return [_wire_value(v) for v in value]
    return value


class _Part:
    """A dataclass that maps to a JSON object: fields by name, or by ``wire`` metadata."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        message_type = getattr(self, "type", None)
        if isinstance(message_type, MessageType):
            out["type"] = message_type.value
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.metadata.get("wire", f.name)] = _wire_value(value)
        return out


def _wire(name: str) -> dict[str, str]:
    """Field metadata: its JSON name is ``name`` (``from`` is a keyword, ``id`` says too little)."""
    return {"wire": name}


class Message(_Part):
    """One protocol message: ``type`` names it on the wire."""

    type: ClassVar[MessageType]

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        raise NotImplementedError

    def encode(self) -> str:
        """The compact JSON text to send."""
        return json.dumps(self.to_json(), separators=(",", ":"))


# -- shared parts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityKey(_Part):
    """The public identity a client announces in its ``join`` (checked by the room registry)."""

    did: str | None
    """The ``did:key`` naming the identity key pair; ``None`` when missing or not a string."""
    doc: str | None
    """Base64 of the self-signed public identity (Ed25519 [+ ML-DSA-65] and the KEM key)."""

    @classmethod
    def parse(cls, raw: Any) -> IdentityKey | None:
        if not isinstance(raw, Mapping):
            return None
        did, doc = raw.get("did"), raw.get("doc")
        return cls(did if isinstance(did, str) else None, doc if isinstance(doc, str) else None)


@dataclass(frozen=True)
class ParticipantInfo(_Part):
    """What the gateway tells a room about one participant (all of it public)."""

    id: str
    """The participant id the gateway assigned for this connection (``PA_…``)."""
    index: int
    """Unique among the room's current participants: the low bits of its SFrame KIDs."""
    name: str = field(metadata=_wire("identity"))
    """The participant's name as its join token states it (on the wire: ``identity``)."""
    grants: tuple[str, ...] = ()
    """What its join token allows: ``publish``, ``subscribe``, ``admin``."""
    did: str = ""
    """The ``did:key`` of its identity key pair."""
    identity_doc: str = field(default="", repr=False)
    """Base64 of its self-signed public identity, to check against ``did``."""
    key_epoch: int = 0
    """The last sender-key epoch it announced."""

    @classmethod
    def parse(cls, raw: Any, kind: str) -> ParticipantInfo:
        if not isinstance(raw, Mapping):
            raise InvalidField(f"{kind}: a participant must be an object", field="participant")
        f = _Fields(f"{kind}.participant", raw)
        grants = f.array("grants", "a list of grant names")
        if not all(isinstance(g, str) for g in grants):
            raise InvalidField(f"{kind}.participant.grants must be names", field="grants")
        return cls(
            f.string("id"),
            f.integer("index"),
            f.string("identity"),
            tuple(grants),
            f.string("did"),
            f.string("identity_doc"),
            f.integer("key_epoch", default=0),
        )


@dataclass(frozen=True)
class E2EECounters(_Part):
    """An endpoint's SFrame receive counters: only receivers can see SFrame failures."""

    frames_received: int = 0
    """Media frames that arrived for decryption."""
    frames_decrypted: int = 0
    """Frames that authenticated and decrypted."""
    auth_failures: int = 0
    """Frames whose SFrame tag did not verify (tampering, or a wrong key)."""
    replays: int = 0
    """Frames refused by the replay window."""
    unknown_key: int = 0
    """Frames under a KID we hold no key for."""
    malformed: int = 0
    """Frames without a valid SFrame header."""
    decode_errors: int = 0
    """Frames that decrypted but did not decode as audio."""

    @classmethod
    def parse(cls, raw: Any) -> E2EECounters:
        if not isinstance(raw, Mapping):
            raise InvalidField("stats.e2ee must be an object of counters", field="e2ee")
        counts = {}
        for f in fields(cls):
            value = raw.get(f.name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_COUNT:
                raise InvalidField(f"stats.e2ee.{f.name} must be a count", field=f.name)
            counts[f.name] = value
        return cls(**counts)


# -- /v1/rtc, client -> server ----------------------------------------------------------------


@dataclass(frozen=True)
class Join(Message):
    """The first message on ``/v1/rtc``: who we are, and the token that admits us."""

    type: ClassVar[MessageType] = MessageType.JOIN
    token: str | None = field(default=None, repr=False, metadata={"omit_none": True})
    """The join token (a bearer credential); ``None`` when it came as ``?token=`` instead."""
    identity_key: IdentityKey | None = None
    """Our public identity, announced to the room; the registry refuses a missing one."""
    protocol: int = PROTOCOL_VERSION
    """The protocol version the client speaks (only :data:`PROTOCOL_VERSION`)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        version = data.raw("protocol", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            raise UnsupportedVersion(
                f"unsupported protocol version; this server speaks {PROTOCOL_VERSION}"
            )
        token = data.raw("token")
        # anything but a token string counts as none: the ?token= fallback or missing_token
        return cls(
            token if isinstance(token, str) and token else None,
            IdentityKey.parse(data.raw("identity_key")),
            PROTOCOL_VERSION,
        )


@dataclass(frozen=True)
class RelayE2EE(Message):
    """A sealed sender-key bundle for one participant, for the gateway to relay unread."""

    type: ClassVar[MessageType] = MessageType.E2EE
    to: str
    """The recipient's participant id (of the sender's room)."""
    payload: str = field(repr=False)
    """Base64 of the sealed bundle: opaque to the gateway."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("to", "a participant id"), data.string("payload"))


@dataclass(frozen=True)
class RelayData(Message):
    """An SFrame-protected application message (e.g. a redacted transcript) for one
    participant: ciphertext to the gateway, like :class:`RelayE2EE`."""

    type: ClassVar[MessageType] = MessageType.DATA
    to: str
    """The recipient's participant id (of the sender's room)."""
    payload: str = field(repr=False)
    """Base64 of the SFrame ciphertext (metadata ``voxseal/data/v1``)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        # the relay's own wording: it checks both kinds alike
        return cls(
            _Fields(MessageType.E2EE, data.data).string("to", "a participant id"),
            _Fields(MessageType.E2EE, data.data).string("payload"),
        )


@dataclass(frozen=True)
class AnnounceKeyEpoch(Message):
    """We started a new sender-key epoch (after a leave, on a timer, …)."""

    type: ClassVar[MessageType] = MessageType.KEY_EPOCH
    epoch: int
    """The new epoch: only ever forward (the registry refuses a stale one)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.integer("epoch"))


@dataclass(frozen=True)
class Remove(Message):
    """A room admin removes another participant (needs the ``admin`` grant)."""

    type: ClassVar[MessageType] = MessageType.REMOVE
    participant_id: str = field(metadata=_wire("participant"))
    """The participant id to remove (on the wire: ``participant``)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("participant", "a participant of your room", reason="not_in_room"))


@dataclass(frozen=True)
class Offer(Message):
    """The client's SDP offer: its DTLS-SRTP session terminates at the room's SFU."""

    type: ClassVar[MessageType] = MessageType.OFFER
    sdp: str = field(repr=False)
    """The whole offer, every ICE candidate in it (no trickle ICE)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("sdp", "an SDP string"))


@dataclass(frozen=True)
class ReportStats(Message):
    """The client's E2EE receive counters, for monitoring (counts only)."""

    type: ClassVar[MessageType] = MessageType.STATS
    e2ee: E2EECounters
    """The counters; a missing one counts as 0, unknown ones are ignored."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(E2EECounters.parse(data.raw("e2ee")))


@dataclass(frozen=True)
class Ping(Message):
    """Are you there? Answered by :class:`Pong` (on both endpoints)."""

    type: ClassVar[MessageType] = MessageType.PING
    t: Any = None
    """Anything JSON (a timestamp, say): echoed back in the pong."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.raw("t"))


@dataclass(frozen=True)
class Leave(Message):
    """We are leaving: the server closes with :attr:`Close.NORMAL` and the room rekeys."""

    type: ClassVar[MessageType] = MessageType.LEAVE

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls()


# -- /v1/rtc, server -> client ----------------------------------------------------------------


@dataclass(frozen=True)
class Joined(Message):
    """Admitted: always the first message the gateway sends a new participant."""

    type: ClassVar[MessageType] = MessageType.JOINED
    participant: ParticipantInfo
    """Ourselves, as the room sees us (our participant id and KID index)."""
    room: str
    """The room's name."""
    participants: tuple[ParticipantInfo, ...]
    """Everyone already there (not us)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(
            ParticipantInfo.parse(data.raw("participant"), data.kind),
            data.string("room"),
            tuple(ParticipantInfo.parse(p, data.kind) for p in data.array("participants")),
        )


@dataclass(frozen=True)
class ParticipantJoined(Message):
    """Someone joined our room: send them our sender key if our policy admits them."""

    type: ClassVar[MessageType] = MessageType.PARTICIPANT_JOINED
    participant: ParticipantInfo
    """The newcomer, announced with its ``did:key``."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(ParticipantInfo.parse(data.raw("participant"), data.kind))


@dataclass(frozen=True)
class ParticipantLeft(Message):
    """Someone left (or was removed or replaced): forget its keys and rekey."""

    type: ClassVar[MessageType] = MessageType.PARTICIPANT_LEFT
    participant_id: str = field(metadata=_wire("id"))
    """The leaver's participant id (on the wire: ``id``)."""
    reason: str = "left"
    """``left``, ``disconnected``, ``removed`` or ``replaced``."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("id"), data.string("reason"))


@dataclass(frozen=True)
class RelayedE2EE(Message):
    """A sealed sender-key bundle from another participant, relayed unread."""

    type: ClassVar[MessageType] = MessageType.E2EE
    sender: str = field(metadata=_wire("from"))
    """The sender's participant id, as the gateway saw it (on the wire: ``from``)."""
    payload: str = field(repr=False)
    """Base64 of the sealed bundle."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("from"), data.string("payload"))


@dataclass(frozen=True)
class RelayedData(Message):
    """An SFrame-protected application message from another participant, relayed unread."""

    type: ClassVar[MessageType] = MessageType.DATA
    sender: str = field(metadata=_wire("from"))
    """The sender's participant id, as the gateway saw it (on the wire: ``from``)."""
    payload: str = field(repr=False)
    """Base64 of the SFrame ciphertext."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("from"), data.string("payload"))


@dataclass(frozen=True)
class KeyEpochAnnounced(Message):
    """Another participant started a new sender-key epoch."""

    type: ClassVar[MessageType] = MessageType.KEY_EPOCH
    participant_id: str = field(metadata=_wire("id"))
    """Who (on the wire: ``id``)."""
    epoch: int
    """Its new epoch."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("id"), data.integer("epoch"))


@dataclass(frozen=True)
class Answer(Message):
    """The SFU's SDP answer to our :class:`Offer`."""

    type: ClassVar[MessageType] = MessageType.ANSWER
    sdp: str = field(repr=False)
    """The whole answer."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("sdp"))


@dataclass(frozen=True)
class Pong(Message):
    """The answer to a :class:`Ping` (on both endpoints)."""

    type: ClassVar[MessageType] = MessageType.PONG
    t: Any = None
    """The ping's ``t``, echoed."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.raw("t"))


@dataclass(frozen=True)
class Refusal(Message):
    """A refused message (the session goes on), or why the close that follows happens."""

    type: ClassVar[MessageType] = MessageType.ERROR
    reason: str
    """A stable reason code (``not_in_room``, ``bad_message``, ``token_expired``, …)."""
    detail: str = ""
    """Human text; never a secret."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        detail = data.raw("detail", "")
        return cls(data.string("reason"), detail if isinstance(detail, str) else "")


# -- /v1/agents, worker -> server ---------------------------------------------------------------


@dataclass(frozen=True)
class Register(Message):
    """The first message on ``/v1/agents``: an agent service account's API key."""

    type: ClassVar[MessageType] = MessageType.REGISTER
    api_key: str = field(repr=False)
    """The service account's API key (a secret)."""
    name: str | None = field(default=None, metadata={"omit_none": True})
    """The worker's name (1..64 printable characters); default: the account's name."""
    capacity: int = 1
    """How many calls at once (1..256)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(
            data.string("api_key", "an API key"),
            data.optional_string("name", "1..64 printable characters"),
            data.integer("capacity", "1..256 concurrent calls", default=1),
        )


@dataclass(frozen=True)
class Accepted(Message):
    """The worker took the job: the call is running."""

    type: ClassVar[MessageType] = MessageType.ACCEPTED
    job: str
    """The job id from its :class:`Dispatch`."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("job", "a job id"))


@dataclass(frozen=True)
class Rejected(Message):
    """The worker declined the job (full, or the call failed to start): try another."""

    type: ClassVar[MessageType] = MessageType.REJECTED
    job: str
    """The job id from its :class:`Dispatch`."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("job", "a job id"))


@dataclass(frozen=True)
class Ended(Message):
    """The worker's call ended."""

    type: ClassVar[MessageType] = MessageType.ENDED
    job: str
    """The job id from its :class:`Dispatch`."""
    reason: str = "ended"
    """Why, as a short code (``room_empty``, ``nobody_came``, ``worker_stopped``, …)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        reason = data.string("reason") if "reason" in data.data else "ended"
        return cls(data.string("job", "a job id"), reason)


# -- /v1/agents, server -> worker ---------------------------------------------------------------


@dataclass(frozen=True)
class Registered(Message):
    """The worker is registered; jobs follow as :class:`Dispatch` messages."""

    type: ClassVar[MessageType] = MessageType.REGISTERED
    worker: str
    """The worker id the gateway assigned (``AW_…``)."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(data.string("worker"))


@dataclass(frozen=True)
class Dispatch(Message):
    """A call for this worker: join ``room`` with ``token``, then say accepted or rejected."""

    type: ClassVar[MessageType] = MessageType.DISPATCH
    job: str
    """The job id (``AJ_…``)."""
    room: str
    """The room to join."""
    subject_id: str | None
    """The caller's data subject (for consent and the vault), if the room has one."""
    token: str = field(repr=False)
    """A fresh, short-lived join token minted for this worker: its only credential here."""

    @classmethod
    def parse(cls, data: _Fields) -> Self:
        return cls(
            data.string("job"),
            data.string("room"),
            data.optional_string("subject_id"),
            data.string("token"),
        )


RoomClientMessage: TypeAlias = (
    Join | RelayE2EE | RelayData | AnnounceKeyEpoch | Remove | Offer | ReportStats | Ping | Leave
)
RoomServerMessage: TypeAlias = (
    Joined
    | ParticipantJoined
    | ParticipantLeft
    | RelayedE2EE
    | RelayedData
    | KeyEpochAnnounced
    | Answer
    | Pong
    | Refusal
)
AgentWorkerMessage: TypeAlias = Register | Accepted | Rejected | Ended | Ping
AgentServerMessage: TypeAlias = Registered | Dispatch | Pong | Refusal

#: which messages each channel carries
CHANNELS: dict[Channel, tuple[type[Message], ...]] = {
    Channel.ROOM_CLIENT: (
        Join,
        RelayE2EE,
        RelayData,
        AnnounceKeyEpoch,
        Remove,
        Offer,
        ReportStats,
        Ping,
        Leave,
    ),
    Channel.ROOM_SERVER: (
        Joined,
        ParticipantJoined,
        ParticipantLeft,
        RelayedE2EE,
        RelayedData,
        KeyEpochAnnounced,
        Answer,
        Pong,
        Refusal,
    ),
    Channel.AGENT_WORKER: (Register, Accepted, Rejected, Ended, Ping),
    Channel.AGENT_SERVER: (Registered, Dispatch, Pong, Refusal),
}
_BY_TYPE: dict[Channel, dict[str, type[Message]]] = {
    channel: {m.type.value: m for m in messages} for channel, messages in CHANNELS.items()
}


def decode(data: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """A received frame as a JSON object with a string ``type`` (else :class:`MalformedMessage`)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedMessage("message is not JSON") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise MalformedMessage("message must be a JSON object with a string 'type'")
    return data


@overload
def parse_message(
    data: str | bytes | Mapping[str, Any], channel: Literal[Channel.ROOM_CLIENT]
) -> RoomClientMessage: ...
@overload
def parse_message(
    data: str | bytes | Mapping[str, Any], channel: Literal[Channel.ROOM_SERVER]
) -> RoomServerMessage: ...
@overload
def parse_message(
    data: str | bytes | Mapping[str, Any], channel: Literal[Channel.AGENT_WORKER]
) -> AgentWorkerMessage: ...
@overload
def parse_message(
    data: str | bytes | Mapping[str, Any], channel: Literal[Channel.AGENT_SERVER]
) -> AgentServerMessage: ...
def parse_message(data: str | bytes | Mapping[str, Any], channel: Channel) -> Message:
    """One received message, typed; refuses what ``channel`` does not carry, or carries
    malformed, with a :class:`MessageError` (see the module docstring for which is which)."""
    obj = decode(data)
    kind: str = obj["type"]
    cls = _BY_TYPE[channel].get(kind)
    if cls is None:
        raise UnknownMessage(kind, channel)
    return cls.parse(_Fields(kind, obj))


# -- the browser's copy -------------------------------------------------------------------------

JS_MODULE = "web/src/protocol.js"


def javascript_module() -> str:
    """``web/src/protocol.js``: the message types and close codes for the browser."""
    lines = [
        "// Generated by `python -m voxseal.signaling.protocol --js` from",
        "// src/voxseal/signaling/protocol.py: do not edit (tests/web checks it is current).",
        "",
        "/** The room protocol's version (the `protocol` field of `join`). */",
        f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};",
        "",
        "/** Every message `type`, on /v1/rtc and /v1/agents. */",
        "export const MessageType = Object.freeze({",
        *(f"  {m.name}: {json.dumps(m.value)}," for m in MessageType),
        "});",
        "",
        "/** WebSocket close codes (4000-4999 are the application's). */",
        "export const Close = Object.freeze({",
        *(f"  {c.name}: {c.value}," for c in Close),
        "});",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv != ["--js"]:
        print("usage: python -m voxseal.signaling.protocol --js > " + JS_MODULE, file=sys.stderr)
        return 2
    sys.stdout.write(javascript_module())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
