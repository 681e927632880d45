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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from middleware.agents.state import AgentEvent
from middleware.config import Settings
from middleware.dialer import compliance
from middleware.dialer.leads import parse_leads
from middleware.dialer.service import campaign_status
from middleware.dialing.policy import DialingPolicy
from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import (
    AGENTS,
    CARRIER_SIM,
    DID,
    TENANT,
    WORLD_COUNTRIES,
    numbers_where_hour_is,
    seed,
)
from middleware.runtime.sipp import AgentPhone, Sipp, SippRun
from middleware.runtime.sounds import prompt_checker
from middleware.service import Service
from middleware.store import calls, campaigns, flows, recordings, tenants


@dataclass(frozen=True)
class DemoCaller:
    number: str
    presses: tuple[tuple[int, str], ...]  # (wait in ms, digits) after the answer; () = presses nothing
    start_after_s: float
    hold_ms: int  # how long the caller stays on the line after the last press


# The greeting (1.8 s) ends about 2.3 s after the answer; the main menu is listening from then on.
# Callers who will have to wait are patient: they first hear their position and expected wait (~10 s).
CALLERS: tuple[DemoCaller, ...] = (
    DemoCaller("12125550101", ((3000, "1"),), 0.0, 6000),  # a known caller ID: Dana, gold tier
    DemoCaller("12125550102", ((3000, "2"),), 0.5, 6000),
    DemoCaller("12125550103", ((3000, "1"),), 1.0, 9000),
    DemoCaller("12125550104", ((3000, "3"), (1200, "79927398713#")), 1.5, 20000),  # account -> Evan, billing
    DemoCaller("12125550105", ((3000, "9"), (1500, "2")), 2.0, 15000),  # invalid, then support
    DemoCaller("12125550106", (), 2.5, 22000),  # presses nothing: the menu times out to support
)
# The schedule in acme-main is business hours in New York; the demo runs at any hour, so its IVR
# sees a fixed Monday noon there.
DEMO_CLOCK = "2026-11-23T12:00:00-05:00"
AGENT_PORT_BASE = 7100
CALLER_PORT_BASE = 8100


@dataclass
class DemoReport:
    calls: list[dict[str, Any]]
    agent_calls: dict[str, int]  # agent code -> calls answered
    seconds: float
    recordings: list[dict[str, Any]] = field(default_factory=list)  # the answered calls' recordings
    outbound: dict[str, Any] | None = None  # the outbound campaign's status at the end


async def _wait_for_records(service: Service, since: datetime, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        async with service.pool.connection() as conn:
            rows = await calls.complete_calls_since(conn, since)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.5)
    return rows


CAMPAIGN = "acme-renewals"
CAMPAIGN_LEADS = 30  # +1 212 555 0300-0329: the last digit says who answers (customer_population.xml)
CUSTOMER_PORT = CARRIER_SIM.port  # where the carrier-sim trunk sends calls


async def _outbound(service: Service, sipp: Sipp, say: Callable[[str], None]) -> dict[str, Any] | None:
    """A predictive campaign to 30 customers with the same three agents (ring-mode phones): people,
    machines, no answers and busy lines; returns the campaign's status when every lead is done."""
    now = datetime.now(UTC)
    zone, numbers = numbers_where_hour_is(range(9, 20), now, 300, CAMPAIGN_LEADS)
    async with service.pool.connection() as conn, conn.transaction():
        tenant_id = await tenants.tenant_id(conn, TENANT)
        assert tenant_id is not None
        await flows.allow_trunk(conn, tenant_id, "carrier-sim")
        await campaigns.delete_campaign(conn, CAMPAIGN)
        rules = compliance.check_retry_rules({"no_answer": {"after_s": 5, "max": 2}, "busy": {"after_s": 5, "max": 2}})
        campaign_id = await campaigns.create_campaign(
            conn, tenant_id=tenant_id, code=CAMPAIGN, agents=[a.code for a in AGENTS], wrapup_s=1,
            inbound_priority="inbound",
            settings={"name": "Contract renewals (demo)", "caller_id": '"Acme" <+15551000>', "trunk": "carrier-sim",
                      "mode": "predictive", "retry_rules": rules, "max_attempts": 2, "ring_timeout_s": 15,
                      "safe_harbor_prompt": "please-try-call-later", "max_lines": 12})
        leads, _ = parse_leads("number,timezone,name\n" + "".join(
            f"{number},{zone},Demo lead {i}\n" for i, number in enumerate(numbers)), DialingPolicy(
                "US", countries=WORLD_COUNTRIES))
        await campaigns.import_leads(conn, campaign_id, leads)
    await provision(service.pool, service.settings.generated_dir, service.ami, force_reload=True)
    assert service.agents is not None
    await service.agents.resync()  # the logged-in agents join the new campaign queue
    await sipp.customers(CUSTOMER_PORT, ring_ms=1000, talk_ms=5000)
    async with service.pool.connection() as conn:
        await campaigns.set_status(conn, CAMPAIGN, "running")
    say(f"outbound: campaign {CAMPAIGN} (predictive, AMD) dialling {CAMPAIGN_LEADS} leads ...")
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        async with service.pool.connection() as conn:
            to_go = await campaigns.leads_to_go(conn, CAMPAIGN, timedelta(hours=1))
        if to_go == 0:
            break
        await asyncio.sleep(1)
    async with service.pool.connection() as conn:
        await campaigns.set_status(conn, CAMPAIGN, "stopped")
        return await campaign_status(conn, CAMPAIGN, datetime.now(UTC))


async def run(settings: Settings, say: Callable[[str], None] = print) -> DemoReport:
    t0 = time.monotonic()
    started_asterisk = False
    if not asterisk.status(settings).running:
        say("starting Asterisk 22 in the rootfs ...")
        asterisk.start(settings)
        started_asterisk = True
    service = Service(settings.with_overrides(clock=settings.clock or DEMO_CLOCK))
    say(f"IVR clock: {settings.clock or DEMO_CLOCK} (the flow's schedule sees business hours)")
    sipp = Sipp(settings.asterisk_root)
    phones: list[AgentPhone] = []
    try:
        await service.start()
        assert service.ami is not None and service.agents is not None
        await service.ami.wait_connected(15)
        await seed(service.pool, prompt_exists=prompt_checker(settings.asterisk_root))
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        say(f"demo tenant seeded: DID {DID} running IVR flow acme-main, queues acme-sales / acme-support, agents "
            + ", ".join(f"{a.code} {a.name}" for a in AGENTS))
        for i, agent in enumerate(AGENTS):
            phones.append(await sipp.agent_phone(agent.endpoint, agent.secret, AGENT_PORT_BASE + 10 * i))
            await service.agents.apply(agent.code, AgentEvent.LOGIN)
        say(f"{len(phones)} SIPp agent phones registered (digest auth) and logged in")
        since = datetime.now(UTC)
        runs: list[SippRun] = []
        for i, caller in enumerate(CALLERS):
            await asyncio.sleep(caller.start_after_s - (CALLERS[i - 1].start_after_s if i else 0.0))
            runs.append(await sipp.call(DID, presses=caller.presses, caller=caller.number,
                                        port=CALLER_PORT_BASE + 10 * i, hold_ms=caller.hold_ms, talk=True))
        say(f"{len(runs)} callers dialling {DID} ...")
        for run_ in runs:
            code = await run_.wait(90)
            if code != 0:
                say(f"  caller {run_.name} ended with SIPp exit {code}: {run_.errors()[-300:].strip()}")
        rows = await _wait_for_records(service, since, len(CALLERS), timeout=20)
        counts = {a.code: sum(1 for r in rows if r["agent_code"] == a.code) for a in AGENTS}
        await asyncio.sleep(2)  # the indexer reads each WAV once the PBX has closed it
        async with service.pool.connection() as conn:
            found = await recordings.search(conn, recordings.Search(since=since - timedelta(seconds=5)))
        outbound = await _outbound(service, sipp, say)
        return DemoReport(rows, counts, time.monotonic() - t0, found, outbound)
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
