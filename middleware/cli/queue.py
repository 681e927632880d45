"""`callcenter queue add|list|show`: app_queue queues owned by a tenant."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict

import psycopg

from middleware.cli.common import CliError, add_json_flag, emit_json, pool_for, print_table
from middleware.config import Settings
from middleware.store import agents as agent_store
from middleware.store import tenants

STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered", "linear", "wrandom")


def register(nouns: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = nouns.add_parser("queue", help="queues")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add or change a queue (then `callcenter asterisk sync`)")
    a.add_argument("name")
    a.add_argument("--tenant", required=True)
    a.add_argument("--strategy", choices=STRATEGIES, default="ringall")
    a.add_argument("--ring-timeout", type=int, default=15, help="seconds to ring one agent")
    a.add_argument("--wrap-up", type=int, default=5, help="seconds of wrap-up after a call")
    a.add_argument("--service-level", type=int, default=20, help="service-level threshold, seconds")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list queues")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    m = verbs.add_parser("member", help="make an agent a member of a queue")
    m.add_argument("name")
    m.add_argument("agent")
    m.add_argument("--penalty", type=int, default=0)
    m.set_defaults(func=cmd_member)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        async with pool_for(settings) as pool, pool.connection() as conn:
            cur = await conn.execute("SELECT id FROM tenants WHERE code = %s", (args.tenant,))
            row = await cur.fetchone()
            if row is None:
                raise CliError(f"no tenant {args.tenant!r}")
            try:
                await tenants.upsert_queue(conn, row[0], args.name, strategy=args.strategy,
                                           ring_timeout_s=args.ring_timeout, wrapup_s=args.wrap_up,
                                           service_level_s=args.service_level)
            except psycopg.errors.CheckViolation as exc:
                raise CliError(f"queue {args.name!r}: a value is out of range ({exc.diag.constraint_name})") from exc
        print(f"queue {args.name} ({args.strategy}); run `callcenter asterisk sync` to apply")
        return 0

    return asyncio.run(go())


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> list[dict[str, object]]:
        async with pool_for(settings) as pool, pool.connection() as conn:
            return [asdict(q) for q in await tenants.list_queues(conn)]

    rows = asyncio.run(go())
    columns = ("name", "tenant_code", "strategy", "ring_timeout_s", "wrapup_s", "service_level_s")
    emit_json(rows) if args.json else print_table(rows, columns)
    return 0


def cmd_member(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        async with pool_for(settings) as pool, pool.connection() as conn:
            if await agent_store.get_agent(conn, args.agent) is None:
                raise CliError(f"no agent {args.agent!r}")
            cur = await conn.execute("SELECT 1 FROM queues WHERE name = %s", (args.name,))
            if await cur.fetchone() is None:
                raise CliError(f"no queue {args.name!r}")
            await agent_store.add_membership(conn, args.name, args.agent, args.penalty)
        print(f"agent {args.agent} is a member of {args.name} (penalty {args.penalty})")
        return 0

    return asyncio.run(go())
