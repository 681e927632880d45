"""`callcenter cdr reconcile`: call records for calls the middleware missed, from Asterisk's own rows."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection

from middleware.cdr.reconcile import rebuild
from middleware.cli.common import parse_day, with_connection
from middleware.config import Settings
from middleware.store import agents as agent_store
from middleware.store import calls


def register(nouns: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = nouns.add_parser("cdr", help="call records")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    r = verbs.add_parser("reconcile", help="rebuild missing call records from Asterisk's CDR rows (cdr_pgsql)")
    r.add_argument("--since", help="YYYY-MM-DD (UTC; default: 7 days ago)")
    r.add_argument("--dry-run", action="store_true", help="count what is missing; write nothing")
    r.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    since = parse_day(args.since, "--since") if args.since else datetime.now(UTC) - timedelta(days=7)

    async def run(conn: AsyncConnection) -> int:
        raw = await calls.unrecorded_raw_cdrs(conn, since)
        phones = {p.endpoint: p.agent_code for p in await agent_store.list_phones(conn)}
        records = rebuild(raw, phones.get)
        if records and not args.dry_run:
            await calls.save_records(conn, records)
            await calls.mark_reconciled(conn, [r.linkedid for r in records])
        return len(records)

    count = with_connection(settings, run)
    verb = "missing" if args.dry_run else "rebuilt"
    print(f"{count} call record(s) {verb} from Asterisk's CDR rows since {since:%Y-%m-%d}")
    return 0
