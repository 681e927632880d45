"""`make demo`: a whole local call center for a minute.

Starts what is not running (PostgreSQL, the Asterisk rootfs, Asterisk, the middleware), seeds the demo
tenant, registers three SIPp agent phones with digest auth, logs the agents in, sends a burst of
callers through the IVR (each pressing a digit as RFC 2833 DTMF), waits for every call record, prints
what happened, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from middleware.agents.state import AgentEvent
from middleware.config import Settings
from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, DID, seed
from middleware.runtime.sipp import AgentPhone, Sipp, SippRun
from middleware.service import Service


@dataclass(frozen=True)
class DemoCaller:
    number: str
    digits: str  # what the caller presses at the menu ("" = nothing)
    start_after_s: float
    hold_ms: int  # how long the caller stays on the line after pressing


CALLERS: tuple[DemoCaller, ...] = (
    DemoCaller("12125550101", "1", 0.0, 6000),
    DemoCaller("12125550102", "2", 0.5, 6000),
    DemoCaller("12125550103", "1", 1.0, 9000),
    DemoCaller("12125550104", "2", 1.5, 9000),
    DemoCaller("12125550105", "9", 2.0, 22000),  # invalid, then silence: the default queue
    DemoCaller("12125550106", "2", 2.5, 12000),
)
AGENT_PORT_BASE = 7100
CALLER_PORT_BASE = 8100


@dataclass
class DemoReport:
    calls: list[dict[str, Any]]
    agent_calls: dict[str, int]  # agent code -> calls answered
    seconds: float


async def _wait_for_records(service: Service, since: datetime, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        async with service.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT linkedid, caller_number, ivr_digits, queue, agent_code, wait_s, talk_s, duration_s,
                          disposition FROM calls WHERE started_at >= %s AND complete ORDER BY started_at""",
                (since,))
            names = [d.name for d in cur.description or []]
            rows = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.5)
    return rows


async def run(settings: Settings, say: Callable[[str], None] = print) -> DemoReport:
    t0 = time.monotonic()
    started_asterisk = False
    if not asterisk.status(settings).running:
        say("starting Asterisk 22 in the rootfs ...")
        asterisk.start(settings)
        started_asterisk = True
    service = Service(settings)
    sipp = Sipp(settings.asterisk_root)
    phones: list[AgentPhone] = []
    try:
        await service.start()
        assert service.ami is not None and service.agents is not None
        await service.ami.wait_connected(15)
        await seed(service.pool)
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        say(f"demo tenant seeded: DID {DID}, queues acme-sales / acme-support, agents "
            + ", ".join(f"{a.code} {a.name}" for a in AGENTS))
        for i, agent in enumerate(AGENTS):
            phones.append(await sipp.agent_phone(agent.endpoint, agent.secret, AGENT_PORT_BASE + 10 * i))
            await service.agents.apply(agent.code, AgentEvent.LOGIN)
        say(f"{len(phones)} SIPp agent phones registered (digest auth) and logged in")
        since = datetime.now(UTC)
        runs: list[SippRun] = []
        for i, caller in enumerate(CALLERS):
            await asyncio.sleep(caller.start_after_s - (CALLERS[i - 1].start_after_s if i else 0.0))
            runs.append(await sipp.call(DID, digits=caller.digits, caller=caller.number,
                                        port=CALLER_PORT_BASE + 10 * i, dtmf_after_ms=2500,
                                        hold_ms=caller.hold_ms))
        say(f"{len(runs)} callers dialling {DID} ...")
        for run_ in runs:
            code = await run_.wait(90)
            if code != 0:
                say(f"  caller {run_.name} ended with SIPp exit {code}: {run_.errors()[-300:].strip()}")
        rows = await _wait_for_records(service, since, len(CALLERS), timeout=20)
        counts = {a.code: sum(1 for r in rows if r["agent_code"] == a.code) for a in AGENTS}
        return DemoReport(rows, counts, time.monotonic() - t0)
    finally:
        await sipp.stop_all()
        if service.agents is not None and service.ami is not None and service.ami.connected:
            for agent in AGENTS:
                try:
                    await service.agents.apply(agent.code, AgentEvent.LOGOUT)
                except Exception as exc:  # the demo still stops everything
                    say(f"  could not log {agent.code} out: {exc}")
        await service.close()
        if started_asterisk:
            asterisk.stop(settings)
            say("Asterisk stopped")
