"""What every command shares: exit statuses, its settings, the gateway it acts through.

Administrative commands act through the same :class:`~voxseal.gateway.Gateway` as the HTTPS
API, so a user created here and a login over HTTPS meet one directory and one audit log; the
actor of their audit events is the local OS account (:func:`cli_actor`, :func:`cli_audit`).
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from voxseal.audit.events import AuditContext
from voxseal.config import Settings, load_settings
from voxseal.errors import VoxsealError
from voxseal.gateway import Gateway

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2

#: the type argparse gives ``add_subparsers``; every command group registers on one
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandError(VoxsealError):
    reason = "command_failed"


def cli_actor() -> str:
    """Who ran a CLI command, for audit events: the local OS account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def cli_audit(gw: Gateway) -> AuditContext:
    """Events a command writes: acted by the local OS account, with no network source."""
    return AuditContext(gw.audit, cli_actor())


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """``--config`` and ``--data-dir`` (when the command has them) over files and env."""
    config = getattr(args, "config", None)
    return load_settings(
        Path(config) if config else None,
        overrides={"data_dir": getattr(args, "data_dir", None), **overrides},
    )


@contextmanager
def open_gateway(args: argparse.Namespace) -> Iterator[Gateway]:
    """The gateway's services for one command, closed (audit drained, checkpoint signed) after."""
    gw = Gateway.open(settings_from(args))
    try:
        yield gw
    finally:
        gw.close()
