"""``voxseal …``: the gateway's command line.

Every command takes ``--data-dir`` (default ``$VOXSEAL_DATA_DIR`` or ``~/.voxseal``) and
``--config``; administrative commands act through the same services as the HTTPS API and are
audited with the local OS account as the actor. Errors are one line on stderr and a non-zero
exit status: 2 for bad input or configuration, 1 for a failed check (``audit verify``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from voxseal import __version__
from voxseal.audit.events import Outcome
from voxseal.config import Settings, load_settings, parse_duration
from voxseal.errors import ConfigError, VoxsealError
from voxseal.gateway import Gateway, cli_actor
from voxseal.identity.rbac import Role, parse_roles
from voxseal.identity.tokens import JoinGrants
from voxseal.vault.cli import add_vault_parser

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(VoxsealError):
    reason = "command_failed"


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(
        Path(args.config) if args.config else None,
        overrides={"data_dir": args.data_dir, **overrides},
    )


def _open(args: argparse.Namespace) -> Gateway:
    return Gateway.open(_settings(args))


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
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


# -- serve ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()  # the gateway routes voice it must never be able to read
    from voxseal.app import create_app
    from voxseal.signaling.server import resolve_certificates, serve

    settings = _settings(args, host=args.host, port=args.port)
    certs = resolve_certificates(settings)
    gw = Gateway.open(settings)
    if certs.dev_ca is not None:
        verb = "created" if certs.created else "using"
        print(f"voxseal: {verb} the development CA; clients must trust {certs.dev_ca}", file=out)
    print(f"voxseal: serving {settings.public_base_url} (TLS 1.3 only)", file=out, flush=True)
    serve(create_app(gw), settings, certs)
    return EXIT_OK


# -- users ------------------------------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    roles = parse_roles(args.role)
    with _closing(_open(args)) as gw:
        if args.service:
            principal = gw.directory.create_service(args.name, roles)
        else:
            principal = gw.directory.create_user(args.name, roles, _read_password(args, stdin))
        gw.record(
            "user.create",
            actor=cli_actor(),
            target=principal.name,
            kind=principal.kind.value,
            roles=sorted(r.value for r in principal.roles),
        )
    print(
        f"created {principal.kind.value} {principal.name!r} with roles {_roles(principal)}",
        file=out,
    )
    if principal.mfa_required:
        print(
            f"MFA is required for these roles: run `voxseal user mfa-enroll {principal.name}`",
            file=out,
        )
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace, out: TextIO) -> int:
    with _closing(_open(args)) as gw:
        principals = gw.directory.list()
        gw.record("user.list", actor=cli_actor(), target="users", count=len(principals))
    if args.json:
        print(json.dumps([p.as_dict() for p in principals], indent=2), file=out)
        return EXIT_OK
    print(f"{'NAME':<24} {'KIND':<8} {'ROLES':<28} {'MFA':<10} STATUS", file=out)
    for p in principals:
        status = "disabled" if p.disabled else "active"
        print(
            f"{p.name:<24} {p.kind.value:<8} {_roles(p):<28} {p.mfa_state.value:<10} {status}",
            file=out,
        )
    return EXIT_OK


def cmd_user_set_roles(args: argparse.Namespace, out: TextIO) -> int:
    roles = parse_roles(args.role)
    with _closing(_open(args)) as gw:
        before = gw.directory.get(args.name)
        principal = gw.directory.set_roles(args.name, roles)
        gw.record(
            "user.roles",
            actor=cli_actor(),
            target=principal.name,
            before=sorted(r.value for r in before.roles),
            after=sorted(r.value for r in principal.roles),
        )
    print(f"{principal.name}: roles {_roles(principal)}", file=out)
    return EXIT_OK


def cmd_user_mfa_enroll(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    with _closing(_open(args)) as gw:
        enrolment = gw.directory.begin_totp_enrolment(args.name)
        gw.record("mfa.enrol.begin", actor=cli_actor(), target=args.name)
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
        return _confirm_mfa(gw, args.name, code, out)


def cmd_user_mfa_confirm(args: argparse.Namespace, out: TextIO) -> int:
    with _closing(_open(args)) as gw:
        return _confirm_mfa(gw, args.name, args.code, out)


def _confirm_mfa(gw: Gateway, name: str, code: str, out: TextIO) -> int:
    try:
        recovery = gw.directory.confirm_totp_enrolment(name, code)
    except VoxsealError as exc:
        gw.record(
            "mfa.enrol.confirm",
            actor=cli_actor(),
            target=name,
            outcome=Outcome.FAILURE,
            reason=exc.reason,
        )
        raise
    gw.record("mfa.enrol.confirm", actor=cli_actor(), target=name)
    print("\nMFA enrolled. Recovery codes (each works once; store them offline now):", file=out)
    for c in recovery:
        print(f"  {c}", file=out)
    return EXIT_OK


# -- API keys and tokens ----------------------------------------------------------------------


def cmd_apikey_create(args: argparse.Namespace, out: TextIO) -> int:
    """Create the ``backend`` service account NAME if needed, then a key shown only now."""
    with _closing(_open(args)) as gw:
        if gw.directory.find(args.name) is None:
            gw.directory.create_service(args.name, {Role.BACKEND})
            gw.record(
                "user.create",
                actor=cli_actor(),
                target=args.name,
                kind="service",
                roles=["backend"],
            )
        new = gw.directory.create_api_key(args.name, args.label)
        gw.record("apikey.create", actor=cli_actor(), target=args.name, key_id=new.key_id)
    print(new.key, file=out)
    print(f"(key id {new.key_id}; shown once — only its hash is stored)", file=sys.stderr)
    return EXIT_OK


def cmd_token_issue(args: argparse.Namespace, out: TextIO) -> int:
    grants = JoinGrants.from_names(args.grant or ["publish", "subscribe"])
    ttl = parse_duration(args.ttl, setting="--ttl") if args.ttl else None
    with _closing(_open(args)) as gw:
        issued = gw.tokens.issue_join(args.room, args.identity, grants, ttl=ttl)
        gw.record(
            "token.issue",
            actor=cli_actor(),
            target=args.identity,
            kind="join",
            room=args.room,
            grants=grants.names(),
            jti=issued.jti,
        )
    print(issued.token, file=out)
    return EXIT_OK


# -- audit ------------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace, out: TextIO) -> int:
    with _closing(_open(args)) as gw:
        report = gw.verify_audit()
        gw.record(
            "audit.verify",
            actor=cli_actor(),
            target="audit_log",
            outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
            records=report.records_checked,
        )
    if not report.ok:
        print(
            f"audit log BROKEN at record {report.broken_seq}: {report.problem}",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    print(
        f"audit log intact: {report.records_checked} records, "
        f"{report.checkpoints_checked} signed checkpoints, head {report.head_seq}, "
        f"{report.unanchored} after the last checkpoint",
        file=out,
    )
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.audit.export import export

    with _closing(_open(args)) as gw:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                count = export(gw.db, args.format, fh, after_seq=args.after)
        else:
            count = export(gw.db, args.format, out, after_seq=args.after)
        gw.record(
            "audit.export", actor=cli_actor(), target="audit_log", format=args.format, count=count
        )
    print(f"exported {count} records", file=sys.stderr)
    return EXIT_OK


# -- plumbing ---------------------------------------------------------------------------------


class _closing:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def __enter__(self) -> Gateway:
        return self.gw

    def __exit__(self, *exc: object) -> None:
        self.gw.close()


def _roles(principal: Any) -> str:
    return ",".join(sorted(r.value for r in principal.roles))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="state directory (default $VOXSEAL_DATA_DIR or ~/.voxseal)"
    )
    common.add_argument("--config", help="TOML settings file (default <data dir>/voxseal.toml)")

    parser = argparse.ArgumentParser(
        prog="voxseal", description="Secure real-time voice gateway for AI calls."
    )
    parser.add_argument("--version", action="version", version=f"voxseal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", parents=[common], help="run the HTTPS/WSS gateway (TLS 1.3)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "demo", parents=[common], help="run the gateway on embedded defaults with a demo admin"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=_demo)

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
    p.set_defaults(run=_call)

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

    apikey = sub.add_parser("apikey", help="API keys for backend service accounts").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    p = apikey.add_parser("create", parents=[common], help="create a key (printed once)")
    p.add_argument("name", help="the backend service account (created if missing)")
    p.add_argument("--label")
    p.set_defaults(run=cmd_apikey_create)

    token = sub.add_parser("token", help="tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    p = token.add_parser("issue", parents=[common], help="print a room join token")
    p.add_argument("--room", required=True)
    p.add_argument("--identity", required=True)
    p.add_argument("--grant", action="append", choices=["publish", "subscribe", "admin"])
    p.add_argument("--ttl", help="lifetime such as 90s, 10m, 1h (default from settings)")
    p.set_defaults(run=cmd_token_issue)

    audit = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    p = audit.add_parser(
        "verify", parents=[common], help="check the hash chain and signed checkpoints"
    )
    p.set_defaults(run=cmd_audit_verify)
    p = audit.add_parser("export", parents=[common], help="export for a SIEM")
    p.add_argument("--format", choices=["jsonl", "cef", "syslog"], default="jsonl")
    p.add_argument("--output", "-o", help="file to write (default stdout)")
    p.add_argument("--after", type=int, default=0, help="only records after this seq")
    p.set_defaults(run=cmd_audit_export)
    add_vault_parser(sub, common)
    p = sub.add_parser("agent", parents=[common], help="run an AI agent worker (the agent zone)")
    p.add_argument("--url", help="the gateway (default: the configured public_base_url)")
    p.add_argument("--ca", help="CA certificate to trust (default: the dev CA in the data dir)")
    p.add_argument("--name", default="default", help="worker name (account agent-NAME)")
    p.add_argument("--capacity", type=int, default=4, help="concurrent calls (default 4)")
    p.add_argument("--llm-base-url", help="OpenAI-compatible API; key in $VOXSEAL_LLM_API_KEY")
    p.add_argument("--llm-model", default="gpt-4o-mini", help="model name for --llm-base-url")
    p.set_defaults(run=_agent)
    p = sub.add_parser(
        "telephony", parents=[common], help="run the phone ingress: Twilio, Vonage, SignalWire"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--url", help="the gateway (default: [telephony] gateway_url or public_base_url)"
    )
    p.add_argument(
        "--subject-ids",
        action="store_true",
        help="read phone numbers on stdin, print their pseudonymous data subject ids",
    )
    p.set_defaults(run=_telephony, wants_stdin=True)
    return parser


def _telephony(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    # imported here: the ingress holds SFrame keys (agent zone) and must never load in `serve`
    from voxseal.telephony.cli import cmd_telephony

    return cmd_telephony(args, out, stdin)


def _agent(args: argparse.Namespace, out: TextIO) -> int:
    # imported here: the agent zone's code (SFrame included) must never load in `serve`
    from voxseal.agent.cli import cmd_agent

    return cmd_agent(args, out)


def _call(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.sdk.call import cmd_call

    return cmd_call(args, out)


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()
    from voxseal.demo import run_demo

    if args.config:  # the agent subprocess must read the same settings file
        os.environ["VOXSEAL_CONFIG"] = str(Path(args.config).resolve())

    return run_demo(_settings(args, host=args.host, port=args.port), out)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    args = build_parser().parse_args(argv)
    run: Callable[..., int] = args.run
    try:
        if getattr(args, "wants_stdin", False):
            return run(args, out, stdin)
        return run(args, out)
    except ConfigError as exc:
        print(f"voxseal: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VoxsealError as exc:
        print(f"voxseal: {exc} [{exc.reason}]", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
