"""The room and dispatch protocols as data: every message parses, serialises back to the same
JSON, and anything unknown or malformed is refused with the typed error the server maps to its
close code or ``error`` reply."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from voxseal.crypto import Identity
from voxseal.errors import VoxsealError
from voxseal.media.rooms import Grants, LeaveReason, RoomRegistry
from voxseal.signaling.protocol import (
    CHANNELS,
    Channel,
    Close,
    E2EECounters,
    IdentityKey,
    InvalidField,
    Join,
    Joined,
    KeyEpochAnnounced,
    MalformedMessage,
    MessageError,
    MessageType,
    ParticipantJoined,
    ParticipantLeft,
    Register,
    RelayE2EE,
    RelayedE2EE,
    Remove,
    ReportStats,
    UnknownMessage,
    UnsupportedVersion,
    parse_message,
)

DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

#: one well-formed example of every message, as it travels
EXAMPLES: dict[Channel, list[dict[str, Any]]] = {
    Channel.ROOM_CLIENT: [
        {"type": "join", "token": "t", "identity_key": {"did": DID, "doc": "AA=="}, "protocol": 1},
        {"type": "e2ee", "to": "PA_2", "payload": "c2VhbGVk"},
        {"type": "data", "to": "PA_2", "payload": "ZGF0YQ=="},
        {"type": "key_epoch", "epoch": 3},
        {"type": "remove", "participant": "PA_2"},
        {"type": "offer", "sdp": "v=0"},
        {"type": "stats", "e2ee": {f: 1 for f in E2EECounters.__dataclass_fields__}},
        {"type": "ping", "t": 1.5},
        {"type": "leave"},
    ],
    Channel.ROOM_SERVER: [
        {"type": "e2ee", "from": "PA_1", "payload": "c2VhbGVk"},
        {"type": "data", "from": "PA_1", "payload": "ZGF0YQ=="},
        {"type": "key_epoch", "id": "PA_1", "epoch": 2},
        {"type": "participant_left", "id": "PA_1", "reason": "left"},
        {"type": "answer", "sdp": "v=0"},
        {"type": "pong", "t": 1.5},
        {"type": "error", "reason": "not_in_room", "detail": "no such participant"},
    ],
    Channel.AGENT_WORKER: [
        {"type": "register", "api_key": "k", "name": "w1", "capacity": 2},
        {"type": "accepted", "job": "AJ_1"},
        {"type": "rejected", "job": "AJ_1"},
        {"type": "ended", "job": "AJ_1", "reason": "room_empty"},
        {"type": "ping", "t": None},
    ],
    Channel.AGENT_SERVER: [
        {"type": "registered", "worker": "AW_1"},
        {"type": "dispatch", "job": "AJ_1", "room": "r", "subject_id": None, "token": "t"},
        {"type": "pong", "t": None},
        {"type": "error", "reason": "protocol_error", "detail": "x"},
    ],
}


@pytest.mark.parametrize(
    ("channel", "wire"), [(c, m) for c, ms in EXAMPLES.items() for m in ms], ids=repr
)
def test_every_message_round_trips(channel: Channel, wire: dict[str, Any]) -> None:
    message = parse_message(wire, channel)
    assert message.type == wire["type"]
    assert message.to_json() == wire
    assert parse_message(message.encode(), channel) == message


def test_every_message_of_every_channel_has_an_example() -> None:
    for channel, messages in CHANNELS.items():
        covered = {m["type"] for m in EXAMPLES[channel]}
        if channel is Channel.ROOM_SERVER:
            covered |= {"joined", "participant_joined"}  # below, from the real registry
        assert covered == {m.type.value for m in messages}, channel
    assert {m.type for ms in CHANNELS.values() for m in ms} == set(MessageType)


def test_what_the_room_registry_sends_parses_and_round_trips() -> None:
    """media.rooms (below signaling) builds its messages as dicts: they must be the protocol's."""
    reg = RoomRegistry()
    sent = []
    ids = []
    for name in ("caller", "agent"):
        ident = Identity.generate()
        doc = base64.b64encode(ident.public.encode()).decode()
        me, deliveries, _ = reg.join("r", name, Grants(True, True, True), ident.did, doc, now=0)
        ids.append(me.id)
        sent += deliveries
    sent += reg.announce_epoch(ids[0], 1)
    sent.append(reg.relay_e2ee(ids[0], ids[1], "c2VhbGVk"))
    sent.append(reg.relay_e2ee(ids[0], ids[1], "ZGF0YQ==", "data"))
    sent += reg.leave(ids[1], LeaveReason.DISCONNECTED)
    kinds = set()
    for d in sent:
        message = parse_message(d.message, Channel.ROOM_SERVER)
        assert message.to_json() == d.message
        kinds.add(type(message))
    assert {Joined, ParticipantJoined, KeyEpochAnnounced, RelayedE2EE, ParticipantLeft} <= kinds
    joined = next(parse_message(d.message, Channel.ROOM_SERVER) for d in sent)
    assert isinstance(joined, Joined) and joined.participant.name == "caller"


def test_the_same_type_means_what_the_channel_says() -> None:
    relay = parse_message({"type": "e2ee", "to": "PA_2", "payload": "x"}, Channel.ROOM_CLIENT)
    relayed = parse_message({"type": "e2ee", "from": "PA_1", "payload": "x"}, Channel.ROOM_SERVER)
    assert isinstance(relay, RelayE2EE) and relay.to == "PA_2"
    assert isinstance(relayed, RelayedE2EE) and relayed.sender == "PA_1"
    with pytest.raises(UnknownMessage, match="'joined'"):
        parse_message({"type": "joined"}, Channel.ROOM_CLIENT)
    with pytest.raises(UnknownMessage, match="'register'"):
        parse_message({"type": "register", "api_key": "k"}, Channel.ROOM_CLIENT)


@pytest.mark.parametrize(
    "frame", ["{not json", b"\xff\xfe", "[1, 2]", '{"type": 7}', '{"no": "type"}', "null"]
)
def test_what_is_not_a_message_is_malformed(frame: str | bytes) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_message(frame, Channel.ROOM_CLIENT)
    assert info.value.reason == "protocol_error"


@pytest.mark.parametrize(
    ("wire", "field", "reason"),
    [
        ({"type": "e2ee", "to": 5, "payload": "x"}, "to", "bad_message"),
        ({"type": "e2ee", "to": "PA_2"}, "payload", "bad_message"),
        ({"type": "data", "to": None, "payload": "x"}, "to", "bad_message"),
        ({"type": "key_epoch", "epoch": "3"}, "epoch", "bad_message"),
        ({"type": "key_epoch", "epoch": True}, "epoch", "bad_message"),
        ({"type": "key_epoch", "epoch": -1}, "epoch", "bad_message"),
        ({"type": "remove", "participant": 7}, "participant", "not_in_room"),
        ({"type": "offer", "sdp": None}, "sdp", "bad_message"),
        ({"type": "stats", "e2ee": [1]}, "e2ee", "bad_message"),
        ({"type": "stats", "e2ee": {"replays": -1}}, "replays", "bad_message"),
        ({"type": "stats", "e2ee": {"replays": 2**53}}, "replays", "bad_message"),
        ({"type": "stats", "e2ee": {"malformed": False}}, "malformed", "bad_message"),
    ],
)
def test_a_field_of_the_wrong_type_is_an_invalid_field(
    wire: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidField) as info:
        parse_message(wire, Channel.ROOM_CLIENT)
    assert (info.value.field, info.value.reason) == (field, reason)
    assert isinstance(info.value, MessageError) and isinstance(info.value, VoxsealError)


def test_join_leaves_the_token_and_identity_checks_to_the_gateway() -> None:
    """The gateway's order of refusals (version, token, identity key) stays the gateway's."""
    bare = parse_message({"type": "join"}, Channel.ROOM_CLIENT)
    assert bare == Join(None, None, 1)
    odd = parse_message(
        {"type": "join", "token": "", "identity_key": {"did": 1, "doc": "d"}}, Channel.ROOM_CLIENT
    )
    assert odd == Join(None, IdentityKey(None, "d"))
    assert parse_message({"type": "join", "identity_key": "x"}, Channel.ROOM_CLIENT) == bare
    for version in (2, "1", True, None):
        with pytest.raises(UnsupportedVersion):
            parse_message({"type": "join", "protocol": version}, Channel.ROOM_CLIENT)


def test_stats_counters_default_to_zero_and_ignore_unknown_names() -> None:
    stats = parse_message(
        {"type": "stats", "e2ee": {"replays": 4, "future_counter": "x"}}, Channel.ROOM_CLIENT
    )
    assert stats == ReportStats(E2EECounters(replays=4))


def test_secrets_stay_out_of_reprs() -> None:
    for message in (
        Join("eyJ.secret-token.x", None),
        Register("vx_secret-api-key"),
        parse_message(
            EXAMPLES[Channel.AGENT_SERVER][1] | {"token": "secret-t"}, Channel.AGENT_SERVER
        ),
    ):
        assert "secret" not in repr(message)
    assert "secret" not in repr(Remove("PA_1")) + repr(ParticipantLeft("PA_1", "left"))


def test_close_codes_are_one_enum() -> None:
    assert Close.PROTOCOL_ERROR == 4400 and Close(4503) is Close.ROOM_FULL
    assert len({c.value for c in Close}) == len(Close)
