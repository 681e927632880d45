"""`callcenter route add|list|remove`: a tenant's outbound routes (number prefixes -> trunks in order)."""

from __future__ import annotations

import argparse
from typing import Any

from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import routes as store
from middleware.store import tenants
from middleware.store import trunks as trunk_store
from middleware.trunks.routes import InvalidRoute, Route, check_route


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("route", help="outbound routes: which trunks a tenant's outside calls leave through")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add or replace a route (applies to the next call: no sync needed)")
    a.add_argument("tenant")
    a.add_argument("name", help="e.g. us, international")
    a.add_argument("--trunks", required=True, metavar="TRUNK,TRUNK", help="in failover order")
    a.add_argument("--match", default="+", metavar="PREFIX,PREFIX",
                   help="E.164 prefixes the route takes, e.g. +1 or +44,+353 (default +: every number)")
    a.add_argument("--strip", type=int, default=0, help="leading characters of the E.164 number to remove")
    a.add_argument("--prepend", default="", help="digits to put in front, after stripping")
    a.add_argument("--caller-id", help="E.164 number presented on the route's calls that bring none of their own")
    a.add_argument("--position", type=int, help="routes are tried in this order (default: after the others)")
    a.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="list routes")
    ls.add_argument("--tenant")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    rm = verbs.add_parser("remove", help="remove a route")
    rm.add_argument("tenant")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    async def add(conn: AsyncConnection) -> Route:
        tenant_id = await require_tenant(conn, args.tenant)
        existing = await store.list_routes(conn, tenant_id)
        position = args.position
        if position is None:
            same = next((r for r in existing if r.name == args.name), None)
            position = same.position if same else max((r.position for r in existing), default=-10) + 10
        route = Route(args.name, tuple(args.trunks.split(",")), tuple(args.match.split(",")), args.strip,
                      args.prepend, args.caller_id, position)
        try:
            checked = check_route(route, [t.name for t in await trunk_store.list_trunks(conn)])
        except InvalidRoute as exc:
            raise CliError(f"route {args.name}: {exc}") from exc
        await store.save_route(conn, tenant_id, checked)
        return checked

    route = with_connection(settings, add)
    print(f"route {args.tenant}/{route.name} (position {route.position}): {','.join(route.prefixes)} -> "
          f"{' then '.join(route.trunks)}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        out = []
        codes = [args.tenant] if args.tenant else [t["code"] for t in await tenants.list_tenants(conn)]
        for code in codes:
            tenant_id = await require_tenant(conn, code)
            out += [{"tenant": code, "name": r.name, "position": r.position, "match": ",".join(r.prefixes),
                     "trunks": ",".join(r.trunks), "strip": r.strip, "prepend": r.prepend, "caller_id": r.caller_id}
                    for r in await store.list_routes(conn, tenant_id)]
        return out

    show_rows(args, with_connection(settings, rows),
              ("tenant", "position", "name", "match", "trunks", "strip", "prepend", "caller_id"))
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(conn: AsyncConnection) -> bool:
        return await store.remove_route(conn, await require_tenant(conn, args.tenant), args.name)

    if not with_connection(settings, remove):
        raise CliError(f"no route {args.name!r} for tenant {args.tenant}")
    print(f"route {args.tenant}/{args.name} removed")
    return 0
