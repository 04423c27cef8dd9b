"""``voxseal token …``: room join tokens minted from the command line (audited)."""

from __future__ import annotations

import argparse
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.cli.context import EXIT_OK, Commands, cli_audit, open_gateway
from voxseal.config import parse_duration
from voxseal.identity.tokens import JoinGrants


def cmd_token_issue(args: argparse.Namespace, out: TextIO) -> int:
    grants = JoinGrants.from_names(args.grant or ["publish", "subscribe"])
    ttl = parse_duration(args.ttl, setting="--ttl") if args.ttl else None
    with open_gateway(args) as gw:
        issued = gw.tokens.issue_join(args.room, args.identity, grants, ttl=ttl)
        cli_audit(gw).record(
            AuditAction.TOKEN_ISSUE,
            target=args.identity,
            kind="join",
            room=args.room,
            grants=grants.names(),
            jti=issued.jti,
        )
    print(issued.token, file=out)
    return EXIT_OK


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    token = sub.add_parser("token", help="tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    p = token.add_parser("issue", parents=[common], help="print a room join token")
    p.add_argument("--room", required=True)
    p.add_argument("--identity", required=True)
    p.add_argument("--grant", action="append", choices=["publish", "subscribe", "admin"])
    p.add_argument("--ttl", help="lifetime such as 90s, 10m, 1h (default from settings)")
    p.set_defaults(run=cmd_token_issue)
