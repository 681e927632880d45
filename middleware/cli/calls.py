"""`callcenter call list|show`: the call records (one per linkedid)."""

from __future__ import annotations

import argparse
from typing import Any

from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, emit_json, format_cell, show_rows, with_connection
from middleware.config import Settings
from middleware.store import calls


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("call", help="call records")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    ls = verbs.add_parser("list", help="the latest calls")
    ls.add_argument("--limit", type=int, default=20)
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    sh = verbs.add_parser("show", help="one call: IVR path, queue, agent, legs")
    sh.add_argument("linkedid")
    add_json_flag(sh)
    sh.set_defaults(func=cmd_show)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")

    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return await calls.list_calls(conn, args.limit)

    show_rows(args, with_connection(settings, rows), ("linkedid", "started_at", "caller_number", "did", "ivr_digits",
                                                      "queue", "agent_code", "wait_s", "talk_s", "disposition"))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def one(conn: AsyncConnection) -> dict[str, Any] | None:
        return await calls.get_call(conn, args.linkedid)

    row = with_connection(settings, one)
    if row is None:
        raise CliError(f"no call {args.linkedid!r}")
    if args.json:
        emit_json(row)
        return 0
    for title, keys in SECTIONS:
        print(title)
        for key in keys:
            value = row.get(key)
            if isinstance(value, list):
                value = ", ".join(map(str, value)) or None
            print(f"  {key:18} {format_cell(value)}")
    print("ivr path")
    for step in row["ivr_path"]:
        print(f"  {step.get('node', '?'):20} {step.get('input') or '':14} {step.get('outcome')}")
    print("legs")
    for leg in row["legs"]:
        print(f"  {leg['role']:7} {leg['channel']:36} {leg['started_at']} -> {leg['ended_at']} cause {leg['cause']}")
    return 0


SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("call", ("linkedid", "tenant", "direction", "did", "caller_number", "caller_name", "started_at",
              "answered_at", "ended_at", "duration_s", "disposition", "ended_by", "hangup_cause")),
    ("queue", ("queue", "queue_entered_at", "wait_s", "ring_attempts", "agent_code", "agent_channel",
               "connected_at", "talk_s")),
    ("screen pop (what the IVR learned)", ("ivr_flow", "ivr_outcome", "ivr_digits", "language", "customer_name",
                                           "customer_tier", "account", "reason", "skills", "priority")),
)
