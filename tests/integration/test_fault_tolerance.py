"""Faults under traffic, each on the real stack: Asterisk restarted, the middleware killed (SIGKILL, a
separate `callcenter serve` process), FastAGI flooded with junk. (PostgreSQL restarted under traffic:
test_cdr_outage.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import ClientError, ClientSession

from middleware.agents.state import AgentEvent
from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, DID, seed
from tests.integration.conftest import call_record, cli, wait_until

BOB, CAROL = AGENTS[1], AGENTS[2]  # both in acme-support (ringall)
BUSINESS_HOURS = "2026-11-23T12:00:00-05:00"


async def _connected(phone: Any, n: int = 1) -> bool:
    return len(phone.connected_calls()) >= n


async def _ami_back(service: Any, logins: int) -> bool:
    return service.ami.logins > logins and service.ami.connected


async def _state(db_url: str, code: str) -> str:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cur = await conn.execute("SELECT state FROM agents WHERE code = %s", (code,))
        row = await cur.fetchone()
    return row[0] if row else ""


async def test_asterisk_restart_under_traffic_new_calls_work_within_10_s(agent_on_duty, sipp, settings) -> None:
    service, phone = await agent_on_duty(CAROL, 7600, clock=BUSINESS_HOURS)
    doomed = await sipp.call(DID, digits="2", caller="12125550601", port=8600, dtmf_after_ms=3000, hold_ms=30000)
    await wait_until(lambda: _connected(phone), 30, "the first call to reach Carol")
    assert await _state(settings.database_url, CAROL.code) == "on_call"
    logins = service.ami.logins

    await asyncio.to_thread(asterisk.stop, settings)  # the call in progress dies with it
    await doomed.stop()
    await asyncio.to_thread(asterisk.start, settings)
    back_at = time.monotonic()
    await wait_until(lambda: _ami_back(service, logins), 10, "the middleware to log in to AMI again")
    # Carol's call died with Asterisk: the resync finds her free, in her queue again.
    await wait_until(lambda: _is(settings.database_url, CAROL.code, "available"), 10, "Carol available again")
    caller = await sipp.call(DID, digits="2", caller="12125550602", port=8610, dtmf_after_ms=3000, hold_ms=3000)
    await wait_until(lambda: _connected(phone, 2), 15, "the new call to reach Carol")
    # The IVR greeting and menu take ~3 s of the 10: what is measured is Asterisk up -> agent talking.
    answered_after = time.monotonic() - back_at
    assert answered_after < 10 + 4, f"the first call after the restart reached Carol {answered_after:.1f} s later"
    assert await caller.wait(60) == 0, caller.errors()
    record = await wait_until(lambda: call_record(service, "12125550602"), 20, "the new call's record")
    assert record["agent_code"] == CAROL.code and record["ivr_digits"] == "2" and not record["ivr_fallback"]


async def _is(db_url: str, code: str, state: str) -> bool:
    return await _state(db_url, code) == state


class ServeProcess:
    """`callcenter serve` in its own process, as a deployment runs it, so it can be SIGKILLed."""

    def __init__(self, settings: Any, tmp: Path) -> None:
        self.env = {**os.environ, "DATABASE_URL": settings.database_url, "CALLCENTER_CLOCK": BUSINESS_HOURS,
                    "CDR_JOURNAL": str(tmp / "journal.jsonl"), "LOG_LEVEL": "info",
                    "HTTP_PORT": str(settings.http_port)}
        self.url = f"http://{settings.http_host}:{settings.http_port}/healthz"
        self.log = tmp / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            # Popen returns once forked; a handle we can SIGKILL is the point of this helper.
            self.proc = subprocess.Popen([sys.executable, "-m", "middleware", "serve"],  # noqa: ASYNC220
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        await wait_until(self._healthy, 30, "the middleware process to be healthy")

    async def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail("serve exited:\n" + self.log.read_text()[-3000:])
        try:
            async with ClientSession() as http, http.get(self.url) as r:
                return r.status == 200
        except ClientError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def asterisk_in_call(settings: Any, endpoint: str) -> bool:
    """Whether app_queue shows the member on this phone in a call right now."""
    for line in asterisk.rx(settings, "queue show acme-support").splitlines():
        if f"PJSIP/{endpoint}" in line:
            return "in call" in line.lower() or "(busy)" in line.lower()
    return False


async def test_middleware_killed_mid_call_the_call_goes_on_and_state_is_rebuilt(make_service, sipp, settings,
                                                                                tmp_path) -> None:
    setup = await make_service()
    await seed(setup.pool, agents=(BOB, CAROL))
    await provision(setup.pool, settings.generated_dir, setup.ami, force_reload=True)
    phones = {a.code: await sipp.agent_phone(a.endpoint, a.secret, 7700 + 10 * i) for i, a in enumerate((BOB, CAROL))}
    for agent in (BOB, CAROL):
        await setup.agents.apply(agent.code, AgentEvent.LOGIN)
    await setup.close()
    serve = ServeProcess(settings, tmp_path)
    try:
        await serve.start()
        first = await sipp.call(DID, digits="2", caller="12125550701", port=8700, dtmf_after_ms=3000, hold_ms=22000)
        # Both phones ring (ringall) and both answer; Asterisk keeps the first 200 OK and hangs up the
        # other, so "this phone answered" does not say which agent is busy: Asterisk's queue does.
        busy = await wait_until(lambda: _in_call(settings, (BOB, CAROL)), 30, "the first call to reach an agent")
        free = next(code for code in phones if code != busy)
        serve.kill()  # SIGKILL: no goodbye to AMI, FastAGI or PostgreSQL

        # Meanwhile a new caller gets the dialplan's fallback: the DID's plain queue, the free agent.
        second = await sipp.call(DID, digits="2", caller="12125550702", port=8710, dtmf_after_ms=3000, hold_ms=3000)
        assert await second.wait(60) == 0, second.errors()
        assert phones[free].connected_calls(), "the caller during the outage reached nobody"
        assert first.process.returncode is None, "the first call ended with the middleware"

        await serve.start()
        busy_agent = next(a for a in (BOB, CAROL) if a.code == busy)
        await wait_until(lambda: _is(settings.database_url, busy, "on_call"), 10, "the busy agent seen on a call")
        assert asterisk_in_call(settings, busy_agent.endpoint)
        assert await _state(settings.database_url, free) in ("available", "wrap_up")
        assert await first.wait(60) == 0, first.errors()  # the first call went on to its own end
        await wait_until(lambda: _is(settings.database_url, busy, "available"), 20, "the agent free after wrap-up")
        assert not asterisk_in_call(settings, busy_agent.endpoint)
    finally:
        serve.stop()
        print(serve.log.read_text()[-30_000:])  # shown by pytest when the test fails
    # The call nobody watched gets its record from Asterisk's own CDR rows.
    rebuilt = await cli(settings, "cdr", "reconcile")
    assert rebuilt.returncode == 0, rebuilt.stderr
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT agent_code, queue, disposition FROM calls "
                                 "WHERE caller_number = '12125550702' AND complete")
        assert await cur.fetchall() == [(free, "acme-support", "answered")]
        # The call the restarted middleware saw from its middle (no caller channel, no caller number) was
        # written incomplete; reconcile repaired it from Asterisk's rows: one complete record, the caller's.
        cur = await conn.execute("SELECT caller_number, agent_code, complete FROM calls WHERE linkedid IN "
                                 "(SELECT linkedid FROM cdr WHERE src = '12125550701')")
        assert await cur.fetchall() == [("12125550701", busy, True)]


async def _in_call(settings: Any, agents: tuple[Any, ...]) -> str | None:
    """The code of the agent app_queue shows connected to a caller ("(in call)", not a busy device), if any."""
    lines = asterisk.rx(settings, "queue show acme-support").splitlines()
    return next((a.code for a in agents for line in lines
                 if f"PJSIP/{a.endpoint}" in line and "(in call)" in line.lower()), None)


async def flood(host: str, port: int, stop: asyncio.Event) -> int:
    """Junk FastAGI clients until ``stop``: truncated headers left hanging, 1 MB headers, binary noise,
    silent connections. Returns how many were sent."""
    kinds = [b"agi_network: yes\nagi_request: agi://127.0.0.1/ivr\nagi_chan",  # truncated, then silence
             b"agi_request: agi://x/ivr\n" + b"agi_junk: " + b"A" * 1_048_576 + b"\n\n",  # oversized
             bytes(range(256)) * 64,  # binary garbage
             b""]  # connect and say nothing
    sent = 0
    open_writers: list[asyncio.StreamWriter] = []
    while not stop.is_set():
        for payload in kinds:
            try:
                _, writer = await asyncio.open_connection(host, port)
                if payload:
                    writer.write(payload)
                    await writer.drain()
                open_writers.append(writer)
                sent += 1
            except (ConnectionError, OSError):
                pass
        await asyncio.sleep(0.05)
        if len(open_writers) > 300:
            for w in open_writers[:100]:
                w.close()
            del open_writers[:100]
    for w in open_writers:
        w.close()
    return sent


async def test_fastagi_flood_leaves_real_calls_untouched(agent_on_duty, sipp, settings) -> None:
    service, phone = await agent_on_duty(CAROL, 7800, clock=BUSINESS_HOURS)
    stop = asyncio.Event()
    flooding = asyncio.create_task(flood(settings.agi_host, settings.agi_port, stop))
    try:
        await asyncio.sleep(1.0)
        callers = [f"121255508{i:02d}" for i in range(3)]
        for i, number in enumerate(callers):
            run = await sipp.call(DID, digits="2", caller=number, port=8800 + 10 * i, dtmf_after_ms=3000,
                                  hold_ms=2000)
            assert await run.wait(60) == 0, run.errors()
    finally:
        stop.set()
        sent = await flooding
    for number in callers:
        record = await wait_until(lambda n=number: call_record(service, n), 20, f"the record of {number}")
        assert record["ivr_digits"] == "2" and not record["ivr_fallback"], record
        assert record["agent_code"] == CAROL.code and record["disposition"] == "answered"
    assert len(phone.connected_calls()) == 3
    assert sent > 100
    # Every junk request is refused and counted (the silent ones once their header time runs out).
    await wait_until(lambda: _rejected_at_least(service, sent * 3 // 4), 15, "the junk refused")


async def _rejected_at_least(service: Any, n: int) -> bool:
    return service.agi.requests_rejected >= n
