"""``voxseal apikey …``: API keys for backend service accounts, shown once."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.cli.context import EXIT_OK, Commands, cli_audit, open_gateway
from voxseal.identity.rbac import Role


def cmd_apikey_create(args: argparse.Namespace, out: TextIO) -> int:
    """Create the ``backend`` service account NAME if needed, then a key shown only now."""
    with open_gateway(args) as gw:
        audit = cli_audit(gw)
        if gw.directory.find(args.name) is None:
            gw.directory.create_service(args.name, {Role.BACKEND})
            audit.record(
                AuditAction.USER_CREATE, target=args.name, kind="service", roles=["backend"]
            )
        new = gw.directory.create_api_key(args.name, args.label)
        audit.record(AuditAction.APIKEY_CREATE, target=args.name, key_id=new.key_id)
    print(new.key, file=out)
    print(f"(key id {new.key_id}; shown once — only its hash is stored)", file=sys.stderr)
    return EXIT_OK


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    apikey = sub.add_parser("apikey", help="API keys for backend service accounts").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    p = apikey.add_parser("create", parents=[common], help="create a key (printed once)")
    p.add_argument("name", help="the backend service account (created if missing)")
    p.add_argument("--label")
    p.set_defaults(run=cmd_apikey_create)
