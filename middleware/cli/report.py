"""`callcenter report`: offered, answered, abandoned, AHT, ASA, service level, longest wait, FCR,
occupancy, utilisation and transfer rate for a period, per queue, agent, campaign or hour."""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg import AsyncConnection

from middleware.cli.common import CliError, emit_json, parse_day, print_table, with_connection
from middleware.config import Settings
from middleware.reports import kpis
from middleware.store import reports

COLUMNS = ("group", "offered", "answered", "abandoned", "abandoned_after_short", "asa_s", "aht_s",
           "service_level", "longest_wait_s", "fcr", "occupancy", "utilisation", "transfer_rate", "csat_avg",
           "csat_responses")


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("report", help="call-center KPIs for a period (table, --csv, --json, --png DIR)")
    p.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (UTC; default: today)")
    p.add_argument("--to", dest="end", help="last day, YYYY-MM-DD, included (default: the first day)")
    p.add_argument("--by", choices=sorted(kpis.GROUPINGS), default="queue")
    p.add_argument("--tenant", help="one tenant's calls and agents")
    p.add_argument("--service-level", type=float, default=20.0, help="answered within this many seconds")
    p.add_argument("--short-abandon", type=float, default=5.0, help="abandons within this many seconds apart")
    p.add_argument("--fcr-hours", type=float, default=24.0, help="a repeat call within this window is no FCR")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true")
    out.add_argument("--json", action="store_true")
    p.add_argument("--png", type=Path, metavar="DIR", help="also draw the charts into DIR")
    p.set_defaults(func=cmd_report)


def period(start: str | None, end: str | None, today: datetime) -> tuple[datetime, datetime]:
    first = parse_day(start, "--from") if start else today.replace(hour=0, minute=0, second=0, microsecond=0)
    last = parse_day(end, "--to") if end else first
    if last < first:
        raise CliError("--to is before --from")
    return first, last + timedelta(days=1)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    start, end = period(args.start, args.end, datetime.now(UTC))
    for name in ("service_level", "short_abandon", "fcr_hours"):
        if getattr(args, name) < 0:
            raise CliError(f"--{name.replace('_', '-')} cannot be negative")
    window = timedelta(hours=args.fcr_hours)

    async def load(conn: AsyncConnection) -> tuple[list[kpis.CallFact], list[tuple[str, str, datetime]]]:
        facts = await reports.call_facts(conn, start, end + window, args.tenant)
        return facts, await reports.state_history(conn, start, end, args.tenant)

    facts, history = with_connection(settings, load)
    spans = kpis.spans_from_history(history, until=min(end, datetime.now(UTC)))
    rows = kpis.report(facts, spans, args.by, start, end, service_level_s=args.service_level,
                       short_abandon_s=args.short_abandon, fcr_window=window)
    data = [asdict(r) for r in rows]
    if args.json:
        emit_json({"from": start, "to": end, "by": args.by, "rows": data})
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(data)
    else:
        print(f"{start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d} by {args.by}")
        print_table(data, COLUMNS)
    if args.png is not None:
        from middleware.reports.charts import draw_all  # matplotlib is imported only for charts

        for path in draw_all(facts, spans, start, end, args.png, service_level_s=args.service_level):
            print(f"chart: {path}", file=sys.stderr)
    return 0
