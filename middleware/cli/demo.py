"""`callcenter demo`: set up everything and run a short burst of simulated calls (see runtime/demo.py)."""

from __future__ import annotations

import argparse
import subprocess

from middleware.ami.client import AmiUnavailable
from middleware.cli.common import CliError, print_table
from middleware.config import Settings
from middleware.event_loop import run as run_on
from middleware.runtime import asterisk, demo, postgres, rootfs
from middleware.runtime.sipp import SippError
from middleware.store import database


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("demo", help="run the demo call center: callers, IVR, queues, agents, CDRs")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(postgres.ensure_server(settings.database_url))
        if rootfs.build(settings.asterisk_root):
            print(f"built the Asterisk rootfs at {settings.asterisk_root}")
        database.ensure_database(settings.database_url)
        database.upgrade(settings.database_url)
        print(f"database {database.database_name(settings.database_url)} at revision "
              f"{database.current_revision(settings.database_url)}")
        report = run_on(demo.run(settings), settings.event_loop)  # the service on the loop serve uses
    except (postgres.PostgresError, rootfs.RootfsError, database.DatabaseUnavailable, asterisk.AsteriskError,
            AmiUnavailable, SippError, subprocess.CalledProcessError, OSError) as exc:
        raise CliError(f"demo failed: {exc}") from exc
    print()
    print("What happened:")
    print_table(report.calls, ("caller_number", "ivr_digits", "reason", "customer", "queue", "agent_code",
                               "wait_s", "talk_s", "disposition"))
    answered = [c for c in report.calls if c["disposition"] == "answered"]
    abandoned = [c for c in report.calls if c["disposition"] == "abandoned"]
    waits = [float(c["wait_s"]) for c in answered if c["wait_s"] is not None]
    print()
    print(f"calls: {len(report.calls)}  answered: {len(answered)}  abandoned in queue: {len(abandoned)}  "
          f"average wait: {sum(waits) / len(waits) if waits else 0:.1f}s  longest wait: {max(waits, default=0):.1f}s")
    print("answered per agent: " + ", ".join(f"{k}: {v}" for k, v in report.agent_calls.items()))
    lengths = ", ".join(f"{float(r['duration_s']):.1f}s" for r in report.recordings)
    print(f"recordings indexed: {len(report.recordings)} ({lengths}) under {settings.recordings_root}")
    out = report.outbound
    if out is not None:
        today = out["today"]
        print(f"outbound campaign {out['campaign']}: " + ", ".join(f"{k} {v}" for k, v in
                                                                 sorted(today["outcomes"].items()))
              + f"; abandoned {today['abandoned']} of {today['live_answers']} live answers; "
              f"leads {', '.join(f'{k} {v}' for k, v in sorted(out['leads'].items()))}")
    print("then try: .venv/bin/callcenter report --by agent; .venv/bin/callcenter recordings search; "
          f".venv/bin/callcenter campaign status {demo.CAMPAIGN}")
    print(f"demo took {report.seconds:.0f}s")
    expected = len(demo.CALLERS)
    # Callers hang up when they choose to, so one may abandon in the queue; a lost record or a call that
    # never reached a queue means something is broken.
    if len(report.calls) != expected or len(answered) + len(abandoned) != expected or not answered:
        raise CliError(f"expected {expected} calls through the IVR to a queue; recorded {len(report.calls)}, "
                       f"answered {len(answered)}, abandoned {len(abandoned)}")
    if out is None or not out["today"]["live_answers"]:
        raise CliError("the outbound campaign reached no customer")
    return 0
