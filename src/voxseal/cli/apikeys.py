"""``voxseal apikey …``: API keys for backend service accounts: created (shown once), listed
(ids and state only), revoked."""

from __future__ import annotations

import argparse
import json
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


def cmd_apikey_list(args: argparse.Namespace, out: TextIO) -> int:
    """Key ids and their state, never a secret (only hashes are stored)."""
    with open_gateway(args) as gw:
        keys = gw.directory.list_api_keys(args.name)
        owners = {p.id: p.name for p in gw.directory.principals()}
        cli_audit(gw).record(AuditAction.APIKEY_LIST, target="apikeys", count=len(keys))
    rows = [
        {
            "key_id": k.key_id,
            "account": owners.get(k.principal_id, k.principal_id),
            "label": k.label,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at,
        }
        for k in keys
    ]
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return EXIT_OK
    print(f"{'KEY ID':<26} {'ACCOUNT':<24} {'STATE':<8} LABEL", file=out)
    for row in rows:
        state = "active" if row["revoked_at"] is None else "revoked"
        print(f"{row['key_id']:<26} {row['account']:<24} {state:<8} {row['label'] or ''}", file=out)
    return EXIT_OK


def cmd_apikey_revoke(args: argparse.Namespace, out: TextIO) -> int:
    with open_gateway(args) as gw:
        gw.directory.revoke_api_key(args.key_id)
        cli_audit(gw).record(AuditAction.APIKEY_REVOKE, target=args.key_id)
    print(f"API key {args.key_id} revoked", file=out)
    return EXIT_OK


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    apikey = sub.add_parser("apikey", help="API keys for backend service accounts").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    p = apikey.add_parser("create", parents=[common], help="create a key (printed once)")
    p.add_argument("name", help="the backend service account (created if missing)")
    p.add_argument("--label")
    p.set_defaults(run=cmd_apikey_create)
    p = apikey.add_parser("list", parents=[common], help="list API keys (ids and state only)")
    p.add_argument("name", nargs="?", help="only this service account's keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_apikey_list)
    p = apikey.add_parser("revoke", parents=[common], help="revoke an API key by its key id")
    p.add_argument("key_id")
    p.set_defaults(run=cmd_apikey_revoke)
