"""``voxseal token …``: room join tokens minted, and any token revoked, from the command line
(audited)."""

from __future__ import annotations

import argparse
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.cli.context import EXIT_OK, CommandError, Commands, cli_audit, open_gateway
from voxseal.config import parse_duration
from voxseal.errors import TokenInvalid
from voxseal.identity.tokens import AccessClaims, JoinClaims, JoinGrants


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


def cmd_token_revoke(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    """Refuse a join or access token from now on, on every node sharing the store.

    The token is read from standard input (one line), never from the command line, where
    ``ps`` and shell history would show it; it must verify, since revoking needs its id.
    """
    token = stdin.readline().strip()
    if not token:
        raise CommandError("no token on standard input")
    with open_gateway(args) as gw:
        claims: JoinClaims | AccessClaims
        try:
            claims = gw.tokens.verify_join(token)
            kind, subject, room = "join", claims.identity, claims.room
        except TokenInvalid:
            claims = gw.tokens.verify_access(token)
            kind, subject, room = "access", claims.subject, None
        gw.tokens.revoke(claims)
        audit = cli_audit(gw)
        if room is None:
            audit.record(AuditAction.TOKEN_REVOKE, target=subject, jti=claims.jti, kind=kind)
        else:
            audit.record(
                AuditAction.TOKEN_REVOKE, target=subject, jti=claims.jti, kind=kind, room=room
            )
    print(f"{kind} token {claims.jti} for {subject!r} revoked", file=out)
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
    p = token.add_parser(
        "revoke", parents=[common], help="revoke a join or access token read from stdin"
    )
    p.set_defaults(run=cmd_token_revoke, wants_stdin=True)
