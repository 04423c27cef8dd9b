"""``voxseal agent``: run an agent worker (the agent trust zone's process).

It shares the data dir and settings with ``voxseal serve`` because it writes to the vault and
reads the consent ledger directly (the gateway process must not see transcripts or
recordings). On start it makes sure its ``agent`` service account exists, revokes that
account's old API keys and creates a fresh one (never printed), registers with the gateway and
serves dispatched calls until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any, TextIO

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext
from voxseal.cli.context import Commands, settings_from
from voxseal.config import Settings
from voxseal.errors import ConfigError
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.privacy.consent import ConsentLedger

LLM_KEY_ENV = "VOXSEAL_LLM_API_KEY"


def cmd_agent(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_from(args)
    if not 1 <= args.capacity <= 64:
        raise ConfigError("--capacity", "must be 1..64 concurrent calls")
    return asyncio.run(serve_agent(settings, args, out))


def provision(gw: Gateway, name: str) -> tuple[str, str]:
    """The worker's service account and a fresh API key; older keys of it are revoked."""
    account = f"agent-{name}"
    audit = AuditContext(gw.audit, "agent-worker")
    if gw.directory.find(account) is None:
        gw.directory.create_service(account, {Role.AGENT})
        audit.record(AuditAction.USER_CREATE, target=account, kind="service", roles=["agent"])
    for old in gw.directory.list_api_keys(account):
        if old.active:
            gw.directory.revoke_api_key(old.key_id)
    key = gw.directory.create_api_key(account, "agent worker")
    audit.record(AuditAction.APIKEY_CREATE, target=account, key_id=key.key_id)
    return account, key.key


async def serve_agent(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    # imported here: the agent zone's code (SFrame included) must never load in `serve`
    from voxseal.agent import AgentPipeline, EspeakTTS, PocketSphinxTranscriber, RuleBasedResponder
    from voxseal.agent.llm import OpenAICompatibleResponder
    from voxseal.agent.runtime import CallRunner
    from voxseal.agent.worker import AgentWorker

    tts = EspeakTTS()  # fails now, clearly, if espeak-ng is missing
    transcriber = PocketSphinxTranscriber()
    await transcriber.warm(min(args.capacity, 2))
    if args.llm_base_url:
        api_key = os.environ.get(LLM_KEY_ENV, "")
        if not api_key:
            raise ConfigError(LLM_KEY_ENV, "set it to the API key of --llm-base-url")
        responder: Any = OpenAICompatibleResponder(args.llm_base_url, api_key, args.llm_model)
    else:
        responder = RuleBasedResponder()

    gw = await asyncio.to_thread(Gateway.open, settings)
    try:
        account, key = await asyncio.to_thread(provision, gw, args.name)
        ca = Path(args.ca) if args.ca else settings.dev_ca_dir / "dev-ca.pem"
        runner = CallRunner(
            args.url or settings.public_base_url,
            ca_file=ca if ca.exists() else None,
            ledger=ConsentLedger(gw.db, gw.audit),
            vault=gw.vault,
            audit=gw.audit,
            policy=gw.privacy_policy,
            make_pipeline=lambda **kw: AgentPipeline(transcriber, responder, tts, **kw),
            actor=account,
        )
        worker = AgentWorker(
            runner.url, key, runner, name=args.name, capacity=args.capacity, ca_file=runner.ca_file
        )
        task = asyncio.create_task(worker.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        print(
            f"voxseal agent: {account} serving {runner.url} (capacity {args.capacity}, "
            f"{'LLM ' + args.llm_base_url if args.llm_base_url else 'rule-based responder'}, "
            f"policy {gw.privacy_policy.as_dict()})",
            file=out,
            flush=True,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return 0
    finally:
        await asyncio.to_thread(gw.close)


def register(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("agent", parents=[common], help="run an AI agent worker (the agent zone)")
    p.add_argument("--url", help="the gateway (default: the configured public_base_url)")
    p.add_argument("--ca", help="CA certificate to trust (default: the dev CA in the data dir)")
    p.add_argument("--name", default="default", help="worker name (account agent-NAME)")
    p.add_argument("--capacity", type=int, default=4, help="concurrent calls (default 4)")
    p.add_argument("--llm-base-url", help="OpenAI-compatible API; key in $VOXSEAL_LLM_API_KEY")
    p.add_argument("--llm-model", default="gpt-4o-mini", help="model name for --llm-base-url")
    p.set_defaults(run=cmd_agent)
