"""`callcenter supervise AGENT --phone ENDPOINT [--mode listen|whisper|barge]` (ChanSpy)."""

from __future__ import annotations

import argparse

from middleware.agents.service import AgentError, AgentService
from middleware.agents.supervision import SpyMode
from middleware.ami.client import AmiClient
from middleware.cli.common import with_pbx
from middleware.config import Settings
from middleware.store.database import Pool


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("supervise", help="listen to, whisper to or barge into an agent's call",
                         description="Rings the supervisor's phone; once answered, they are on the agent's call.")
    p.add_argument("agent", help="agent code")
    p.add_argument("--phone", required=True, help="the supervisor's phone (PJSIP endpoint)")
    p.add_argument("--mode", choices=[m.value for m in SpyMode], default=SpyMode.LISTEN.value)
    p.set_defaults(func=cmd_supervise)


def cmd_supervise(args: argparse.Namespace, settings: Settings) -> int:
    async def supervise(pool: Pool, ami: AmiClient) -> None:
        await AgentService(pool, ami).supervise(args.agent, args.phone, SpyMode(args.mode))

    with_pbx(settings, supervise, (AgentError,))
    print(f"{args.phone} is ringing: answer to {args.mode} on agent {args.agent}'s call")
    return 0
