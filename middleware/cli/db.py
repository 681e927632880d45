"""`callcenter db`: create, migrate (alembic), and make sure a PostgreSQL server answers."""

from __future__ import annotations

import argparse

from alembic.util.exc import CommandError

from middleware.cli.common import CliError
from middleware.config import Settings
from middleware.runtime import postgres
from middleware.store import database


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("db", help="database: create, upgrade, downgrade, current, ensure-server")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    up = verbs.add_parser("upgrade", help="create the database if needed and migrate it (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_upgrade)
    down = verbs.add_parser("downgrade", help="migrate back to a revision (base = empty)")
    down.add_argument("revision")
    down.set_defaults(func=cmd_downgrade)
    cur = verbs.add_parser("current", help="print the schema revision")
    cur.set_defaults(func=cmd_current)
    ens = verbs.add_parser("ensure-server",
                           help="start PostgreSQL on 127.0.0.1:5432 (installing Debian's package) if none answers")
    ens.set_defaults(func=cmd_ensure_server)


def cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if database.ensure_database(settings.database_url):
            print(f"created database {database.database_name(settings.database_url)}")
        database.upgrade(settings.database_url, args.revision)
    except (database.DatabaseUnavailable, CommandError) as exc:
        raise CliError(str(exc)) from exc
    print(f"database at revision {database.current_revision(settings.database_url)}")
    return 0


def cmd_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    try:
        database.downgrade(settings.database_url, args.revision)
    except (database.DatabaseUnavailable, CommandError) as exc:
        raise CliError(str(exc)) from exc
    print(f"database at revision {database.current_revision(settings.database_url) or 'base'}")
    return 0


def cmd_current(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(database.current_revision(settings.database_url) or "base (empty)")
    except database.DatabaseUnavailable as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_ensure_server(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(postgres.ensure_server(settings.database_url))
    except postgres.PostgresError as exc:
        raise CliError(str(exc)) from exc
    return 0
