"""Room clients: join tokens, a participant on the gateway's room WebSocket, refusals.

A :class:`Peer` is one WSS connection (TLS 1.3, the gateway's dev CA) with its own E2EE
identity, speaking the room protocol as JSON; :func:`join` admits one with a fresh join token,
:func:`refused` reads how the gateway turns a connection away (close code, error message).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.harness.gateway import RunningGateway
from voxseal.crypto import Identity
from voxseal.identity.tokens import JoinGrants
from voxseal.signaling.tls import client_context

__all__ = ["Peer", "close_code", "identity_key", "join", "refused", "run", "token", "wss"]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def token(gw: RunningGateway, room: str, identity: str, *grants: str, ttl: float = 300) -> str:
    g = gw.open()
    try:
        return g.tokens.issue_join(room, identity, JoinGrants.from_names(grants), ttl=ttl).token
    finally:
        g.close()


def identity_key(ident: Identity) -> dict[str, str]:
    return {"did": ident.did, "doc": base64.b64encode(ident.public.encode()).decode()}


class Peer:
    """A participant: one WSS connection plus its E2EE identity."""

    def __init__(self, ws: ClientConnection, joined: dict[str, Any], ident: Identity) -> None:
        self.ws = ws
        self.joined = joined
        self.ident = ident
        self.id: str = joined["participant"]["id"]

    async def send(self, **msg: Any) -> None:
        await self.ws.send(json.dumps(msg))

    async def next(self, kind: str | None = None) -> dict[str, Any]:
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if kind is None or msg["type"] == kind:
                return msg  # type: ignore[no-any-return]


async def close_code(peer: Peer) -> int:
    """Read until the server closes the connection; its close code."""
    try:
        while True:
            await asyncio.wait_for(peer.ws.recv(), 10)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code


def wss(gw: RunningGateway) -> str:
    return gw.base_url.replace("https://", "wss://") + "/v1/rtc"


async def join(gw: RunningGateway, room: str, identity: str, *grants: str) -> Peer:
    ident = Identity.generate()
    ws = await connect(wss(gw), ssl=client_context(gw.ca_file))
    await ws.send(
        json.dumps(
            {
                "type": "join",
                "protocol": 1,
                "token": token(gw, room, identity, *(grants or ("publish", "subscribe"))),
                "identity_key": identity_key(ident),
            }
        )
    )
    joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert joined["type"] == "joined", joined
    return Peer(ws, joined, ident)


async def refused(
    gw: RunningGateway, first: str | bytes | None, query: str = ""
) -> tuple[int, dict[str, Any] | None]:
    """Connect, send ``first``, and return (close code, error message if any)."""
    async with connect(wss(gw) + query, ssl=client_context(gw.ca_file)) as ws:
        if first is not None:
            await ws.send(first)
        error = None
        try:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
                if msg.get("type") == "error":
                    error = msg
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, error
    raise AssertionError("not closed")
