"""``voxseal …``: the command line, one module per command group.

Every command takes ``--data-dir`` (default ``$VOXSEAL_DATA_DIR`` or ``~/.voxseal``) and
``--config``; administrative commands act through the same services as the HTTPS API and are
audited with the local OS account as the actor. Errors are one line on stderr and a non-zero
exit status: 2 for bad input or configuration, 1 for a failed check (``audit verify``).

Building the parser loads no zone's code: the agent, the ingress and the SDK hold SFrame keys
and are imported by their command only when it runs, never in ``serve``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from voxseal import __version__
from voxseal.cli import agent, apikeys, audit, call, serve, telephony, tokens, users, vault
from voxseal.cli.context import EXIT_USAGE
from voxseal.errors import ConfigError, VoxsealError

#: in the order ``voxseal --help`` lists them
COMMAND_GROUPS = (serve, call, users, apikeys, tokens, audit, vault, agent, telephony)


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
    for group in COMMAND_GROUPS:
        group.register(sub, common)
    return parser


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


__all__ = ["build_parser", "main"]
