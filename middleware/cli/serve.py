"""`callcenter serve`: the middleware service (FastAGI + AMI + HTTP API on one loop)."""

from __future__ import annotations

import argparse

from middleware.ami.client import AmiUnavailable
from middleware.cli.common import CliError
from middleware.config import Settings
from middleware.event_loop import run as run_on
from middleware.service import PARTS, run


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("serve", help="run the middleware service",
                         description="Run the FastAGI server, the AMI consumer and the HTTP API.")
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts to run (default all: {','.join(PARTS)})")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    only = frozenset(part.strip() for part in args.only.split(",") if part.strip())
    unknown = only - set(PARTS)
    if unknown or not only:
        raise CliError(f"--only takes some of {', '.join(PARTS)}; got {args.only!r}")
    try:
        run_on(run(settings, only), settings.event_loop)
    except AmiUnavailable as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot start the service: {exc}") from exc
    return 0
