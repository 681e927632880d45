"""`callcenter cdr reconcile`: call records for calls the middleware missed, from Asterisk's own rows;
`callcenter cdr journal`: what waits in the outage journal and what was quarantined from it."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection

from middleware.cdr.journal import Journal
from middleware.cdr.reconcile import rebuild
from middleware.cli.common import add_json_flag, emit_json, parse_day, print_table, with_connection
from middleware.config import Settings
from middleware.store import agents as agent_store
from middleware.store import calls


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("cdr", help="call records")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    r = verbs.add_parser("reconcile", help="rebuild missing call records from Asterisk's CDR rows (cdr_pgsql)")
    r.add_argument("--since", help="YYYY-MM-DD (UTC; default: 7 days ago)")
    r.add_argument("--dry-run", action="store_true", help="count what is missing; write nothing")
    r.set_defaults(func=cmd_reconcile)
    j = verbs.add_parser("journal", help="records waiting in the outage journal and lines quarantined from it")
    add_json_flag(j)
    j.set_defaults(func=cmd_journal)


def cmd_journal(args: argparse.Namespace, settings: Settings) -> int:
    journal = Journal(settings.journal_path)
    kept = journal.quarantined()
    if args.json:
        emit_json({"journal": str(journal.path), "backlog": journal.backlog(),
                   "quarantine": str(journal.quarantine_path), "quarantined": kept})
        return 0
    print(f"{journal.backlog()} record(s) waiting in {journal.path}")
    print(f"{len(kept)} line(s) quarantined in {journal.quarantine_path}")
    if kept:
        print_table([{**k, "text": str(k.get("text", ""))[:60]} for k in kept],
                    ["quarantined_at", "line", "reason", "text"])
    return 0


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
