"""``voxseal serve`` and ``voxseal demo``: the gateway process (the gateway zone).

Both forbid SFrame in their process before anything else loads: the gateway routes voice it
must never be able to read.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from voxseal.cli.context import EXIT_OK, Commands, settings_from


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()
    from voxseal.app import create_app
    from voxseal.gateway import Gateway
    from voxseal.signaling.server import resolve_certificates, serve

    settings = settings_from(args, host=args.host, port=args.port)
    certs = resolve_certificates(settings)
    gw = Gateway.open(settings)
    if certs.dev_ca is not None:
        verb = "created" if certs.created else "using"
        print(f"voxseal: {verb} the development CA; clients must trust {certs.dev_ca}", file=out)
    print(f"voxseal: serving {settings.public_base_url} (TLS 1.3 only)", file=out, flush=True)
    serve(create_app(gw), settings, certs)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from voxseal.media.sfu import forbid_sframe

    forbid_sframe()
    from voxseal.demo import run_demo

    if args.config:  # the agent subprocess must read the same settings file
        os.environ["VOXSEAL_CONFIG"] = str(Path(args.config).resolve())

    return run_demo(settings_from(args, host=args.host, port=args.port), out)


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the HTTPS/WSS gateway (TLS 1.3)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "demo", parents=[common], help="run the gateway on embedded defaults with a demo admin"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=cmd_demo)
