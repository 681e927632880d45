"""What every CLI command shares: errors as one line, settings, a pool, tables and JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from psycopg import AsyncConnection

from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.config import Settings
from middleware.store import tenants
from middleware.store.database import DatabaseUnavailable, Pool, open_pool, probe


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""


Command = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


@asynccontextmanager
async def pool_for(settings: Settings) -> AsyncIterator[Pool]:
    # Probe with one plain connection first: it fails in seconds with the server's own words.
    try:
        await probe(settings.database_url)
    except DatabaseUnavailable as exc:
        reason = str(exc)
        hint = " (create it: `callcenter db upgrade`)" if "does not exist" in reason else ""
        raise CliError(f"cannot reach PostgreSQL at {settings.database_url}: {reason}{hint}") from exc
    pool = await open_pool(settings.database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def with_connection(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run one database job for a command: a pool, one connection, the job, done."""

    async def go() -> T:
        async with pool_for(settings) as pool, pool.connection() as conn:
            return await work(conn)

    return asyncio.run(go())


def with_pbx(settings: Settings, work: Callable[[Pool, AmiClient], Awaitable[T]],
             errors: tuple[type[Exception], ...] = ()) -> T:
    """Run one job that needs Asterisk (a short AMI session) and the database; its errors become one line."""
    expected: tuple[type[Exception], ...] = (AmiUnavailable, AmiActionFailed, *errors)

    async def go() -> T:
        ami = AmiClient(host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
                        secret=settings.ami_secret, action_timeout=settings.ami_action_timeout)
        try:
            await ami.start(wait=10)
            async with pool_for(settings) as pool:
                return await work(pool, ami)
        except expected as exc:
            raise CliError(str(exc)) from exc
        finally:
            await ami.close()

    return asyncio.run(go())


async def require_tenant(conn: AsyncConnection, code: str) -> int:
    tid = await tenants.tenant_id(conn, code)
    if tid is None:
        raise CliError(f"no tenant {code!r}")
    return tid


def parse_day(text: str, option: str) -> datetime:
    """A command-line day, YYYY-MM-DD, as its first instant in UTC; a clear error otherwise."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CliError(f"{option} {text!r}: expected YYYY-MM-DD") from exc


def show_rows(args: argparse.Namespace, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A read command's output: JSON with --json, else a table."""
    if getattr(args, "json", False):
        emit_json(list(rows))
    else:
        print_table(rows, columns)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, default=_plain, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal | float):
        return f"{float(value):.1f}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[format_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
