"""`callcenter asterisk`: build the rootfs, push provisioning, run a CLI command, show the log."""

from __future__ import annotations

import argparse
import subprocess

from middleware.agents.service import AgentService
from middleware.ami.client import AmiClient
from middleware.cli.common import CliError, with_pbx
from middleware.config import Settings
from middleware.provision.render import ProvisionError
from middleware.provision.service import ProvisionResult, provision
from middleware.runtime import asterisk as runtime
from middleware.runtime import rootfs
from middleware.store.database import Pool


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("asterisk", help="Asterisk: build the rootfs, sync provisioning, run CLI commands")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    b = verbs.add_parser("build", help="build the Debian sid rootfs with Asterisk 22 and SIPp (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cached rootfs is current")
    b.set_defaults(func=cmd_build)
    s = verbs.add_parser("sync", help="render phones, queues and DIDs from PostgreSQL and reload Asterisk")
    s.set_defaults(func=cmd_sync)
    c = verbs.add_parser("cli", help="run one Asterisk CLI command (asterisk -rx)")
    c.add_argument("words", nargs="+", help="the command, e.g. pjsip show endpoints")
    c.set_defaults(func=cmd_cli)
    lg = verbs.add_parser("logs", help="print the end of Asterisk's full log")
    lg.add_argument("-n", "--lines", type=int, default=50)
    lg.set_defaults(func=cmd_logs)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    try:
        built = rootfs.build(settings.asterisk_root, force=args.force)
    except (rootfs.RootfsError, subprocess.CalledProcessError) as exc:
        raise CliError(f"rootfs build failed: {exc}") from exc
    print(("built" if built else "up to date:") + f" {settings.asterisk_root}")
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    async def sync(pool: Pool, ami: AmiClient) -> tuple[ProvisionResult, int]:
        result = await provision(pool, settings.generated_dir, ami, force_reload=True,
                                 cdr_conninfo=settings.cdr_database_url or None)
        return result, await AgentService(pool, ami).resync()  # penalties follow skills, members follow states

    result, members = with_pbx(settings, sync, (ProvisionError,))
    print(f"provisioned {result.phones} phones, {result.queues} queues, {result.dids} DIDs, {result.trunks} trunks; "
          f"changed: {', '.join(result.changed) or 'nothing'}; {members} queue members in place")
    return 0


def cmd_cli(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(runtime.rx(settings, " ".join(args.words)), end="")
    except (runtime.AsteriskError, subprocess.TimeoutExpired) as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    path = runtime.log_path(settings)
    if not path.exists():
        raise CliError(f"no Asterisk log at {path}")
    lines = path.read_text(errors="replace").splitlines()
    print("\n".join(lines[-args.lines:]))
    return 0
