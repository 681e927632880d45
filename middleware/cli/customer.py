"""`callcenter customer add|list`: the customer records IVR lookups find (by caller ID or account)."""

from __future__ import annotations

import argparse
import asyncio

import psycopg

from middleware.cli.common import CliError, add_json_flag, emit_json, pool_for, print_table
from middleware.config import Settings
from middleware.store import customers, tenants


def register(nouns: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = nouns.add_parser("customer", help="customer records for IVR lookups and screen pops")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add or update a customer")
    a.add_argument("account")
    a.add_argument("--tenant", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--phone", action="append", default=[], help="a phone number (repeatable)")
    a.add_argument("--tier", default="", help="e.g. gold, vip")
    a.add_argument("--language", default="", help="preferred language code")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list a tenant's customers")
    ls.add_argument("--tenant", required=True)
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    bad = [p for p in args.phone if not customers.phone_key(p)]
    if bad:
        raise CliError(f"--phone {bad[0]!r} has no digits")

    async def go() -> int:
        async with pool_for(settings) as pool, pool.connection() as conn:
            tid = await tenants.tenant_id(conn, args.tenant)
            if tid is None:
                raise CliError(f"no tenant {args.tenant!r}")
            try:
                cid = await customers.upsert_customer(conn, tid, args.account, args.name, args.phone,
                                                      language=args.language, tier=args.tier)
            except psycopg.errors.CheckViolation as exc:
                raise CliError(f"account {args.account!r}: letters, digits and '-' only") from exc
        print(f"customer {args.account} ({args.name}), id {cid}")
        return 0

    return asyncio.run(go())


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> list[dict[str, object]]:
        async with pool_for(settings) as pool, pool.connection() as conn:
            return await customers.list_customers(conn, args.tenant)

    rows = asyncio.run(go())
    emit_json(rows) if args.json else print_table(rows, ("account", "name", "phones", "tier", "language"))
    return 0
