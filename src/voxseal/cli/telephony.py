"""``voxseal telephony``: run the phone ingress (the agent zone's bridge to the carriers).

It reads the same data dir and settings as ``serve``; the listener is ``[telephony] host`` /
``port`` (or ``--host`` / ``--port``), the gateway it joins rooms through is
``[telephony] gateway_url`` (default: the gateway's ``public_base_url``). Provider secrets come
from the config file or ``VOXSEAL_TWILIO_AUTH_TOKEN``, ``VOXSEAL_VONAGE_SIGNATURE_SECRET``,
``VOXSEAL_SIGNALWIRE_SIGNING_KEY``; they are never printed or logged.

``voxseal telephony --subject-ids`` reads phone numbers on stdin (one per line, never on the
command line, where ``ps`` would show them) and prints the pseudonymous data subject id of
each, so consents can be granted for a caller before they call.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import re
from typing import TextIO

from voxseal.cli.context import Commands, settings_from
from voxseal.config import Settings

_QUERY = re.compile(r"\?[^\s\"]*")


class HideQueryStrings(logging.Filter):
    """Webhook query strings carry the caller's number (Vonage's GET answer ``from=…``):
    uvicorn's access log gets the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _QUERY.sub("?…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub("?…", record.msg)
        return True


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(args)
    t = settings.telephony
    changes = {
        k: v
        for k, v in {"host": args.host, "port": args.port, "gateway_url": args.url}.items()
        if v is not None
    }
    if changes:
        t = dataclasses.replace(t, **changes)
        t.validate()
        settings = dataclasses.replace(settings, telephony=t)
    return settings


def cmd_telephony(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    # the ingress is imported here, never at parse time: it holds SFrame keys (agent zone) and
    # must never load in `serve`
    settings = _settings(args)
    if args.subject_ids:
        from voxseal.telephony.ingress import PhoneSubjects

        keys = settings.data_dir / "keys"
        keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        subjects = PhoneSubjects.open(keys)
        for line in stdin:
            if line.strip():
                print(subjects.subject_id(line.strip()) or "-", file=out)
        return 0
    return serve_telephony(settings, out)


def serve_telephony(settings: Settings, out: TextIO) -> int:
    import uvicorn

    from voxseal.signaling.server import install_log_redaction, resolve_certificates, uvicorn_config
    from voxseal.telephony.app import create_app
    from voxseal.telephony.ingress import open_ingress

    t = settings.telephony
    certs = resolve_certificates(settings)
    gw, ingress = open_ingress(settings)

    async def shutdown() -> None:
        import asyncio

        await asyncio.to_thread(gw.close)

    listen = dataclasses.replace(settings, host=t.host, port=t.port)
    config = uvicorn_config(create_app(ingress, on_shutdown=shutdown), listen, certs)
    install_log_redaction()
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(HideQueryStrings())
    print(
        f"voxseal telephony: {', '.join(ingress.providers)} webhooks at "
        f"{ingress.public_base_url}/v1/telephony/… (TLS 1.3 only), "
        f"joining rooms through {ingress.access.url}",
        file=out,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    return 0


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
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
    p.set_defaults(run=cmd_telephony, wants_stdin=True)
