"""`callcenter team add|list`: teams of agents (an overflow rule brings a team into a queue)."""

from __future__ import annotations

import argparse

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import teams


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("team", help="teams of agents")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="create a team or replace its agents")
    a.add_argument("name")
    a.add_argument("--tenant", required=True)
    a.add_argument("--agents", required=True, help="comma-separated agent codes")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list teams and their agents")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    codes = [c.strip() for c in args.agents.split(",") if c.strip()]
    if not codes:
        raise CliError("--agents names no agent")

    async def add(conn: AsyncConnection) -> None:
        try:
            missing = await teams.upsert_team(conn, await require_tenant(conn, args.tenant), args.name, codes)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"team name {args.name!r}: lowercase letters, digits, '_' and '-'") from exc
        if missing:
            raise CliError(f"no agent(s) {', '.join(missing)}")

    with_connection(settings, add)
    print(f"team {args.name}: {', '.join(codes)}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return await teams.list_teams(conn)

    show_rows(args, with_connection(settings, rows), ("team", "agents"))
    return 0
