"""`callcenter agent add|list|show|login|logout|pause|unpause`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

import psycopg
from psycopg import AsyncConnection

from middleware.agents.service import AgentError, AgentService
from middleware.agents.state import AgentEvent, AgentState
from middleware.ami.client import AmiClient
from middleware.cli.common import (
    CliError,
    add_json_flag,
    emit_json,
    require_tenant,
    show_rows,
    with_connection,
    with_pbx,
)
from middleware.config import Settings
from middleware.dialing.manual import PERMISSIONS
from middleware.event_stream import EventStream
from middleware.store import agents as agent_store
from middleware.store.database import Pool


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    rm = verbs.add_parser("remove", help="delete an agent (log them out first)")
    rm.add_argument("code")
    rm.set_defaults(func=cmd_remove)
    sk = verbs.add_parser("skill", help="set a skill's proficiency (1-5; 0 removes it)")
    sk.add_argument("code")
    sk.add_argument("skill")
    sk.add_argument("proficiency", type=int, choices=range(0, 6), metavar="PROFICIENCY")
    sk.set_defaults(func=cmd_skill)
    dp = verbs.add_parser("dial", help="what the agent may dial from the phone: none, national, international")
    dp.add_argument("code")
    dp.add_argument("permission", choices=PERMISSIONS)
    dp.set_defaults(func=cmd_dial)
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


def cmd_dial(args: argparse.Namespace, settings: Settings) -> int:
    async def change(conn: AsyncConnection) -> bool:
        return await agent_store.set_dial_permission(conn, args.code, args.permission)

    if not with_connection(settings, change):
        raise CliError(f"no agent {args.code!r}")
    print(f"agent {args.code} may dial: {args.permission}")
    return 0


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
    async def one(conn: AsyncConnection) -> dict[str, Any]:
        agent = await agent_store.get_agent(conn, args.code)
        if agent is None:
            raise CliError(f"no agent {args.code!r}")
        members = await agent_store.memberships(conn, args.code)
        return {**asdict(agent), "skills": await agent_store.skills_of(conn, args.code),
                "queues": [{"queue": m.queue, "penalty": m.penalty} for m in members if m.eligible]}

    data = with_connection(settings, one)
    if args.json:
        emit_json(data)
        return 0
    for key in ("code", "name", "tenant_code", "state", "state_reason", "endpoint"):
        print(f"{key:12} {data[key] if data[key] not in (None, '') else '-'}")
    skills = ", ".join(f"{k} {v}" for k, v in data["skills"].items())
    print(f"{'skills':12} {skills or '-'}")
    queues = ", ".join(f"{q['queue']} (penalty {q['penalty']})" for q in data["queues"])
    print(f"{'queues':12} {queues or '-'}")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(conn: AsyncConnection) -> None:
        agent = await agent_store.get_agent(conn, args.code)
        if agent is None:
            raise CliError(f"no agent {args.code!r}")
        if agent.state.value != "logged_out":
            raise CliError(f"agent {args.code} is {agent.state.value}: `callcenter agent logout {args.code}` first")
        await agent_store.remove_agent(conn, args.code)

    with_connection(settings, remove)
    print(f"agent {args.code} removed")
    return 0


def cmd_skill(args: argparse.Namespace, settings: Settings) -> int:
    async def set_(conn: AsyncConnection) -> None:
        try:
            found = await agent_store.set_skill(conn, args.code, args.skill, args.proficiency)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"skill name {args.skill!r}: letters, digits, '_', '.', '-'") from exc
        if not found:
            raise CliError(f"no agent {args.code!r}")

    with_connection(settings, set_)
    print(f"agent {args.code}: {args.skill} " + (f"proficiency {args.proficiency}" if args.proficiency else "removed")
          + "; logged-in agents pick it up at the next `callcenter asterisk sync` or login")
    return 0


def cmd_session(args: argparse.Namespace, settings: Settings) -> int:
    async def apply(pool: Pool, ami: AmiClient) -> AgentState:
        events = EventStream(pool)  # the change is NOTIFYed to wallboards too
        try:
            return await AgentService(pool, ami, events).apply(args.code, args.event, getattr(args, "reason", ""))
        finally:
            await events.flush()  # before the pool closes

    state = with_pbx(settings, apply, (AgentError,))
    print(f"agent {args.code}: {state.value}")
    return 0
