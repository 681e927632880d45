"""Load: SIPp callers at fixed rates through IVR -> queue -> agent on this machine, with and without the
middleware.

Each step sends ``rate`` calls per second for ``--seconds`` to the demo DID; every caller waits for the
menu, presses 2 (RFC 2833), is queued to acme-support (round robin over ``--agents`` SIPp agent
phones, all answered by one SIPp UAS) and talks ``--talk-ms``. A call counts as completed when SIPp
saw it through and its call record is complete and shows the IVR's digit, the queue and a load agent;
every other call is a failure, counted by cause: SIPp's own failures, the dialplan's fallback taken
(the IVR did not answer in time), a record missing or incomplete, a record with the wrong queue,
digit or agent. The middleware runs as `callcenter serve` in its own process, restarted for each
step, so its CPU time per call, its RSS at the end of the step and its FastAGI turnaround p99
(request or Asterisk's reply -> our next command, from /metrics) belong to that step alone; Asterisk's
CPU per call is measured over the same step.

Baseline, same run: the same steps with the middleware stopped, where the dialplan's fallback sends
every caller straight to the DID's queue. Every rate runs ``--reps`` times (3); a rate counts as
carried only when every repetition had zero failures. Printed: each step, and the highest carried
rate of both, with their ratio.

    .venv/bin/python bench/load.py [--rates 4,8,12,16] [--seconds 30] [--agents 150] [--talk-ms 4000] [--reps 3]

Run it alone on the machine (it needs the ports and both cores the integration tests use).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from middleware.agents.service import AgentService
from middleware.agents.state import AgentEvent
from middleware.ami.client import AmiClient
from middleware.config import Settings, load_settings
from middleware.runtime import asterisk, postgres, rootfs
from middleware.runtime.demo import DEMO_CLOCK
from middleware.runtime.demo_tenant import DID, seed
from middleware.runtime.sipp import WORK_IN_ROOT, Sipp
from middleware.runtime.sounds import prompt_checker
from middleware.store import agents as agent_store
from middleware.store import database, tenants
from middleware.store.database import open_pool

UAS_PORT = 7100
CALLER_PORT = 9100
WRAPUP_S = 1  # acme-support's wrap-up in the bench
RING_S = 0.3  # the agent UAS answers after 300 ms
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    rate: float
    middleware: bool
    rep: int = 1
    offered: int = 0
    sipp_ok: int = 0
    sipp_failed: int = 0
    completed: int = 0
    fallback: int = 0
    missing: int = 0
    wrong: int = 0
    why_wrong: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_call: float | None = None
    asterisk_ms_per_call: float | None = None
    rss_mb: float | None = None
    agi_p99_ms: float | None = None
    db_xacts_per_call: float | None = None
    notify_per_call: float | None = None  # NOTIFY statements of the live events (part of the xacts)

    @property
    def failed(self) -> int:
        return self.offered - self.completed

    def causes(self) -> str:
        return (f"sipp {self.sipp_failed}, fallback {self.fallback}, missing/incomplete {self.missing}, "
                f"wrong {self.wrong}" + (f" ({', '.join(f'{k}: {v}' for k, v in self.why_wrong.items())})"
                                         if self.why_wrong else ""))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Middleware:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.env = {**os.environ, "DATABASE_URL": settings.database_url, "CALLCENTER_CLOCK": DEMO_CLOCK,
                    "CDR_JOURNAL": str(log.with_suffix(".journal")), "LOG_LEVEL": "warning"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.profile_to: Path | None = None  # py-spy records the next run here (collapsed stacks)
        self._spy: subprocess.Popen[bytes] | None = None

    def profile(self) -> None:
        """Attach py-spy (sampling, from outside: the middleware runs unchanged) to the running process."""
        assert self.proc is not None and self.profile_to is not None
        spy = Path(sys.executable).with_name("py-spy")  # the dev extra installs it beside the interpreter
        self._spy = subprocess.Popen([str(spy) if spy.exists() else "py-spy", "record", "--pid", str(self.proc.pid),
                                      "--rate", "200", "--format", "raw", "--output", str(self.profile_to)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_profile(self) -> None:
        if self._spy is not None:
            self._spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            self._spy.wait(30)
            self._spy = None

    async def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "middleware", "serve"], env=self.env,  # noqa: ASYNC220
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            report = await self.health()
            if report and report.get("ami", {}).get("ok"):
                await asyncio.sleep(2)  # the resync after the AMI login puts the members back
                return
            await asyncio.sleep(0.3)
        raise RuntimeError("the middleware did not come up:\n" + self.log.read_text()[-2000:])

    async def health(self) -> dict | None:  # type: ignore[type-arg]
        url = f"http://{self.settings.http_host}:{self.settings.http_port}/healthz"
        try:
            async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                return await r.json()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def metrics(self) -> dict[str, float]:
        """The service's /metrics samples, by name with their labels (``name{label="v"}``)."""
        url = f"http://{self.settings.http_host}:{self.settings.http_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            text = await r.text()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def stop(self) -> None:
        self.stop_profile()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


async def prepare(settings: Settings, agents: int) -> list[tuple[str, str, str]]:
    """The demo tenant plus ``agents`` load agents in acme-support (round robin, 1 s wrap-up)."""
    pool = await open_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await seed(pool, prompt_exists=prompt_checker(settings.asterisk_root))
        out = []
        async with pool.connection() as conn:
            tenant_id = await tenants.tenant_id(conn, "acme")
            assert tenant_id is not None
            await conn.execute("UPDATE queues SET strategy = 'rrmemory', wrapup_s = %s, ring_timeout_s = 15 "
                               "WHERE name = 'acme-support'", (WRAPUP_S,))
            await conn.execute("DELETE FROM queue_members WHERE queue_id = (SELECT id FROM queues "
                               "WHERE name = 'acme-support')")
            for i in range(agents):
                code, endpoint, secret = f"{3001 + i}", f"load-{3001 + i}", f"load-pw-{3001 + i}"
                agent_id = await agent_store.upsert_agent(conn, tenant_id, code, f"Load agent {i + 1}")
                await agent_store.upsert_phone(conn, tenant_id, endpoint, secret, agent_id, f"Load {i + 1}")
                await agent_store.add_membership(conn, "acme-support", code, penalty=1)
                out.append((code, endpoint, secret))
        return out
    finally:
        await pool.close()


async def login(settings: Settings, codes: list[str]) -> None:
    ami = AmiClient(host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
                    secret=settings.ami_secret, action_timeout=settings.ami_action_timeout)
    pool = await open_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await ami.start(wait=10)
        service = AgentService(pool, ami)
        for code in codes:
            await service.apply(code, AgentEvent.LOGIN)
    finally:
        await ami.close()
        await pool.close()


async def capture_ami(settings: Settings, path: Path) -> None:
    """Write every byte one AMI session receives to ``path`` until cancelled (the AMI ingest bench's asset)."""
    reader, writer = await asyncio.open_connection(settings.ami_host, settings.ami_port)
    writer.write(f"Action: Login\r\nUsername: {settings.ami_user}\r\nSecret: {settings.ami_secret}\r\n"
                 "Events: on\r\n\r\n".encode())
    try:
        with open(path, "wb") as out:
            while data := await reader.read(65536):
                out.write(data)
    finally:
        writer.close()


def sipp_counts(stat_file: Path) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's statistics file (its last line)."""
    with open(stat_file, newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1]
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])


@dataclass
class Records:
    good: int
    fallback: int
    incomplete: int
    wrong: int
    total: int
    why_wrong: dict[str, int] = field(default_factory=dict)  # "disposition=abandoned" -> calls


def ivr_tail(path: list[dict[str, Any]] | None) -> str:
    """Where a caller was in the IVR: the last two steps as node:outcome ("main_menu:timeout")."""
    steps = [f"{s.get('node')}:{s.get('outcome') or s.get('input') or '-'}" for s in (path or [])[-2:]]
    return ">".join(steps) or "no IVR step"


def wrong_causes(rows: list[tuple[str | None, str | None, str | None, bool, list[dict[str, Any]] | None]],
                 ) -> dict[str, int]:
    """Each wrong record's first column off its expected value: disposition (with where in the IVR the
    call was when it was not answered), digits, queue, agent."""
    causes: dict[str, int] = {}
    for disposition, digits, queue, known_agent, path in rows:
        if disposition != "answered":
            cause = f"disposition={disposition} at {ivr_tail(path)}"
        elif digits != "2":
            cause = f"ivr_digits={digits}"
        elif queue != "acme-support":
            cause = f"queue={queue}"
        elif not known_agent:
            cause = "agent not one of ours"
        else:
            cause = "other"
        causes[cause] = causes.get(cause, 0) + 1
    return causes


async def db_transactions(settings: Settings) -> int:
    """Transactions committed or rolled back in the bench's database so far, by every client (each
    autocommit statement is one): the middleware's round trips, and Asterisk's CDR rows. A backend
    flushes its counts when it exits, so read this after the middleware stopped (its start-up, a
    resync of every agent, is counted too)."""
    pool = await open_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_stat_clear_snapshot()")
            cur = await conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                     "WHERE datname = current_database()")
            row = await cur.fetchone()
            return 0 if row is None else int(row[0])
    finally:
        await pool.close()


async def records(settings: Settings, since: float, agent_codes: list[str]) -> Records:
    """What the step's calls left in ``calls``: good, fallback, incomplete and wrong records."""
    pool = await open_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                """WITH r AS (SELECT complete, ivr_fallback,
                                     coalesce(complete AND NOT ivr_fallback AND disposition = 'answered'
                                       AND ivr_digits = '2' AND queue = 'acme-support'
                                       AND agent_code = ANY(%s), false) AS good
                                FROM calls WHERE started_at >= to_timestamp(%s) AND direction = 'inbound')
                   SELECT count(*) FILTER (WHERE good), count(*) FILTER (WHERE ivr_fallback),
                          count(*) FILTER (WHERE NOT complete),
                          count(*) FILTER (WHERE complete AND NOT good AND NOT ivr_fallback), count(*)
                     FROM r""", (agent_codes, since))
            row = await cur.fetchone()
            assert row is not None
            good, fallback, incomplete, wrong, total = (int(v) for v in row)
            found = Records(good, fallback, incomplete, wrong, total)
            if found.wrong:
                cur = await conn.execute(
                    """SELECT disposition, ivr_digits, queue, coalesce(agent_code = ANY(%s), false), ivr_path
                         FROM calls WHERE started_at >= to_timestamp(%s) AND direction = 'inbound' AND complete
                          AND NOT ivr_fallback AND NOT (disposition = 'answered' AND ivr_digits = '2'
                          AND queue = 'acme-support' AND coalesce(agent_code = ANY(%s), false))""",
                    (agent_codes, since, agent_codes))
                found.why_wrong = wrong_causes(await cur.fetchall())
            return found
    finally:
        await pool.close()


async def run_step(settings: Settings, sipp: Sipp, mw: Middleware, step: Step, seconds: int, talk_ms: int,
                   agent_codes: list[str]) -> None:
    calls = max(1, int(step.rate * seconds))
    stat_name = f"load-{uuid.uuid4().hex[:8]}.csv"
    cpu0 = 0.0
    xacts0 = await db_transactions(settings)
    if step.middleware:
        await mw.start()
        assert mw.proc is not None
        cpu0 = cpu_seconds(mw.proc.pid)
        if mw.profile_to is not None:
            mw.profile()
    pbx = asterisk.status(settings).pid
    pbx_cpu0 = cpu_seconds(pbx) if pbx else 0.0
    since = time.time()
    run = await sipp.call(DID, digits="2", caller="12125551000", port=CALLER_PORT, dtmf_after_ms=3000,
                          hold_ms=talk_ms, calls=calls, rate_per_s=step.rate, limit=calls,
                          extra_args=["-trace_stat", "-stf", f"{WORK_IN_ROOT}/{stat_name}", "-fd", "1"])
    await run.wait(seconds + 180)
    ok, failed = sipp_counts(sipp.work / stat_name)
    step.offered, step.sipp_ok, step.sipp_failed = calls, ok, failed
    await asyncio.sleep(3)  # the last records are written after the last hang-ups
    if pbx:
        step.asterisk_ms_per_call = 1000 * (cpu_seconds(pbx) - pbx_cpu0) / calls
    if not step.middleware:
        step.completed = ok
        return
    assert mw.proc is not None
    mw.stop_profile()
    cpu = cpu_seconds(mw.proc.pid) - cpu0
    step.rss_mb = rss_mb(mw.proc.pid)
    metrics = await mw.metrics()
    p99 = metrics.get('callcenter_agi_turnaround_seconds{quantile="0.99"}', math.nan)
    step.agi_p99_ms = None if math.isnan(p99) else p99 * 1000
    step.notify_per_call = metrics.get("callcenter_events_notify_statements_total", math.nan) / max(1, calls)
    mw.stop()
    # (less the two this function's own reads take)
    step.db_xacts_per_call = (await db_transactions(settings) - xacts0 - 2) / max(1, calls)
    found = await records(settings, since, agent_codes)
    step.completed = min(ok, found.good)
    step.fallback, step.wrong, step.why_wrong = found.fallback, found.wrong, found.why_wrong
    step.missing = max(0, ok - found.total) + found.incomplete
    step.cpu_ms_per_call = 1000 * cpu / max(1, step.completed)


def carried(steps: list[Step]) -> float:
    """The highest rate at which every repetition had zero failures."""
    rates = {s.rate for s in steps}
    return max((r for r in rates if all(s.failed == 0 for s in steps if s.rate == r)), default=0.0)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


class Stack:
    """A scratch database, Asterisk (started if it does not run), ``agents`` SIPp agent phones registered
    on one UAS and logged in to acme-support; the middleware itself is started by the caller."""

    def __init__(self, agents: int, prefix: str = "cc-load-") -> None:
        base = load_settings()
        postgres.ensure_server(base.database_url)
        rootfs.build(base.asterisk_root)
        self.url = database.with_database(base.database_url, f"cc_load_{uuid.uuid4().hex[:8]}")
        self.settings = base.with_overrides(database_url=self.url)
        self.agents = agents
        self.sipp = Sipp(self.settings.asterisk_root)
        self.mw = Middleware(self.settings, Path(tempfile.mkdtemp(prefix=prefix)) / "serve.log")
        self.codes: list[str] = []
        self._started = False

    async def __aenter__(self) -> Stack:
        database.ensure_database(self.url)
        database.upgrade(self.url)
        if not asterisk.status(self.settings).running:
            asterisk.start(self.settings)
            self._started = True
        try:
            agents = await prepare(self.settings, self.agents)
            await self.mw.start()  # provisions the phones and queues
            await self.sipp.start("load-uas", "agent_answer.xml",
                                  ["-p", str(UAS_PORT), "-mp", str(UAS_PORT + 2000), "-s", "agent", "-m", "10000000",
                                   "-timeout", "7200s"])
            for i, (_, endpoint, secret) in enumerate(agents):
                reg = await self.sipp.start(f"register-{endpoint}", "register.xml",
                                            ["-p", str(UAS_PORT + 10 + i), "-s", endpoint, "-au", endpoint, "-ap",
                                             secret, "-set", "uas_port", str(UAS_PORT), "-set", "expires", "7200",
                                             "-m", "1", "-recv_timeout", "5000"])
                if await reg.wait(20) != 0:
                    raise RuntimeError(f"{endpoint} could not register: {reg.errors()[-300:]}")
            self.codes = [code for code, _, _ in agents]
            await login(self.settings, self.codes)
            self.mw.stop()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.mw.stop()
        await self.sipp.stop_all()
        if self._started:
            asterisk.stop(self.settings)
        database.drop_database(self.url)


async def main_async(args: argparse.Namespace) -> int:
    steps: list[Step] = []
    async with Stack(args.agents) as stack:
        settings, sipp, mw, codes = stack.settings, stack.sipp, stack.mw, stack.codes
        print(f"{args.agents} agents registered on one SIPp UAS, logged in to acme-support (round robin); "
              f"{args.seconds} s per step, talk {args.talk_ms} ms after the IVR", flush=True)
        for rate in [float(r) for r in args.rates.split(",")]:
            busy = agents_busy(rate, args.talk_ms)
            if busy > 0.85 * args.agents:
                print(f"warning: at {rate:g}/s about {busy:.0f} of {args.agents} agents are busy on average; "
                      "callers will wait, hear the wait announcement and hang up before the queue: the agents, "
                      "not the middleware, limit that rate (raise --agents)", flush=True)
        if args.profile:
            for rate in [float(r) for r in args.rates.split(",")]:
                step = Step(rate, True)
                mw.profile_to = Path(args.profile) / f"serve-{rate:g}cps.txt"
                mw.profile_to.parent.mkdir(parents=True, exist_ok=True)
                await run_step(settings, sipp, mw, step, args.seconds, args.talk_ms, codes)
                print(f"profiled {rate:g}/s ({step.completed} of {step.offered} calls completed, cpu/call "
                      f"{_fmt(step.cpu_ms_per_call, '.1f')} ms with py-spy attached): {mw.profile_to}", flush=True)
            return 0
        if args.capture_ami:
            capture = asyncio.create_task(capture_ami(settings, Path(args.capture_ami)))
            step = Step(float(args.rates.split(",")[0]), True)
            await run_step(settings, sipp, mw, step, args.seconds, args.talk_ms, codes)
            capture.cancel()
            print(f"AMI stream of {step.offered} calls written to {args.capture_ami}")
            return 0
        for middleware in (True, False):
            for rate in [float(r) for r in args.rates.split(",")]:
                for rep in range(1, args.reps + 1):
                    step = Step(rate, middleware, rep)
                    await run_step(settings, sipp, mw, step, args.seconds, args.talk_ms, codes)
                    steps.append(step)
                    print(f"{'middleware' if middleware else 'baseline  '} {rate:5.1f}/s #{rep}: offered "
                          f"{step.offered:5d} completed {step.completed:5d} failed {step.failed:4d} "
                          f"({step.causes()})  cpu/call {_fmt(step.cpu_ms_per_call, '.1f')} ms  "
                          f"asterisk/call {_fmt(step.asterisk_ms_per_call, '.1f')} ms  "
                          f"rss {_fmt(step.rss_mb, '.0f')} MB  AGI p99 {_fmt(step.agi_p99_ms, '.2f')} ms  "
                          f"db xacts/call {_fmt(step.db_xacts_per_call, '.1f')} "
                          f"(NOTIFY {_fmt(step.notify_per_call, '.1f')})", flush=True)
    ours = carried([s for s in steps if s.middleware])
    plain = carried([s for s in steps if not s.middleware])
    ratio = ours / plain if plain else float("nan")
    at = [s for s in steps if s.middleware and s.rate == ours]
    cpu = [s.cpu_ms_per_call for s in at if s.cpu_ms_per_call is not None]
    p99 = [s.agi_p99_ms for s in at if s.agi_p99_ms is not None]
    print(f"highest rate with zero failed calls in all {args.reps} repetitions: IVR + middleware {ours:g}/s, "
          f"plain queue (baseline) {plain:g}/s, ratio {ratio:.2f}")
    if cpu:
        print(f"at {ours:g}/s: middleware cpu/call {min(cpu):.1f}-{max(cpu):.1f} ms, "
              f"AGI p99 {min(p99, default=float('nan')):.2f}-{max(p99, default=float('nan')):.2f} ms")
    return 0


def agents_busy(rate: float, talk_ms: int) -> float:
    """Agents busy on average at ``rate`` calls/s (Little's law): ring (~0.3 s), talk, wrap-up."""
    return rate * (RING_S + talk_ms / 1000 + WRAPUP_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="4,8,12,16")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--agents", type=int, default=150,
                        help="agent phones (default 150: at 20 calls/s a call holds an agent ~5.3 s, 106 busy on "
                             "average; with 100 the queue, not the middleware, limits the rate)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--capture-ami", metavar="FILE",
                        help="run one step at the first rate and write its raw AMI stream to FILE (no report)")
    parser.add_argument("--talk-ms", type=int, default=4000)
    parser.add_argument("--profile", metavar="DIR",
                        help="instead of measuring: one step per rate with py-spy recording the middleware into "
                             "DIR/serve-<rate>cps.txt (collapsed stacks, for flame graphs or bench/profile_top.py)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
