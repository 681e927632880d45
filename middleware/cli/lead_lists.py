"""`callcenter lists`: a campaign's lead lists, their priority and active flag, and list resets."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from middleware.cli.campaign import check_list_name
from middleware.cli.common import CliError, add_json_flag, show_rows, with_connection
from middleware.config import Settings
from middleware.dialer.compliance import OUTCOMES, RECYCLED_DISPOSITIONS
from middleware.dialer.outcomes import FINAL_DISPOSITIONS
from middleware.store import campaigns as store

RESETTABLE = (*OUTCOMES, *RECYCLED_DISPOSITIONS)
COUNTED_FOR = timedelta(days=30)  # the abandonment rate's window: a list's calls are kept at least this long


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("lists", help="a campaign's lead lists: priority, active flag, reset")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="a new lead list (then `leads import FILE --campaign C --list NAME`)")
    _list_args(a)
    a.add_argument("--priority", type=int, default=0, help="0-99: the hopper takes the higher first")
    a.add_argument("--inactive", action="store_true", help="made inactive: its leads are not dialled")
    a.set_defaults(func=cmd_add)
    s = verbs.add_parser("set", help="change a list's priority or active flag")
    _list_args(s)
    s.add_argument("--priority", type=int)
    active = s.add_mutually_exclusive_group()
    active.add_argument("--active", dest="active", action="store_const", const=True)
    active.add_argument("--inactive", dest="active", action="store_const", const=False)
    s.set_defaults(func=cmd_set)
    ls = verbs.add_parser("list", help="the campaign's lists with their leads by status")
    ls.add_argument("--campaign", required=True)
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    r = verbs.add_parser("reset", help="make the list's finished leads dialable again, their call counts from zero "
                         f"(leads with a final disposition, {', '.join(FINAL_DISPOSITIONS)}, or on a do-not-call "
                         "list stay as they are)")
    _list_args(r)
    r.add_argument("--only", help="just the leads whose disposition or last outcome is one of these, "
                   f"comma-separated ({', '.join(RESETTABLE)})")
    r.set_defaults(func=cmd_reset)
    rm = verbs.add_parser("remove", help="delete a list and its leads (refused while their calls of the last 30 "
                          "days count in the abandonment rate: make it inactive instead)")
    _list_args(rm)
    rm.set_defaults(func=cmd_remove)


def _list_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--campaign", required=True)


def _check_priority(priority: int | None) -> None:
    if priority is not None and not 0 <= priority <= 99:
        raise CliError(f"--priority {priority}: from 0 to 99")


async def _campaign_id(conn: AsyncConnection, code: str) -> int:
    campaign = await store.get_campaign(conn, code)
    if campaign is None:
        raise CliError(f"no campaign {code!r}")
    return campaign.id


async def _list_of(conn: AsyncConnection, args: argparse.Namespace) -> int:
    found = await store.list_id(conn, await _campaign_id(conn, args.campaign), args.name)
    if found is None:
        raise CliError(f"campaign {args.campaign} has no list {args.name!r} (see `lists list --campaign "
                       f"{args.campaign}`)")
    return found


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    check_list_name(args.name)
    _check_priority(args.priority)

    async def add(conn: AsyncConnection) -> None:
        campaign_id = await _campaign_id(conn, args.campaign)
        try:
            await store.add_list(conn, campaign_id, args.name, args.priority, not args.inactive)
        except psycopg.errors.UniqueViolation as exc:
            raise CliError(f"campaign {args.campaign} has a list {args.name!r} already") from exc

    with_connection(settings, add)
    print(f"list {args.name} of {args.campaign}: priority {args.priority}, "
          f"{'inactive' if args.inactive else 'active'}")
    return 0


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    _check_priority(args.priority)
    if args.priority is None and args.active is None:
        raise CliError("nothing to change: give --priority, --active or --inactive")

    async def change(conn: AsyncConnection) -> None:
        await store.set_list(conn, await _list_of(conn, args), args.priority, args.active)

    with_connection(settings, change)
    print(f"list {args.name} of {args.campaign}: " + ", ".join(
        part for part in (None if args.priority is None else f"priority {args.priority}",
                          None if args.active is None else ("active" if args.active else "inactive")) if part))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await store.lead_lists(conn, await _campaign_id(conn, args.campaign))

    show_rows(args, with_connection(settings, rows), store.LIST_COLUMNS)
    return 0


def parse_only(text: str | None) -> list[str] | None:
    if text is None:
        return None
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if unknown := [k for k in kinds if k not in RESETTABLE]:
        raise CliError(f"--only {', '.join(unknown)}: not an outcome or a recycled disposition "
                       f"({', '.join(RESETTABLE)})")
    if not kinds:
        raise CliError("--only: give at least one outcome or disposition")
    return kinds


def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    only = parse_only(args.only)

    async def reset(conn: AsyncConnection) -> int:
        async with conn.transaction():
            return await store.reset_list(conn, await _list_of(conn, args), FINAL_DISPOSITIONS, only,
                                          datetime.now(UTC))

    count = with_connection(settings, reset)
    print(f"list {args.name} of {args.campaign}: {count} leads dialable again")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(conn: AsyncConnection) -> int:
        async with conn.transaction():
            found = await _list_of(conn, args)
            if recent := await store.list_attempts_since(conn, found, datetime.now(UTC) - COUNTED_FOR):
                raise CliError(f"list {args.name}: {recent} calls to its leads in the last {COUNTED_FOR.days} days "
                               "count in the campaign's abandonment rate and the 72-hour rule; make the list "
                               "inactive instead (`lists set --inactive`)")
            return await store.remove_list(conn, found)

    count = with_connection(settings, remove)
    print(f"list {args.name} of {args.campaign} removed with its {count} leads")
    return 0
