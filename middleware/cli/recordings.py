"""`callcenter recordings search|show|export|verify|purge`: the index of every recorded call."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from middleware.cli.common import (
    CliError,
    add_json_flag,
    emit_json,
    parse_day,
    require_tenant,
    show_rows,
    with_connection,
)
from middleware.config import Settings
from middleware.recordings.media import sha256_of
from middleware.recordings.retention import confined
from middleware.recordings.service import FORMATS
from middleware.store import recordings

LIST_COLUMNS = ("id", "tenant", "started_at", "duration_s", "agent_code", "queue", "caller_number", "disposition")


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("recordings", help="search, show, export, verify and purge call recordings")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    s = verbs.add_parser("search", help="recordings matching every filter given")
    s.add_argument("--tenant")
    s.add_argument("--agent")
    s.add_argument("--caller", help="digits the caller's number contains")
    s.add_argument("--queue")
    s.add_argument("--campaign")
    s.add_argument("--from", dest="since", help="YYYY-MM-DD (UTC)")
    s.add_argument("--to", dest="until", help="YYYY-MM-DD, included")
    s.add_argument("--min-duration", type=float, help="seconds")
    s.add_argument("--disposition")
    s.add_argument("--limit", type=int, default=100)
    add_json_flag(s)
    s.set_defaults(func=cmd_search)
    sh = verbs.add_parser("show", help="one recording's index row")
    sh.add_argument("id", type=int)
    add_json_flag(sh)
    sh.set_defaults(func=cmd_show)
    ex = verbs.add_parser("export", help="copy recordings (by id) into a directory, checking each checksum")
    ex.add_argument("ids", type=int, nargs="+")
    ex.add_argument("--to", type=Path, required=True, dest="dest")
    ex.set_defaults(func=cmd_export)
    v = verbs.add_parser("verify", help="checksums, rows whose file is gone, files nobody indexed")
    add_json_flag(v)
    v.set_defaults(func=cmd_verify)
    pu = verbs.add_parser("purge", help="delete recordings past their tenant's retention")
    pu.add_argument("--tenant", help="only this tenant's recordings")
    pu.add_argument("--older-than", type=int, metavar="DAYS",
                    help="instead of the tenant's retention (needs --tenant: never every tenant's at once)")
    pu.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    pu.set_defaults(func=cmd_purge)


def _day(text: str | None, what: str, plus: int = 0) -> datetime | None:
    return None if text is None else parse_day(text, what) + timedelta(days=plus)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.min_duration is not None and args.min_duration < 0:
        raise CliError("--min-duration cannot be negative")
    q = recordings.Search(tenant=args.tenant, agent=args.agent, caller=args.caller, queue=args.queue,
                          campaign=args.campaign, since=_day(args.since, "--from"),
                          until=_day(args.until, "--to", plus=1), min_duration_s=args.min_duration,
                          disposition=args.disposition, limit=args.limit)

    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await recordings.search(conn, q)

    show_rows(args, with_connection(settings, rows), LIST_COLUMNS)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def one(conn: AsyncConnection) -> dict[str, Any]:
        row = await recordings.get(conn, args.id)
        if row is None:
            raise CliError(f"no recording {args.id}")
        return row

    row = with_connection(settings, one)
    if args.json:
        emit_json(row)
    else:
        for key, value in row.items():
            print(f"{key:14} {value if value is not None else '-'}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        found = [await recordings.get(conn, i) for i in args.ids]
        missing = [i for i, r in zip(args.ids, found, strict=True) if r is None]
        if missing:
            raise CliError(f"no recording {', '.join(map(str, missing))}")
        return [r for r in found if r is not None]

    chosen = with_connection(settings, rows)
    args.dest.mkdir(parents=True, exist_ok=True)
    failed = 0
    for row in chosen:
        src = Path(row["path"])
        if not src.is_file():
            print(f"{row['id']}: file missing: {src}")
            failed += 1
            continue
        if sha256_of(src) != row["sha256"]:
            print(f"{row['id']}: checksum mismatch, not exported: {src}")
            failed += 1
            continue
        dest = args.dest / f"{row['tenant']}-{row['linkedid']}{src.suffix}"
        shutil.copy2(src, dest)
        print(f"{row['id']}: {dest}")
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await recordings.all_rows(conn)

    indexed = with_connection(settings, rows)
    root = settings.recordings_root
    report: dict[str, list[Any]] = {"ok": [], "checksum_mismatch": [], "file_missing": [], "not_indexed": []}
    known = set()
    for row in indexed:
        path = Path(row["path"])
        known.add(path.resolve())
        if not path.is_file():
            report["file_missing"].append(row["id"])
        elif sha256_of(path) != row["sha256"]:
            report["checksum_mismatch"].append(row["id"])
        else:
            report["ok"].append(row["id"])
    if root.is_dir():
        for path in sorted(root.glob("*/*")):
            if path.suffix.lstrip(".") in FORMATS and path.resolve() not in known:
                report["not_indexed"].append(str(path))
    if args.json:
        emit_json(report)
    else:
        print(f"{len(report['ok'])} recordings verified")
        for key in ("checksum_mismatch", "file_missing", "not_indexed"):
            for item in report[key]:
                print(f"{key.replace('_', ' ')}: {item}")
    return 0 if not (report["checksum_mismatch"] or report["file_missing"] or report["not_indexed"]) else 1


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    if args.older_than is not None and args.older_than < 1:
        raise CliError("--older-than must be at least 1 day")
    if args.older_than is not None and not args.tenant:
        raise CliError("--older-than overrides a tenant's retention: name the tenant with --tenant")
    root = settings.recordings_root

    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        if args.tenant:
            await require_tenant(conn, args.tenant)
        return await recordings.expired(conn, datetime.now(UTC), args.older_than, args.tenant)

    due = with_connection(settings, rows)
    for row in due:
        verb = "would delete" if args.dry_run else "delete"
        when = f"{row['started_at']:%Y-%m-%d}" if row["started_at"] else "(no start time)"
        print(f"{verb} {row['id']} {row['tenant']} {when} {row['path']} "
              f"(retention {args.older_than or row['retention_days']} days)")
    if args.dry_run or not due:
        print(f"{len(due)} recording(s) past retention{' (dry run: nothing deleted)' if args.dry_run else ''}")
        return 0
    deleted, refused = [], 0
    for row in due:
        target = confined(row["path"], root, row["tenant"])
        if target is None:  # the row points outside its tenant's folder: delete neither, say so
            refused += 1
            sys.stderr.write(f"recording {row['id']}: {row['path']} is not under {root / str(row['tenant'])}: "
                             "kept (file and row)\n")
            continue
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            refused += 1
            sys.stderr.write(f"recording {row['id']}: cannot delete {target}: {exc.strerror}: row kept\n")
            continue
        deleted.append(row["id"])

    async def drop(conn: AsyncConnection) -> int:
        return await recordings.delete(conn, deleted)

    print(f"{with_connection(settings, drop) if deleted else 0} recording(s) deleted"
          + (f", {refused} kept (see above)" if refused else ""))
    return 1 if refused else 0
