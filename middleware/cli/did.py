"""`callcenter did add|list`: the numbers callers dial, each with its IVR flow and fallback queue."""

from __future__ import annotations

import argparse

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import flows, tenants


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("did", help="DIDs (inbound numbers)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add a DID (then `callcenter asterisk sync`)")
    a.add_argument("number")
    a.add_argument("--tenant", required=True)
    a.add_argument("--queue", required=True, help="queue used when the IVR cannot run")
    a.add_argument("--flow", help="IVR flow (loaded with `callcenter ivr load`); none: straight to --queue")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list DIDs")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    async def add(conn: AsyncConnection) -> None:
        tenant_id = await require_tenant(conn, args.tenant)
        if not await tenants.queue_exists(conn, args.queue):
            raise CliError(f"no queue {args.queue!r}")
        if args.flow and await flows.get_flow(conn, args.tenant, args.flow) is None:
            raise CliError(f"no flow {args.flow!r} for tenant {args.tenant} (`callcenter ivr load` it first)")
        try:
            await tenants.upsert_did(conn, tenant_id, args.number, args.queue, args.flow)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"DID {args.number!r} must be digits, optionally with a leading +") from exc

    with_connection(settings, add)
    print(f"DID {args.number} -> tenant {args.tenant}, flow {args.flow or '-'}, fallback queue {args.queue}; "
          "run `callcenter asterisk sync` to apply")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [{"number": d.number, "tenant": d.tenant_code, "flow": d.flow, "fallback_queue": d.fallback_queue}
                for d in await tenants.list_dids(conn)]

    show_rows(args, with_connection(settings, rows), ("number", "tenant", "flow", "fallback_queue"))
    return 0
