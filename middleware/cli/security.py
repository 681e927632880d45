"""`callcenter security blocks|unblock`: addresses blocked after repeated failed SIP authentications."""

from __future__ import annotations

import argparse
import ipaddress

from middleware.ami.client import AmiClient
from middleware.cli.common import CliError, add_json_flag, show_rows, with_connection, with_pbx
from middleware.config import Settings
from middleware.provision.service import provision
from middleware.store import sip_blocks
from middleware.store.database import Pool


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("security", help="SIP addresses blocked after failed authentications")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    b = verbs.add_parser("blocks", help="list blocked addresses")
    add_json_flag(b)
    b.set_defaults(func=cmd_blocks)
    u = verbs.add_parser("unblock", help="lift a block now (Asterisk's ACL is rewritten and reloaded)")
    u.add_argument("address")
    u.set_defaults(func=cmd_unblock)


def cmd_blocks(args: argparse.Namespace, settings: Settings) -> int:
    rows = with_connection(settings, sip_blocks.list_blocks)
    show_rows(args, rows, ["address", "failures", "blocked_at", "blocked_until", "last_account"])
    return 0


def cmd_unblock(args: argparse.Namespace, settings: Settings) -> int:
    try:
        address = str(ipaddress.ip_address(args.address))
    except ValueError:
        raise CliError(f"{args.address!r} is not an IP address") from None

    async def unblock(pool: Pool, ami: AmiClient) -> bool:
        async with pool.connection() as conn:
            removed = await sip_blocks.remove(conn, address)
        if removed:
            await provision(pool, settings.generated_dir, ami, cdr_conninfo=settings.cdr_database_url or None)
        return removed

    if not with_pbx(settings, unblock):
        raise CliError(f"{address} is not blocked")
    print(f"{address} unblocked")
    return 0
