"""`callcenter agent add|list|show|login|logout|pause|unpause`."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict

import psycopg
from psycopg import AsyncConnection

from middleware.agents.service import AgentError, AgentService
from middleware.agents.state import AgentEvent
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.cli.common import (
    CliError,
    add_json_flag,
    emit_json,
    pool_for,
    require_tenant,
    show_rows,
    with_connection,
)
from middleware.config import Settings
from middleware.store import agents as agent_store


def register(nouns: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = nouns.add_parser("agent", help="agents and their sessions")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add an agent")
    a.add_argument("code", help="agent number, e.g. 1001")
    a.add_argument("--tenant", required=True)
    a.add_argument("--name", required=True)
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list agents and their state")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    sh = verbs.add_parser("show", help="one agent: state, phone, queues")
    sh.add_argument("code")
    add_json_flag(sh)
    sh.set_defaults(func=cmd_show)
    for event in (AgentEvent.LOGIN, AgentEvent.LOGOUT, AgentEvent.PAUSE, AgentEvent.UNPAUSE):
        v = verbs.add_parser(event.value, help=f"{event.value} an agent (as the phone's feature code does)")
        v.add_argument("code")
        if event is AgentEvent.PAUSE:
            v.add_argument("--reason", default="break", help="pause reason (break, lunch, training, ...)")
        v.set_defaults(func=cmd_session, event=event)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    async def add(conn: AsyncConnection) -> None:
        tenant_id = await require_tenant(conn, args.tenant)
        try:
            await agent_store.upsert_agent(conn, tenant_id, args.code, args.name)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"agent code {args.code!r}: letters, digits, '-' and '_' only") from exc

    with_connection(settings, add)
    print(f"agent {args.code} ({args.name})")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [asdict(a) for a in await agent_store.list_agents(conn)]

    show_rows(args, with_connection(settings, rows),
              ("code", "name", "tenant_code", "state", "state_reason", "endpoint"))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def one(conn: AsyncConnection) -> dict[str, object]:
        agent = await agent_store.get_agent(conn, args.code)
        if agent is None:
            raise CliError(f"no agent {args.code!r}")
        members = await agent_store.memberships(conn, args.code)
        return {**asdict(agent), "queues": [{"queue": m.queue, "penalty": m.penalty} for m in members]}

    data = with_connection(settings, one)
    if args.json:
        emit_json(data)
        return 0
    for key in ("code", "name", "tenant_code", "state", "state_reason", "endpoint"):
        print(f"{key:12} {data[key] if data[key] not in (None, '') else '-'}")
    queues = ", ".join(f"{q['queue']} (penalty {q['penalty']})" for q in data["queues"])  # type: ignore[attr-defined]
    print(f"{'queues':12} {queues or '-'}")
    return 0


def cmd_session(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        ami = AmiClient(host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
                        secret=settings.ami_secret, action_timeout=settings.ami_action_timeout)
        try:
            await ami.start(wait=10)
            async with pool_for(settings) as pool:
                state = await AgentService(pool, ami).apply(args.code, args.event, getattr(args, "reason", ""))
        except (AgentError, AmiUnavailable, AmiActionFailed) as exc:
            raise CliError(str(exc)) from exc
        finally:
            await ami.close()
        print(f"agent {args.code}: {state.value}")
        return 0

    return asyncio.run(go())
