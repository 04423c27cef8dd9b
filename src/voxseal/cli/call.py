"""``voxseal call``: join a room as an end-to-end encrypted participant (the SDK's own client)."""

from __future__ import annotations

import argparse
from typing import TextIO

from voxseal.cli.context import Commands


def cmd_call(args: argparse.Namespace, out: TextIO) -> int:
    # imported here: the SDK holds SFrame keys and must never load in `serve`
    from voxseal.sdk.call import cmd_call as run_call

    return run_call(args, out)


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "call", help="join a room as an E2EE participant: play a WAV, record what you hear"
    )
    p.add_argument("url", help="the gateway, e.g. https://localhost:8443")
    p.add_argument("--token", help="a join token (better: set VOXSEAL_TOKEN, hidden from ps)")
    p.add_argument("--play", help="WAV file to speak into the room")
    p.add_argument("--record", help="WAV file to write what the room says")
    p.add_argument("--duration", type=float, help="seconds to stay (default: until --play ends)")
    p.add_argument("--ca", help="CA certificate to trust (the dev CA), default: system store")
    p.add_argument("--expect-peer", action="append", help="fail unless E2EE is set up with NAME")
    p.set_defaults(run=cmd_call)
