"""The wait estimate's one-round-trip read of a queue agrees with the member list it replaced."""

from __future__ import annotations

from collections import Counter

from middleware.agents.state import AgentState
from middleware.runtime import demo_tenant
from middleware.store import agents as agent_store
from middleware.store.database import open_pool
from middleware.store.queue_load import queue_load


async def test_members_by_state_skill_and_the_aht_of_the_last_calls(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=2)
    try:
        await demo_tenant.seed(pool)
        async with pool.connection() as conn:
            await conn.execute("UPDATE queues SET skill = 'billing', wrapup_s = 3 WHERE name = 'acme-support'")
            await agent_store.add_membership(conn, "acme-support", "1001")
            assert await agent_store.set_skill(conn, "1003", "billing", 4)
            assert await agent_store.set_skill(conn, "1001", "billing", 2)
            await conn.execute("UPDATE agents SET state = 'available' WHERE code IN ('1002', '1003')")  # 1002: no skill
            await conn.execute("UPDATE agents SET state = 'on_call' WHERE code = '1001'")
            for i, talk in enumerate([10, 20, 30, 600]):  # the oldest is past the last 3
                await conn.execute(
                    "INSERT INTO calls (linkedid, queue, started_at, disposition, talk_s) "
                    "VALUES (%s, 'acme-support', now() - make_interval(mins => %s), 'answered', %s)",
                    (f"L{i}", i, talk))
            load = await queue_load(conn, "acme-support", last=3)
            members = await agent_store.memberships(conn, queue="acme-support")
            empty = await queue_load(conn, "no-such-queue")
    finally:
        await pool.close()
    by_state: Counter[AgentState] = Counter()
    for g in load.members:
        if g.eligible:
            by_state[g.state] += g.count
    assert by_state == Counter(m.state for m in members if m.eligible)
    assert sum(g.count for g in load.members) == len(members)
    assert by_state == Counter({AgentState.AVAILABLE: 1, AgentState.ON_CALL: 1})
    assert sum(g.count for g in load.members if not g.eligible) == 1  # 1002 lacks the skill
    assert load.aht_s == 20 + 3  # avg(10, 20, 30) + wrap-up
    assert empty.members == () and empty.aht_s is None
