"""`callcenter ivr validate|load|show|list`: IVR flows as YAML files, checked before they go live."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, pool_for, show_rows, with_connection
from middleware.config import Settings
from middleware.ivr.flow import InvalidFlow, PromptExists
from middleware.ivr.library import check_text, tree
from middleware.ivr.service import load
from middleware.ivr.validation import parse_flow
from middleware.runtime.sounds import prompt_checker
from middleware.store import flows


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("ivr", help="IVR flows: validate, load, show, list")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    v = verbs.add_parser("validate", help="report every problem in a flow file (exit 1 if any)")
    v.add_argument("file", type=Path)
    v.add_argument("--sounds-root", type=Path, help="Asterisk root whose prompts to check (default: the rootfs)")
    v.add_argument("--no-prompts", action="store_true", help="skip the prompt-file checks")
    v.set_defaults(func=cmd_validate)
    ld = verbs.add_parser("load", help="validate a flow file and store it for a tenant")
    ld.add_argument("file", type=Path)
    ld.add_argument("--tenant", required=True)
    ld.add_argument("--sounds-root", type=Path)
    ld.add_argument("--no-prompts", action="store_true")
    ld.set_defaults(func=cmd_load)
    sh = verbs.add_parser("show", help="print a stored flow as a tree")
    sh.add_argument("flow")
    sh.add_argument("--tenant", required=True)
    sh.set_defaults(func=cmd_show)
    ls = verbs.add_parser("list", help="list stored flows")
    ls.add_argument("--tenant")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc


def _prompts(args: argparse.Namespace, settings: Settings) -> PromptExists | None:
    if args.no_prompts:
        return None
    root = args.sounds_root or settings.asterisk_root
    if not (root / "usr/share/asterisk/sounds").exists():
        raise CliError(f"no Asterisk sounds under {root}: build the rootfs, pass --sounds-root, or --no-prompts")
    return prompt_checker(root)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    problems = check_text(_read(args.file), _prompts(args, settings))
    for problem in problems:
        print(f"{args.file}: {problem}")
    if problems:
        print(f"{args.file}: {len(problems)} problem(s); not loadable")
        return 1
    print(f"{args.file}: ok")
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    text = _read(args.file)
    prompts = _prompts(args, settings)

    async def go() -> int:
        async with pool_for(settings) as pool:
            try:
                flow, version = await load(pool, args.tenant, text, prompts)
            except InvalidFlow as exc:
                for problem in exc.problems:
                    print(f"{args.file}: {problem}")
                raise CliError(f"{args.file}: {len(exc.problems)} problem(s); flow not loaded") from exc
        print(f"flow {flow.name} loaded for {args.tenant} (version {version}, {len(flow.nodes)} nodes); "
              "point a DID at it with `callcenter did add NUMBER --flow NAME`, then `callcenter asterisk sync`")
        return 0

    return asyncio.run(go())


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def one(conn: AsyncConnection) -> flows.FlowRow | None:
        return await flows.get_flow(conn, args.tenant, args.flow)

    row = with_connection(settings, one)
    if row is None:
        raise CliError(f"no flow {args.flow!r} for tenant {args.tenant!r}")
    flow = parse_flow(row.definition)
    print(f"{flow.name} (tenant {row.tenant_code}, version {row.version}, languages {', '.join(flow.languages)})")
    if flow.description:
        print(f"  {flow.description}")
    print("\n".join(tree(flow)))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [{"tenant": r.tenant_code, "name": r.name, "version": r.version, "loaded_at": r.loaded_at,
                 "description": r.description} for r in await flows.list_flows(conn, args.tenant)]

    show_rows(args, with_connection(settings, rows), ("tenant", "name", "version", "loaded_at", "description"))
    return 0
