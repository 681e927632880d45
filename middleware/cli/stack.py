"""`callcenter stack up|down|status`: Asterisk + the middleware, under chroot or docker compose."""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

from middleware.cli.common import CliError, emit_json
from middleware.config import Settings
from middleware.runtime import asterisk, rootfs, stack


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("stack", help="bring the local stack (Asterisk + middleware) up or down")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    for name, func, text in (("up", cmd_up, "start Asterisk and the middleware"),
                             ("down", cmd_down, "stop what `stack up` started"),
                             ("status", cmd_status, "show what runs and whether it is healthy")):
        v = verbs.add_parser(name, help=text)
        v.add_argument("--mode", choices=("auto", "chroot", "docker"), default="auto",
                       help="docker compose where an engine runs, else the chroot rootfs (default auto)")
        if name == "status":
            v.add_argument("--json", action="store_true", help="print JSON")
        v.set_defaults(func=func)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(stack.up(settings, args.mode))
    except (stack.StackError, asterisk.AsteriskError, rootfs.RootfsError, subprocess.CalledProcessError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(stack.down(settings, args.mode))
    except (stack.StackError, subprocess.CalledProcessError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    ast = asterisk.status(settings)
    report: dict[str, Any] = {
        "rootfs": {"path": str(settings.asterisk_root), "current": rootfs.is_current(settings.asterisk_root)},
        "asterisk": {"running": ast.running, "pid": ast.pid, "detail": ast.detail},
        "middleware": {"pid": stack.middleware_pid(settings), "health": stack.health(settings)},
    }
    if args.json:
        emit_json(report)
    else:
        fresh = "current" if report["rootfs"]["current"] else "missing or stale"
        print(f"rootfs      {report['rootfs']['path']} ({fresh})")
        print(f"asterisk    {'running pid ' + str(ast.pid) if ast.running else 'stopped'}  {ast.detail}")
        health = report["middleware"]["health"]
        mw_pid = report["middleware"]["pid"]
        parts = [f"{name} {'ok' if part.get('ok') else 'DOWN'}" for name, part in (health or {}).items()
                 if isinstance(part, dict)]
        print(f"middleware  {'running pid ' + str(mw_pid) if mw_pid else 'stopped'}  {', '.join(parts)}")
    return 0 if ast.running else 1
