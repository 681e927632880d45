"""`callcenter queue add|list|member`: app_queue queues owned by a tenant."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
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
    async def add(conn: AsyncConnection) -> None:
        tenant_id = await require_tenant(conn, args.tenant)
        try:
            await tenants.upsert_queue(conn, tenant_id, args.name, strategy=args.strategy,
                                       ring_timeout_s=args.ring_timeout, wrapup_s=args.wrap_up,
                                       service_level_s=args.service_level)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"queue {args.name!r}: a value is out of range ({exc.diag.constraint_name})") from exc

    with_connection(settings, add)
    print(f"queue {args.name} ({args.strategy}); run `callcenter asterisk sync` to apply")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [asdict(q) for q in await tenants.list_queues(conn)]

    show_rows(args, with_connection(settings, rows),
              ("name", "tenant_code", "strategy", "ring_timeout_s", "wrapup_s", "service_level_s"))
    return 0


def cmd_member(args: argparse.Namespace, settings: Settings) -> int:
    async def add(conn: AsyncConnection) -> None:
        if await agent_store.get_agent(conn, args.agent) is None:
            raise CliError(f"no agent {args.agent!r}")
        cur = await conn.execute("SELECT 1 FROM queues WHERE name = %s", (args.name,))
        if await cur.fetchone() is None:
            raise CliError(f"no queue {args.name!r}")
        await agent_store.add_membership(conn, args.name, args.agent, args.penalty)

    with_connection(settings, add)
    print(f"agent {args.agent} is a member of {args.name} (penalty {args.penalty})")
    return 0
