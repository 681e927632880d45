"""Soak: one `callcenter serve` for ``--minutes`` at 70% of the rated rate, the same calls as bench/load.py
(IVR greeting + menu + digit -> queue -> SIPp agent, talk ``--talk-ms``).

Every ``--sample-s`` seconds: the middleware's RSS and CPU, calls being assembled, the journal backlog,
task restarts. At the end, after the last call: the RSS growth from the end of the warm-up (the first
``--warmup-min`` minutes) to the end, calls in progress (ours and Asterisk's channels) back to zero,
every call SIPp completed has its complete, correct record, no task restarted, no journal backlog.

    .venv/bin/python bench/soak.py [--minutes 60] [--rated 10] [--agents 100] [--talk-ms 4000]
                                   [--memory-report-min 5 [--tracemalloc]]

Targets: RSS growth < 5%, 0 records lost. Run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import CALLER_PORT, Stack, cpu_seconds, records, rss_mb, sipp_counts  # (bench/load.py)

from middleware.ami import queries
from middleware.ami.client import AmiClient
from middleware.runtime.demo_tenant import DID
from middleware.runtime.sipp import WORK_IN_ROOT


def rss_by_kind(pid: int) -> dict[str, float]:
    """Resident MB by mapping kind: the brk heap (glibc's main arena, Python's small objects too),
    anonymous maps (thread arenas, Python's arenas, big buffers) and files (code)."""
    out = {"heap": 0.0, "anon": 0.0, "file": 0.0}
    kind = "anon"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=6)
        if "-" in first[0] and len(first) >= 5 and not first[0].endswith(":"):
            name = first[5] if len(first) > 5 else ""
            kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
        elif line.startswith("Rss:"):
            out[kind] += int(line.split()[1]) / 1024
    return out


async def channels(stack: Stack) -> int:
    s = stack.settings
    ami = AmiClient(host=s.ami_host, port=s.ami_port, username=s.ami_user, secret=s.ami_secret,
                    action_timeout=s.ami_action_timeout)
    try:
        await ami.start(wait=10)
        return len(await queries.active_channels(ami))
    finally:
        await ami.close()


async def main_async(args: argparse.Namespace) -> int:
    rate = round(0.7 * args.rated, 2)
    calls = int(rate * 60 * args.minutes)
    async with Stack(args.agents, prefix="cc-soak-") as stack:
        mw = stack.mw
        if args.tracemalloc:
            mw.env["PYTHONTRACEMALLOC"] = "1"  # (several times slower: a diagnosis, not a measurement)
        await mw.start()
        assert mw.proc is not None
        pid = mw.proc.pid
        print(f"{args.agents} agents; {rate:g} calls/s (70% of {args.rated:g}) for {args.minutes} min: {calls} calls; "
              f"warm-up {args.warmup_min} min; serve log {mw.log}", flush=True)
        stat_name = f"soak-{uuid.uuid4().hex[:8]}.csv"
        since = time.time()
        start = time.monotonic()
        cpu0 = cpu_seconds(pid)
        run = await stack.sipp.call(DID, digits="2", caller="12125551000", port=CALLER_PORT, dtmf_after_ms=3000,
                                    hold_ms=args.talk_ms, calls=calls, rate_per_s=rate, limit=calls,
                                    extra_args=["-trace_stat", "-stf", f"{WORK_IN_ROOT}/{stat_name}", "-fd", "5"])
        warm_rss: float | None = None
        reports = 0
        peak = 0.0
        done = False
        deadline = start + 60 * args.minutes + 600
        while not done:
            try:
                await asyncio.wait_for(asyncio.shield(run.process.wait()), args.sample_s)
                done = True
            except TimeoutError:
                if time.monotonic() > deadline:
                    await run.stop()
                    raise RuntimeError("the SIPp callers did not finish in time") from None
            minute = (time.monotonic() - start) / 60
            rss = rss_mb(pid)
            peak = max(peak, rss)
            if warm_rss is None and minute >= args.warmup_min:
                warm_rss = rss
            if args.memory_report_min and minute // args.memory_report_min > reports:
                reports += 1
                os.kill(pid, signal.SIGUSR1)  # service.memory in the serve log
            report = await mw.health() or {}
            cdr = report.get("cdr", {})
            restarts = report.get("tasks", {}).get("restarts") or {}
            kinds = rss_by_kind(pid)
            print(f"{minute:6.1f} min  rss {rss:6.1f} MB (heap {kinds['heap']:.1f}, anon {kinds['anon']:.1f})  "
                  f"cpu {cpu_seconds(pid) - cpu0:7.1f} s  "
                  f"assembling {cdr.get('in_progress', '?'):>4}  written {cdr.get('written', '?'):>6}  "
                  f"backlog {cdr.get('journal_backlog', '?')}  restarts {sum(restarts.values()) if restarts else '?'}",
                  flush=True)
        ok, failed = sipp_counts(stack.sipp.work / stat_name)
        await asyncio.sleep(10)  # the last records, the last wrap-ups
        report = await mw.health() or {}
        end_rss = rss_mb(pid)
        cpu = cpu_seconds(pid) - cpu0
        open_channels = await channels(stack)
        mw.stop()
        found = await records(stack.settings, since, stack.codes)
    cdr = report.get("cdr", {})
    restarts = report.get("tasks", {}).get("restarts", {})
    base = warm_rss or end_rss
    growth = 100 * (end_rss - base) / base
    lost = ok - found.good
    print(f"calls: offered {calls}, SIPp completed {ok}, failed {failed}; records good {found.good}, "
          f"fallback {found.fallback}, incomplete {found.incomplete}, wrong {found.wrong} {found.why_wrong or ''}; "
          f"cpu/call {1000 * cpu / max(1, ok):.1f} ms")
    print(f"RSS: {base:.1f} MB after warm-up, {end_rss:.1f} MB at the end (peak {peak:.1f}): growth {growth:+.1f}% "
          f"(target < 5%: {'met' if growth < 5 else 'NOT met'})")
    print(f"at the end: calls assembling {cdr.get('in_progress')}, Asterisk channels {open_channels}, journal backlog "
          f"{cdr.get('journal_backlog')}, in memory {cdr.get('in_memory')}, task restarts {restarts or 'none'}; "
          f"records lost {lost} (target 0: {'met' if lost == 0 else 'NOT met'})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rated", type=float, default=10, help="the rated calls/s (bench/load.py's carried rate)")
    parser.add_argument("--warmup-min", type=float, default=5)
    parser.add_argument("--sample-s", type=float, default=60)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--talk-ms", type=int, default=4000)
    parser.add_argument("--memory-report-min", type=float, default=0,
                        help="every N minutes: SIGUSR1, the service logs what its memory holds (service.memory)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="run the service with PYTHONTRACEMALLOC: the reports name allocation sites")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
