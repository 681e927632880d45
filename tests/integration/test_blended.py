"""Blended agents on the real PBX: a predictive campaign runs on the three agents of an inbound queue
while customers call in. Inbound keeps priority (no campaign call is put through to an agent while an
inbound caller has been waiting, every inbound caller is answered) and the campaign stays within its
abandonment target, although inbound calls take away agents it was pacing for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, numbers_where_hour_is, seed
from middleware.store import agents as agent_store
from middleware.store import flows, tenants
from tests.integration.conftest import TEST_DID, TEST_QUEUE, cli, wait_until

INBOUND_CALLS = 10
LEADS = 45
MARGIN_S = 1.0  # an inbound caller who entered the queue this long before a campaign connect was waiting


async def test_inbound_keeps_priority_over_a_predictive_campaign_on_the_same_agents(
        make_service, sipp, settings, tmp_path) -> None:
    service = await make_service(dialer_interval=0.5)
    await seed(service.pool, agents=AGENTS)
    async with service.pool.connection() as conn:
        tenant_id = await tenants.tenant_id(conn, "acme")
        assert tenant_id is not None
        await flows.allow_trunk(conn, tenant_id, "carrier-sim")
        await tenants.upsert_queue(conn, tenant_id, TEST_QUEUE, strategy="leastrecent", wrapup_s=1)
        await tenants.upsert_did(conn, tenant_id, TEST_DID, TEST_QUEUE, None)
        for agent in AGENTS:
            await agent_store.add_membership(conn, TEST_QUEUE, agent.code)
    # People only (numbers ending 0-4 answer and talk), where the calling window is open now.
    _zone, numbers = numbers_where_hour_is(range(10, 19), datetime.now(UTC), 300, 200)
    people = [n for n in numbers if int(n[-1]) <= 4][:LEADS]
    path = tmp_path / "blend.csv"
    path.write_text("number,name\n" + "".join(f"{n},Lead {i}\n" for i, n in enumerate(people)))
    created = await cli(settings, "campaign", "create", "blend", "--tenant", "acme", "--caller-id",
                        '"Acme" <+15551000>', "--agents", ",".join(a.code for a in AGENTS),
                        "--safe-harbor", "please-try-call-later", "--ring-timeout", "15", "--max-attempts", "1",
                        "--wrap-up", "1", "--inbound-priority", "inbound")
    assert created.returncode == 0, created.stderr
    imported = await cli(settings, "leads", "import", str(path), "--campaign", "blend")
    assert imported.returncode == 0 and f"{LEADS} leads added" in imported.stdout, imported.stdout + imported.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    await sipp.customers(5080, ring_ms=1000, talk_ms=4000)
    sessions = []
    for i, agent in enumerate(AGENTS):
        await sipp.agent_phone(agent.endpoint, agent.secret, 7900 + 20 * i)
        sessions.append(await sipp.feature_code(agent.endpoint, agent.secret, "*49", 7910 + 20 * i,
                                                stay_ms=600_000))

    async def all_logged_in() -> bool:  # each agent's session a free member of both queues
        return all(asterisk.rx(settings, f"queue show {q}").count("(Not in use)") == 3
                   for q in (TEST_QUEUE, "dialer-blend"))

    await wait_until(all_logged_in, 30, "three persistent agents free in both queues")
    assert (await cli(settings, "campaign", "start", "blend")).returncode == 0

    async def dialing() -> bool:
        async with service.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM dial_attempts WHERE connected_at IS NOT NULL")
            row = await cur.fetchone()
        return bool(row and row[0] >= 3)

    await wait_until(dialing, 60, "the campaign's first calls with the agents")
    # Customers calling in, one every 6 s, while the campaign keeps the agents busy; each holds 15 s
    # (about 1.5 of the 3 agents' worth of inbound work).
    callers = await sipp.call(TEST_DID, caller="12125557100", port=8700, presses=[], hold_ms=15_000,
                              calls=INBOUND_CALLS, rate_per_s=1 / 6, limit=INBOUND_CALLS)
    assert await callers.wait(INBOUND_CALLS * 6 + 60) == 0, callers.errors()

    async def campaign_done() -> bool:
        async with service.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM leads WHERE status IN ('ready', 'dialing')")
            row = await cur.fetchone()
        return row is not None and row[0] == 0

    try:
        await wait_until(campaign_done, 240, "every lead dialled")
    finally:
        async with service.pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM leads GROUP BY 1")
            print("\nleads:", await cur.fetchall())
            cur = await conn.execute("SELECT outcome, count(*) FROM dial_attempts GROUP BY 1")
            print("attempts:", await cur.fetchall())
            cur = await conn.execute("SELECT disposition, count(*) FROM calls WHERE queue = %s GROUP BY 1",
                                     (TEST_QUEUE,))
            print("inbound:", await cur.fetchall())
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT connected_at - make_interval(secs => wait_s::float8), connected_at, wait_s::float8, agent_code
                 FROM calls WHERE queue = %s AND direction = 'inbound' AND complete ORDER BY started_at""",
            (TEST_QUEUE,))
        inbound: list[tuple[Any, ...]] = await cur.fetchall()
        cur = await conn.execute("SELECT outcome, connected_at, agent_code FROM dial_attempts ORDER BY id")
        attempts: list[tuple[Any, ...]] = await cur.fetchall()
    status = json.loads((await cli(settings, "campaign", "status", "blend", "--json")).stdout)
    for s in sessions:
        await s.stop()

    # Every inbound caller reached an agent.
    assert len(inbound) == INBOUND_CALLS and all(c[1] is not None and c[3] for c in inbound), inbound
    # No campaign call went to an agent while an inbound caller had been waiting (app_queue's weights:
    # the inbound queue 10, the campaign's 0; the dialer counts the waiting callers out of its agents).
    connects = [a[1] for a in attempts if a[1] is not None]
    overtaken = [(t, entered, connected) for t in connects for entered, connected, _w, _a in inbound
                 if entered + timedelta(seconds=MARGIN_S) < t < connected]
    assert overtaken == [], overtaken
    # The campaign stays compliant although inbound calls took agents away from its pacing.
    live = [a for a in attempts if a[0] in ("connected", "abandoned")]
    abandoned = sum(1 for a in live if a[0] == "abandoned")
    assert len(live) == LEADS and status["today"]["live_answers"] == LEADS
    assert abandoned <= 0.03 * len(live), (abandoned, len(live))
    waits = sorted(c[2] for c in inbound)
    print(f"\nblended: inbound waits {waits} s (max {waits[-1]:.1f}); campaign {len(live)} live answers, "
          f"{abandoned} abandoned; occupancy {status['occupancy_today']}")
