"""``voxseal audit …``: verify the tamper-evident log, export it for a SIEM."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.cli.context import EXIT_CHECK_FAILED, EXIT_OK, Commands, cli_audit, open_gateway


def cmd_audit_verify(args: argparse.Namespace, out: TextIO) -> int:
    with open_gateway(args) as gw:
        report = gw.verify_audit()
        cli_audit(gw).record(
            AuditAction.AUDIT_VERIFY,
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

    with open_gateway(args) as gw:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                count = export(gw.db, args.format, fh, after_seq=args.after)
        else:
            count = export(gw.db, args.format, out, after_seq=args.after)
        cli_audit(gw).record(
            AuditAction.AUDIT_EXPORT, target="audit_log", format=args.format, count=count
        )
    print(f"exported {count} records", file=sys.stderr)
    return EXIT_OK


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
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
