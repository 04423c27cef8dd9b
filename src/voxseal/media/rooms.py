"""Rooms and participants: who is admitted where, with which grants, and who may talk to whom.

Sans-I/O, like the rest of the protocol cores: methods take facts (a verified join token, a
message) and return :class:`Delivery` objects naming which participant gets which message; the
WebSocket layer only sends them. The gateway relays E2EE payloads (sealed sender keys) as
opaque bytes: this module checks who may send to whom and how big, never what is inside.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voxseal.errors import InvalidInput, NotFound, PermissionDenied, VoxsealError

#: bound on one opaque E2EE payload (a sealed sender-key bundle is ~1.2 KiB; ML-DSA adds ~3.3 KiB)
MAX_E2EE_PAYLOAD = 16 * 1024
#: bound on an identity document a participant announces (did:key + KEM key + signatures), in
#: base64 characters: a hybrid Ed25519 + ML-DSA-65 one is 8768 (6575 bytes), the largest we make
MAX_IDENTITY_DOC = 12 * 1024
DEFAULT_MAX_PARTICIPANTS = 16

_DID = re.compile(r"^did:key:z[1-9A-HJ-NP-Za-km-z]{20,120}$")


class RoomFull(VoxsealError):
    reason = "room_full"
    http_status = 503


class NotInRoom(NotFound):
    reason = "not_in_room"


class LeaveReason(StrEnum):
    LEFT = "left"
    DISCONNECTED = "disconnected"
    REMOVED = "removed"
    REPLACED = "replaced"


@dataclass(frozen=True)
class Grants:
    publish: bool = False
    subscribe: bool = False
    admin: bool = False

    def names(self) -> list[str]:
        return [n for n in ("publish", "subscribe", "admin") if getattr(self, n)]


@dataclass
class Participant:
    """One admitted connection. ``identity_doc`` is public (did:key, KEM key, signature)."""

    id: str
    room: str
    identity: str
    grants: Grants
    did: str
    identity_doc: str
    joined_at: float
    #: unique among the room's current participants: the low bits of this sender's SFrame KIDs
    index: int = 0
    key_epoch: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            "identity": self.identity,
            "grants": self.grants.names(),
            "did": self.did,
            "identity_doc": self.identity_doc,
            "key_epoch": self.key_epoch,
        }


@dataclass(frozen=True)
class Delivery:
    """Send ``message`` to participant ``to``."""

    to: str
    message: dict[str, Any]


@dataclass
class Room:
    name: str
    max_participants: int = DEFAULT_MAX_PARTICIPANTS
    participants: dict[str, Participant] = field(default_factory=dict)

    def by_identity(self, identity: str) -> Participant | None:
        return next((p for p in self.participants.values() if p.identity == identity), None)

    def others(self, pid: str) -> Iterator[Participant]:
        return (p for p in self.participants.values() if p.id != pid)


def _check_identity_key(did: Any, doc: Any) -> tuple[str, str]:
    if not isinstance(did, str) or not _DID.match(did):
        raise InvalidInput("identity_key.did must be a did:key", reason="bad_identity_key")
    if not isinstance(doc, str) or not doc or len(doc) > MAX_IDENTITY_DOC:
        raise InvalidInput(
            f"identity_key.doc must be 1..{MAX_IDENTITY_DOC} characters", reason="bad_identity_key"
        )
    return did, doc


class RoomRegistry:
    """Every live room on this node."""

    def __init__(self, *, max_participants: int = DEFAULT_MAX_PARTICIPANTS) -> None:
        self.rooms: dict[str, Room] = {}
        self.max_participants = max_participants
        self._ids = itertools.count(1)

    def participant(self, pid: str) -> Participant:
        for room in self.rooms.values():
            if pid in room.participants:
                return room.participants[pid]
        raise NotInRoom(f"participant {pid} is not in a room")

    def join(
        self,
        room_name: str,
        identity: str,
        grants: Grants,
        did: Any,
        identity_doc: Any,
        *,
        now: float,
    ) -> tuple[Participant, list[Delivery], Participant | None]:
        """Admit a participant; returns it, what to tell the room, and who it replaced.

        An identity already in the room is replaced (its old connection is closed), as a
        reconnecting client expects; the others see it leave and join again, and rekey.
        """
        did, identity_doc = _check_identity_key(did, identity_doc)
        room = self.rooms.setdefault(room_name, Room(room_name, self.max_participants))
        replaced = room.by_identity(identity)
        deliveries: list[Delivery] = []
        if replaced is not None:
            deliveries += self._drop(room, replaced, LeaveReason.REPLACED)
            # dropping the last member deleted the room: the joiner keeps it alive
            room = self.rooms.setdefault(room_name, room)
        for other in room.participants.values():
            if other.did == did:
                raise PermissionDenied(
                    "this identity key is already in the room under another name",
                    reason="duplicate_identity_key",
                )
        if len(room.participants) >= room.max_participants:
            raise RoomFull(f"room {room_name!r} is full ({room.max_participants} participants)")
        pid = f"PA_{next(self._ids)}_{secrets.token_hex(4)}"
        taken = {p.index for p in room.participants.values()}
        index = next(i for i in itertools.count(1) if i not in taken)
        me = Participant(pid, room_name, identity, grants, did, identity_doc, now, index)
        deliveries.append(
            Delivery(
                pid,
                {
                    "type": "joined",
                    "participant": me.public(),
                    "room": room_name,
                    "participants": [p.public() for p in room.participants.values()],
                },
            )
        )
        for other in room.participants.values():
            deliveries.append(
                Delivery(other.id, {"type": "participant_joined", "participant": me.public()})
            )
        room.participants[pid] = me
        return me, deliveries, replaced

    def leave(self, pid: str, reason: LeaveReason = LeaveReason.LEFT) -> list[Delivery]:
        """Remove ``pid``; everyone left is told, and must rekey so ``pid`` hears no more."""
        for room in self.rooms.values():
            if pid in room.participants:
                return self._drop(room, room.participants[pid], reason)
        return []

    def _drop(self, room: Room, who: Participant, reason: LeaveReason) -> list[Delivery]:
        del room.participants[who.id]
        if not room.participants:
            del self.rooms[room.name]
        return [
            Delivery(p.id, {"type": "participant_left", "id": who.id, "reason": reason.value})
            for p in room.participants.values()
        ]

    def relay_e2ee(self, sender: str, to: Any, payload: Any, kind: str = "e2ee") -> Delivery:
        """An opaque E2EE message from ``sender`` to one participant of the same room.

        ``kind`` is ``e2ee`` (a sealed sender key) or ``data`` (an SFrame-protected application
        message, e.g. the agent's redacted transcript): both are ciphertext to the gateway.
        """
        me = self.participant(sender)
        if not isinstance(to, str):
            raise InvalidInput("e2ee.to must be a participant id", reason="bad_message")
        if not isinstance(payload, str) or not payload or len(payload) > MAX_E2EE_PAYLOAD:
            raise InvalidInput(
                f"e2ee.payload must be 1..{MAX_E2EE_PAYLOAD} characters", reason="bad_message"
            )
        room = self.rooms[me.room]
        if to not in room.participants or to == sender:
            raise PermissionDenied(
                "e2ee messages go only to another participant of your room",
                reason="not_in_room",
            )
        return Delivery(to, {"type": kind, "from": sender, "payload": payload})

    def announce_epoch(self, sender: str, epoch: Any) -> list[Delivery]:
        """A participant started a new sender-key epoch (after a leave, on a timer, …)."""
        me = self.participant(sender)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0 or epoch >= 2**32:
            raise InvalidInput("key_epoch.epoch must be an integer", reason="bad_message")
        if epoch <= me.key_epoch and me.key_epoch:
            raise InvalidInput("key epochs only move forward", reason="stale_epoch")
        me.key_epoch = epoch
        return [
            Delivery(p.id, {"type": "key_epoch", "id": sender, "epoch": epoch})
            for p in self.rooms[me.room].others(sender)
        ]

    def remove(self, by: str, target: Any) -> tuple[Participant, list[Delivery]]:
        """A room admin removes ``target``; the rest are told (and rekey)."""
        admin = self.participant(by)
        if not admin.grants.admin:
            raise PermissionDenied(
                "removing a participant needs the admin grant", reason="no_admin_grant"
            )
        room = self.rooms[admin.room]
        if not isinstance(target, str) or target not in room.participants or target == by:
            raise PermissionDenied("no such participant in your room", reason="not_in_room")
        victim = room.participants[target]
        return victim, self._drop(room, victim, LeaveReason.REMOVED)

    def remove_identity(self, room_name: str, identity: str) -> tuple[Participant, list[Delivery]]:
        """The REST path: remove by identity, for a principal with ``rooms:admin``."""
        room = self.rooms.get(room_name)
        victim = room.by_identity(identity) if room else None
        if room is None or victim is None:
            raise NotInRoom(f"{identity!r} is not in room {room_name!r}")
        return victim, self._drop(room, victim, LeaveReason.REMOVED)

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "room": r.name,
                "participants": [
                    {k: v for k, v in p.public().items() if k != "identity_doc"}
                    for p in r.participants.values()
                ],
            }
            for r in self.rooms.values()
        ]
