"""Entry point of `callcenter`: builds the parser from each noun's module and maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from middleware.cli import (
    agent,
    asterisk,
    calls,
    campaign,
    cdr,
    customer,
    db,
    demo,
    did,
    ivr,
    lead_lists,
    phone,
    queue,
    recordings,
    report,
    route,
    security,
    serve,
    stack,
    supervise,
    team,
    tenant,
    token,
    trunk,
)
from middleware.cli.common import CliError
from middleware.config import ConfigError, load_settings
from middleware.log import configure


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) that point at --help."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="callcenter", description="Admin CLI of the callcenter middleware for Asterisk 22.")
    parser.add_argument("--config", type=Path, help="TOML settings file (default: $CALLCENTER_CONFIG)")
    parser.add_argument("--log-level", default=None, help="debug, info, warning, error")
    nouns = parser.add_subparsers(dest="noun", metavar="COMMAND", parser_class=Parser)
    nouns.required = True
    for module in (serve, db, asterisk, stack, tenant, team, queue, agent, phone, did, ivr, customer, calls,
                   supervise, report, recordings, cdr, campaign, lead_lists, token, security, trunk, route, demo):
        module.register(nouns)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(toml_path=args.config)
        if args.log_level:
            settings = settings.with_overrides(log_level=args.log_level)
        if args.noun == "serve":
            configure(settings.log_level, settings.log_format)
        else:  # people read the CLI: only problems, unless asked for more
            configure(args.log_level or "warning", "console")
        return int(args.func(args, settings))
    except (CliError, ConfigError) as exc:
        sys.stderr.write(f"callcenter: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("callcenter: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
