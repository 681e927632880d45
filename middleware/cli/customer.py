"""`callcenter customer add|list`: the customer records IVR lookups find (by caller ID or account)."""

from __future__ import annotations

import argparse

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import customers


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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

    async def add(conn: AsyncConnection) -> int:
        tenant_id = await require_tenant(conn, args.tenant)
        try:
            return await customers.upsert_customer(conn, tenant_id, args.account, args.name, args.phone,
                                                   language=args.language, tier=args.tier)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"account {args.account!r}: letters, digits and '-' only") from exc

    print(f"customer {args.account} ({args.name}), id {with_connection(settings, add)}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return await customers.list_customers(conn, args.tenant)

    show_rows(args, with_connection(settings, rows), ("account", "name", "phones", "tier", "language"))
    return 0
