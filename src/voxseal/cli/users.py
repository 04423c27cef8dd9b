"""``voxseal user …``: people and service accounts, their roles and their second factor."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.cli.context import EXIT_OK, CommandError, Commands, cli_audit, open_gateway
from voxseal.errors import VoxsealError
from voxseal.gateway import Gateway
from voxseal.identity.directory import Principal
from voxseal.identity.rbac import Role, parse_roles


def roles_of(principal: Principal) -> str:
    return ",".join(sorted(r.value for r in principal.roles))


def read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        line = stdin.readline()
        if not line:
            raise CommandError("no password on standard input")
        return line.rstrip("\r\n")
    if not stdin.isatty():
        raise CommandError("no terminal to prompt for a password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise CommandError("the two passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    roles = parse_roles(args.role)
    with open_gateway(args) as gw:
        if args.service:
            principal = gw.directory.create_service(args.name, roles)
        else:
            principal = gw.directory.create_user(args.name, roles, read_password(args, stdin))
        cli_audit(gw).record(
            AuditAction.USER_CREATE,
            target=principal.name,
            kind=principal.kind.value,
            roles=sorted(r.value for r in principal.roles),
        )
    print(
        f"created {principal.kind.value} {principal.name!r} with roles {roles_of(principal)}",
        file=out,
    )
    if principal.mfa_required:
        print(
            f"MFA is required for these roles: run `voxseal user mfa-enroll {principal.name}`",
            file=out,
        )
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace, out: TextIO) -> int:
    with open_gateway(args) as gw:
        principals = gw.directory.principals()
        cli_audit(gw).record(AuditAction.USER_LIST, target="users", count=len(principals))
    if args.json:
        print(json.dumps([p.as_dict() for p in principals], indent=2), file=out)
        return EXIT_OK
    print(f"{'NAME':<24} {'KIND':<8} {'ROLES':<28} {'MFA':<10} STATUS", file=out)
    for p in principals:
        status = "disabled" if p.disabled else "active"
        print(
            f"{p.name:<24} {p.kind.value:<8} {roles_of(p):<28} {p.mfa_state.value:<10} {status}",
            file=out,
        )
    return EXIT_OK


def cmd_user_set_roles(args: argparse.Namespace, out: TextIO) -> int:
    roles = parse_roles(args.role)
    with open_gateway(args) as gw:
        before = gw.directory.get(args.name)
        principal = gw.directory.set_roles(args.name, roles)
        cli_audit(gw).record(
            AuditAction.USER_ROLES,
            target=principal.name,
            before=sorted(r.value for r in before.roles),
            after=sorted(r.value for r in principal.roles),
        )
    print(f"{principal.name}: roles {roles_of(principal)}", file=out)
    return EXIT_OK


def cmd_user_mfa_enroll(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    with open_gateway(args) as gw:
        enrolment = gw.directory.begin_totp_enrolment(args.name)
        cli_audit(gw).record(AuditAction.MFA_ENROL_BEGIN, target=args.name)
        print("Scan this with an authenticator app (or paste the URI into it):\n", file=out)
        print(enrolment.qr(), file=out)
        print(enrolment.uri, file=out)
        code = args.code
        if code is None:
            if not stdin.isatty() and not args.code_stdin:
                print(
                    "\nEnrolment is pending: confirm it with "
                    f"`voxseal user mfa-enroll {args.name} --confirm CODE`.",
                    file=out,
                )
                return EXIT_OK
            if not args.code_stdin:
                print("\nCode shown by the app: ", end="", file=out, flush=True)
            code = stdin.readline().strip()
        return confirm_mfa(gw, args.name, code, out)


def cmd_user_mfa_confirm(args: argparse.Namespace, out: TextIO) -> int:
    with open_gateway(args) as gw:
        return confirm_mfa(gw, args.name, args.code, out)


def confirm_mfa(gw: Gateway, name: str, code: str, out: TextIO) -> int:
    try:
        recovery = gw.directory.confirm_totp_enrolment(name, code)
    except VoxsealError as exc:
        cli_audit(gw).record(
            AuditAction.MFA_ENROL_CONFIRM,
            target=name,
            outcome=Outcome.FAILURE,
            reason=exc.reason,
        )
        raise
    cli_audit(gw).record(AuditAction.MFA_ENROL_CONFIRM, target=name)
    print("\nMFA enrolled. Recovery codes (each works once; store them offline now):", file=out)
    for c in recovery:
        print(f"  {c}", file=out)
    return EXIT_OK


def cmd_user_passwd(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    """Account recovery: a new password for a person (prompted twice, or one stdin line)."""
    password = read_password(args, stdin)
    with open_gateway(args) as gw:
        gw.directory.set_password(args.name, password)
        cli_audit(gw).record(AuditAction.USER_PASSWORD, target=args.name)
    print(f"{args.name}: password replaced", file=out)
    return EXIT_OK


def cmd_user_mfa_reset(args: argparse.Namespace, out: TextIO) -> int:
    with open_gateway(args) as gw:
        principal = gw.directory.reset_mfa(args.name)
        cli_audit(gw).record(AuditAction.MFA_RESET, target=principal.name)
    print(f"{principal.name}: TOTP and recovery codes removed", file=out)
    if principal.mfa_required:
        print(f"enrol again with `voxseal user mfa-enroll {principal.name}`", file=out)
    return EXIT_OK


def cmd_user_set_disabled(args: argparse.Namespace, out: TextIO) -> int:
    """``user disable`` and ``user enable``: the directory applies the last-admin rule."""
    with open_gateway(args) as gw:
        principal = gw.directory.set_disabled(args.name, args.disabled)
        action = AuditAction.USER_DISABLE if args.disabled else AuditAction.USER_ENABLE
        cli_audit(gw).record(action, target=principal.name)
    print(f"{principal.name}: {'disabled' if args.disabled else 'enabled'}", file=out)
    return EXIT_OK


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="people and service accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    p = user.add_parser("add", parents=[common], help="create a user (password prompted)")
    p.add_argument("name")
    p.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--service", action="store_true", help="a service account (no password)")
    p.set_defaults(run=cmd_user_add, wants_stdin=True)
    p = user.add_parser("list", parents=[common], help="list principals")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_user_list)
    p = user.add_parser("set-roles", parents=[common], help="replace a principal's roles")
    p.add_argument("name")
    p.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    p.set_defaults(run=cmd_user_set_roles)
    p = user.add_parser(
        "mfa-enroll", parents=[common], help="enrol TOTP: prints the otpauth URI and a QR code"
    )
    p.add_argument("name")
    p.add_argument("--code", help="confirm at once with this code")
    p.add_argument("--code-stdin", action="store_true", help="read the confirming code from stdin")
    p.set_defaults(run=cmd_user_mfa_enroll, wants_stdin=True)
    p = user.add_parser("mfa-confirm", parents=[common], help="confirm a pending TOTP enrolment")
    p.add_argument("name")
    p.add_argument("code")
    p.set_defaults(run=cmd_user_mfa_confirm)
    p = user.add_parser(
        "passwd", parents=[common], help="set a new password for a person (account recovery)"
    )
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(run=cmd_user_passwd, wants_stdin=True)
    p = user.add_parser(
        "mfa-reset", parents=[common], help="remove a principal's TOTP and recovery codes"
    )
    p.add_argument("name")
    p.set_defaults(run=cmd_user_mfa_reset)
    p = user.add_parser(
        "disable", parents=[common], help="disable a principal (the last admin is kept)"
    )
    p.add_argument("name")
    p.set_defaults(run=cmd_user_set_disabled, disabled=True)
    p = user.add_parser("enable", parents=[common], help="enable a disabled principal again")
    p.add_argument("name")
    p.set_defaults(run=cmd_user_set_disabled, disabled=False)
