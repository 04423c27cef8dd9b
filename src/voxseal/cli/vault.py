"""``voxseal vault get | list | shred | rotate-master``: the vault from the command line.

Who is acting? Other admin commands act as the local OS account, which is right for managing
the gateway but not for *reading people's voice data*: an OS account is not a principal, holds
no role and has no second factor. So every vault command names a principal with ``--as NAME``
and proves it with that principal's TOTP code (``--code``, ``--code-stdin`` or a prompt),
checked by the directory (single-use, with the same lockout as logins). The vault then applies
that principal's roles exactly as over HTTPS, and the audit event names the principal as the
actor and the OS account (``cli:<user>``) as the source.

What this is not: a boundary against the OS account that owns the data dir. Whoever can read
the master key file and the database can decrypt without this command. The MFA step gives
attribution and stops casual or mistaken reads; keeping the master key out of reach of
operators takes a KMS/HSM :class:`~voxseal.vault.keys.KeyProvider` (or a dedicated service
account owning the data dir).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, Outcome
from voxseal.cli.context import Commands, cli_actor, settings_from
from voxseal.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidInput,
    MFAError,
    PermissionDenied,
)
from voxseal.gateway import Gateway
from voxseal.identity.directory import Principal, PrincipalKind
from voxseal.identity.rbac import Permission, has_permission
from voxseal.vault.keys import LocalKeyFileProvider, VaultError
from voxseal.vault.vault import SHRED_PERMISSION, rotate_local_master_key

EXIT_OK = 0

_TEXT_TYPES = ("text/", "application/json")
_READ = (Permission.RECORDINGS_READ, Permission.TRANSCRIPTS_READ)


class VaultCommandError(VaultError):
    reason = "command_failed"


# -- plumbing -----------------------------------------------------------------------------------


def _read_code(args: argparse.Namespace, stdin: TextIO | None) -> str:
    if args.code:
        return str(args.code)
    stdin = stdin or sys.stdin
    if args.code_stdin:
        return stdin.readline().strip()
    if not stdin.isatty():
        raise InvalidInput("no terminal to prompt for a code; use --code or --code-stdin")
    return getpass.getpass(f"TOTP code for {args.as_name}: ").strip()


def authenticate(
    gw: Gateway,
    args: argparse.Namespace,
    stdin: TextIO | None,
    *any_of: Permission,
) -> Principal:
    """The principal named by ``--as``, after its TOTP code was verified; audited either way.

    The principal must hold one of ``any_of``; the vault then decides per object kind.
    """
    name = str(args.as_name)
    audit = AuditContext(gw.audit, name, cli_actor())

    def event(outcome: Outcome, **details: Any) -> None:
        audit.record(AuditAction.AUTH_MFA, target=name, outcome=outcome, channel="cli", **details)

    principal = gw.directory.find(name)
    if principal is None or principal.disabled or principal.kind is not PrincipalKind.HUMAN:
        event(Outcome.DENIED, reason="unknown_or_disabled")
        raise InvalidCredentials(
            "--as must name an enabled human principal", reason="invalid_credentials"
        )
    lockout = gw.authenticator.lockout
    try:
        lockout.check(account=principal.name)
    except AccountLocked:
        event(Outcome.DENIED, reason="locked_out")
        raise
    code = _read_code(args, stdin)
    try:
        gw.directory.verify_totp(principal.id, code)
    except MFAError as exc:
        lockout.record_failure(account=principal.name)
        event(Outcome.FAILURE, reason=exc.reason)
        raise
    lockout.record_success(account=principal.name)
    event(Outcome.SUCCESS)
    if not any(has_permission(principal.roles, p) for p in any_of):
        wanted = " or ".join(repr(p.value) for p in any_of)
        audit.record(
            AuditAction.VAULT_CLI,
            target=str(getattr(args, "vault_command", "vault")),
            outcome=Outcome.DENIED,
            reason="permission_denied",
        )
        raise PermissionDenied(
            f"{principal.name} does not hold {wanted}", reason="permission_denied"
        )
    return principal


def _cli_context() -> dict[str, Any]:
    return {"source": cli_actor()}


# -- commands -----------------------------------------------------------------------------------


def cmd_vault_get(args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    """Decrypt one object: to ``-o FILE`` (created 0600, never overwritten) or, if text, stdout."""
    path = Path(args.output) if args.output else None
    if path is not None and (path.exists() or path.is_symlink()):
        raise VaultCommandError(f"{path} exists; not overwriting it", reason="output_exists")
    gw = Gateway.open(settings_from(args))
    try:
        vault = gw.vault
        # the vault decides per kind; the principal must hold at least one read permission
        principal = authenticate(gw, args, stdin, *_READ)
        obj = vault.get(
            args.object_id, actor=principal.name, roles=principal.roles, **_cli_context()
        )
    finally:
        gw.close()
    if path is not None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise VaultCommandError(
                f"cannot create {path}: {exc.strerror}", reason="output_failed"
            ) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(obj.data)
        print(
            f"wrote {len(obj.data)} bytes ({obj.kind.value}, {obj.content_type}) to {path}",
            file=out,
        )
        return EXIT_OK
    if not obj.content_type.startswith(_TEXT_TYPES):
        raise VaultCommandError(
            f"object is {obj.content_type}, not text: write it to a file with -o FILE",
            reason="binary_object",
        )
    print(obj.data.decode("utf-8", errors="replace"), file=out)
    return EXIT_OK


def cmd_vault_list(args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    """Metadata of a subject's objects the principal may read (never content)."""
    gw = Gateway.open(settings_from(args))
    try:
        vault = gw.vault
        principal = authenticate(gw, args, stdin, *_READ)
        objects = vault.objects(
            args.subject_id, actor=principal.name, roles=principal.roles, **_cli_context()
        )
    finally:
        gw.close()
    if args.json:
        print(json.dumps([o.as_dict() for o in objects], indent=2), file=out)
        return EXIT_OK
    print(f"{'ID':<36}  {'KIND':<21}  {'SIZE':>10}  {'CONTENT TYPE':<24}  STATE", file=out)
    for o in objects:
        state = "shredded" if o.shredded else "readable"
        print(
            f"{o.id:<36}  {o.kind.value:<21}  {o.size:>10}  {o.content_type:<24}  {state}",
            file=out,
        )
    return EXIT_OK


def cmd_vault_shred(args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    """Crypto-shred a subject (irreversible): needs ``--yes`` and a ``dsar:execute`` principal."""
    if not args.yes:
        raise VaultCommandError(
            "crypto-shredding is irreversible: add --yes to destroy the subject's keys",
            reason="confirmation_required",
        )
    gw = Gateway.open(settings_from(args))
    try:
        vault = gw.vault
        principal = authenticate(gw, args, stdin, SHRED_PERMISSION)
        result = vault.shred_subject(
            args.subject_id, actor=principal.name, roles=principal.roles, **_cli_context()
        )
    finally:
        gw.close()
    print(
        f"shredded {result.subject_id}: {result.keys_destroyed} key(s) destroyed,"
        f" {result.objects} object(s) now unreadable",
        file=out,
    )
    return EXIT_OK


def cmd_vault_rotate_master(
    args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None
) -> int:
    """Re-wrap every subject key under a new local master key file (``config:write``).

    Run it on a schedule: it is also what makes shredded keys that survive in backups useless.
    """
    gw = Gateway.open(settings_from(args))
    try:
        vault = gw.vault
        principal = authenticate(gw, args, stdin, Permission.CONFIG_WRITE)
        provider = vault._provider
        if not isinstance(provider, LocalKeyFileProvider):
            raise VaultCommandError(
                "this command rotates a local key file; rotate a KMS key in the KMS",
                reason="not_local_provider",
            )
        result = rotate_local_master_key(vault, provider.path, actor=principal.name)
    finally:
        gw.close()
    print(
        f"master key rotated: {result.old_key_id} -> {result.new_key_id},"
        f" {result.rewrapped} subject key(s) re-wrapped",
        file=out,
    )
    return EXIT_OK


# -- argparse -----------------------------------------------------------------------------------


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    """``voxseal vault …``."""
    vault = sub.add_parser(
        "vault", help="encrypted recordings, transcripts, voiceprints"
    ).add_subparsers(dest="vault_command", required=True, metavar="ACTION")

    auth = argparse.ArgumentParser(add_help=False)
    auth.add_argument(
        "--as",
        dest="as_name",
        required=True,
        metavar="NAME",
        help="the principal acting (must hold the permission and confirm with TOTP)",
    )
    auth.add_argument("--code", help="the principal's TOTP code (default: prompt)")
    auth.add_argument("--code-stdin", action="store_true", help="read the TOTP code from stdin")

    p = vault.add_parser("get", parents=[common, auth], help="decrypt one object (audited)")
    p.add_argument("object_id")
    p.add_argument("-o", "--output", help="file to create (0600); default: stdout if text")
    p.set_defaults(run=cmd_vault_get, wants_stdin=True)

    p = vault.add_parser("list", parents=[common, auth], help="a subject's objects (metadata)")
    p.add_argument("subject_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_vault_list, wants_stdin=True)

    p = vault.add_parser(
        "shred", parents=[common, auth], help="crypto-shred a subject (irreversible)"
    )
    p.add_argument("subject_id")
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    p.set_defaults(run=cmd_vault_shred, wants_stdin=True)

    p = vault.add_parser(
        "rotate-master", parents=[common, auth], help="re-wrap subject keys under a new master key"
    )
    p.set_defaults(run=cmd_vault_rotate_master, wants_stdin=True)
