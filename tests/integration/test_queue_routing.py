"""Who gets which call: app_queue strategies and skills routing that widens as the caller waits,
on three registered SIPp agent phones."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from middleware.agents.state import AgentEvent
from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, seed
from middleware.store import agents as agent_store
from middleware.store import flows, teams, tenants
from tests.integration.conftest import call_record, wait_until

TEST_DID = "5551999"
TEST_QUEUE = "acme-test"
_callers = itertools.count(12125551000)
# Callers' SIP ports (their media is the port + 2000): 9000-9590, clear of SIPp's control ports (8888
# and up, one per running SIPp) and of the agent phones' media ports (9600 and up), so a long module
# never hands a caller a port another SIPp holds.
_ports = itertools.cycle(range(9000, 9600, 10))


@pytest.fixture
async def desk(make_service, sipp, settings):  # type: ignore[no-untyped-def]
    """Alice, Bob and Carol logged in on their phones; TEST_DID goes straight to TEST_QUEUE."""

    async def start(strategy: str, skill: str | None = None, widen: list[tuple[int, int]] | None = None,
                    skills: dict[str, int] | None = None, members: tuple[str, ...] = ("1001", "1002", "1003"),
                    **service_overrides: Any) -> tuple[Any, dict[str, Any]]:
        service = await make_service(**service_overrides)
        await seed(service.pool)
        async with service.pool.connection() as conn:
            tenant_id = await tenants.tenant_id(conn, "acme")
            assert tenant_id is not None
            await tenants.upsert_queue(conn, tenant_id, TEST_QUEUE, strategy=strategy, ring_timeout_s=15, wrapup_s=1)
            await tenants.set_queue_routing(conn, TEST_QUEUE, skill, widen or [])
            await tenants.upsert_did(conn, tenant_id, TEST_DID, TEST_QUEUE, None)
            for code in members:
                await agent_store.add_membership(conn, TEST_QUEUE, code)
            for code, level in (skills or {}).items():
                await agent_store.set_skill(conn, code, skill or "", level)
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        phones = {}
        for i, agent in enumerate(AGENTS):
            phones[agent.code] = await sipp.agent_phone(agent.endpoint, agent.secret, 7600 + 10 * i)
            await service.agents.apply(agent.code, AgentEvent.LOGIN)
        return service, phones

    return start


async def one_call(service: Any, sipp: Any, hold_ms: int = 2000) -> dict[str, Any]:
    caller = str(next(_callers))
    run = await sipp.call(TEST_DID, caller=caller, port=next(_ports), presses=[], hold_ms=hold_ms)
    assert await run.wait(60) == 0, run.errors()
    call = await wait_until(lambda: call_record(service, caller), 20, "the call record")
    assert call["disposition"] == "answered" and call["queue"] == TEST_QUEUE
    return call


async def all_available(service: Any) -> bool:
    async with service.pool.connection() as conn:
        return all(a.state.value == "available" for a in await agent_store.list_agents(conn))


async def calls_in_turn(service: Any, sipp: Any, n: int) -> list[str]:
    """n calls one after the other, each once every agent is free again (wrap-up over)."""
    agents = []
    for _ in range(n):
        await wait_until(lambda: all_available(service), 15, "every agent free")
        agents.append((await one_call(service, sipp))["agent_code"])
    return agents


async def test_ringall_rings_everyone_and_records_one_call(desk, sipp) -> None:
    service, phones = await desk("ringall")
    call = await one_call(service, sipp)
    assert call["ring_attempts"] == 3
    assert all(len(p.invites()) == 1 for p in phones.values())
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM calls WHERE queue = %s", (TEST_QUEUE,))
        assert (await cur.fetchone())[0] == 1
    # The two who did not answer: their ring ends when their phone goes idle (QueueMemberStatus).
    await wait_until(lambda: all_available(service), 15, "every agent free")
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.code FROM agent_state_history h JOIN agents a ON a.id = h.agent_id
                WHERE h.state = 'available' AND h.reason = 'QueueMemberStatus' ORDER BY a.code""")
        ended = [r[0] for r in await cur.fetchall()]
    assert len(ended) == 2 and call["agent_code"] not in ended


async def test_linear_always_offers_the_first_member(desk, sipp) -> None:
    service, phones = await desk("linear")
    assert await calls_in_turn(service, sipp, 2) == ["1001", "1001"]
    assert len(phones["1002"].invites()) == 0 and len(phones["1003"].invites()) == 0


@pytest.mark.parametrize("strategy", ["leastrecent", "fewestcalls"])
async def test_leastrecent_and_fewestcalls_spread_calls_over_every_agent(desk, sipp, strategy: str) -> None:
    service, phones = await desk(strategy)
    answered = await calls_in_turn(service, sipp, 3)
    assert sorted(answered) == ["1001", "1002", "1003"]
    assert all(len(p.invites()) == 1 for p in phones.values())  # each phone rang once: no ringall


@pytest.mark.parametrize("strategy", ["rrmemory", "rrordered"])
async def test_round_robin_strategies_take_turns_and_remember_where_they_were(desk, sipp, strategy: str) -> None:
    service, phones = await desk(strategy)
    answered = await calls_in_turn(service, sipp, 4)
    assert sorted(answered[:3]) == ["1001", "1002", "1003"]  # everyone once before anyone twice
    assert answered[3] == answered[0]  # then the turn comes round again
    if strategy == "rrordered":  # in the order the members joined (Alice, Bob, Carol logged in so)
        order = ["1001", "1002", "1003"]
        start = order.index(answered[0])
        assert answered[:3] == order[start:] + order[:start]
    assert sorted(len(p.invites()) for p in phones.values()) == [1, 1, 2]  # one phone rung per call


@pytest.mark.parametrize("strategy", ["random", "wrandom"])
async def test_random_strategies_ring_one_agent_per_call(desk, sipp, strategy: str) -> None:
    service, phones = await desk(strategy)
    answered = await calls_in_turn(service, sipp, 3)
    assert set(answered) <= {"1001", "1002", "1003"}
    assert sum(len(p.invites()) for p in phones.values()) == 3  # never ringall: one ring per call


async def test_skills_queue_offers_the_best_first_and_widens_as_the_caller_waits(desk, sipp) -> None:
    # Carol is a billing expert (5), Alice a beginner (2), Bob has no billing skill at all.
    service, phones = await desk("ringall", skill="billing", widen=[(0, 5), (6, 2)],
                                 skills={"1003": 5, "1001": 2})
    first = await one_call(service, sipp)
    assert first["agent_code"] == "1003" and first["wait_s"] < 3
    await wait_until(lambda: all_available(service), 15, "every agent free")
    await service.agents.apply("1003", AgentEvent.PAUSE, "coaching")
    second = await one_call(service, sipp, hold_ms=9000)
    assert second["agent_code"] == "1001" and float(second["wait_s"]) >= 5.5  # only after the 6 s step
    assert len(phones["1002"].invites()) == 0  # without the skill, never offered a billing call


async def test_a_caller_who_must_wait_is_told_and_the_estimate_is_kept(desk, sipp, settings) -> None:
    service, _phones = await desk("ringall")
    async with service.pool.connection() as conn:  # a handle-time history: 20 s calls, 1 s wrap-up
        for i in range(3):
            await conn.execute(
                "INSERT INTO calls (linkedid, queue, disposition, talk_s, ended_at, complete) "
                "VALUES (%s, %s, 'answered', 20, now(), true)", (f"history-{i}", TEST_QUEUE))
    for code in ("1002", "1003"):
        await service.agents.apply(code, AgentEvent.PAUSE, "lunch")
    busy_caller = await sipp.call(TEST_DID, caller="12125552001", port=next(_ports), presses=[], hold_ms=25000)
    await wait_until(lambda: _agent_state(service, "1001", "on_call"), 15, "Alice on the first call")
    waiting = await one_call(service, sipp, hold_ms=32000)  # the announcement alone takes ~8 s
    assert await busy_caller.wait(60) == 0
    assert waiting["queue_position"] == 1 and waiting["agent_code"] == "1001"
    assert 15 <= float(waiting["estimated_wait_s"]) <= 25  # one busy agent, AHT 20 + 1 s
    assert float(waiting["wait_s"]) > 3  # and it did wait


async def _agent_state(service: Any, code: str, state: str) -> bool:
    async with service.pool.connection() as conn:
        agent = await agent_store.get_agent(conn, code)
    return agent is not None and agent.state.value == state


async def test_overflow_team_joins_while_callers_wait_and_leaves_when_load_subsides(desk, sipp, settings) -> None:
    service, phones = await desk("ringall", members=("1001",), overflow_interval=0.5)
    async with service.pool.connection() as conn:
        await teams.upsert_team(conn, await tenants.tenant_id(conn, "acme"), "backup", ["1002"])
        await teams.set_overflow(conn, TEST_QUEUE, "backup", 10, 2)
        for i in range(3):  # a handle-time history: 20 s calls, 1 s wrap-up
            await conn.execute(
                "INSERT INTO calls (linkedid, queue, disposition, talk_s, ended_at, complete) "
                "VALUES (%s, %s, 'answered', 20, now(), true)", (f"history-{i}", TEST_QUEUE))
    assert "acme-1002" not in asterisk.rx(settings, f"queue show {TEST_QUEUE}")  # Bob is not a member

    first = await sipp.call(TEST_DID, caller="12125553001", port=next(_ports), presses=[], hold_ms=25000)
    await wait_until(lambda: _agent_state(service, "1001", "on_call"), 15, "Alice on the first call")
    second = await one_call(service, sipp, hold_ms=15000)
    assert second["agent_code"] == "1002"  # the overflow team took the waiting caller
    assert await first.wait(60) == 0
    await wait_until(lambda: _overflow_actions(service, ["join", "leave"]), 20, "the team to leave again")
    assert "acme-1002" not in asterisk.rx(settings, f"queue show {TEST_QUEUE}")
    assert len(phones["1003"].invites()) == 0


async def _overflow_actions(service: Any, expected: list[str]) -> bool:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT action FROM queue_overflow_log WHERE queue = %s ORDER BY id", (TEST_QUEUE,))
        return [r[0] for r in await cur.fetchall()] == expected


async def test_callback_keeps_the_place_and_calls_the_agent_first(desk, sipp, settings) -> None:
    service, phones = await desk("ringall", members=("1001",))
    async with service.pool.connection() as conn:
        await flows.allow_trunk(conn, await tenants.tenant_id(conn, "acme"), "carrier-sim")
        for i in range(3):
            await conn.execute(
                "INSERT INTO calls (linkedid, queue, disposition, talk_s, ended_at, complete) "
                "VALUES (%s, %s, 'answered', 20, now(), true)", (f"history-{i}", TEST_QUEUE))
    customer = await sipp.customer(5080, talk_ms=3000)
    busy = await sipp.call(TEST_DID, caller="12125554001", port=next(_ports), presses=[], hold_ms=30000)
    await wait_until(lambda: _agent_state(service, "1001", "on_call"), 15, "Alice on the first call")
    # The second caller hears the wait (~10 s), then presses 1 in the queue and is told thank you.
    leaver = await sipp.call(TEST_DID, caller="12125554002", port=next(_ports), presses=[(16000, "1")],
                             hold_ms=4000)
    # A third caller joins the queue after the second but before they press 1: the callback must
    # still be answered before them, in the place the second caller held.
    await asyncio.sleep(3)
    later = await sipp.call(TEST_DID, caller="12125554003", port=next(_ports), presses=[], hold_ms=50000)
    await leaver.wait(60)  # Asterisk hangs up after the thank-you; the caller's own BYE may find no call
    left = await wait_until(lambda: call_record(service, "12125554002"), 20, "the waiting call's record")
    assert left["disposition"] == "callback_requested" and left["agent_code"] is None
    assert await busy.wait(60) == 0

    done = await wait_until(lambda: _callback(service, "done"), 40, "the callback to be placed and finish")
    assert done == ("+12125554002", TEST_QUEUE, 1)  # stored as the dialing policy wrote it: E.164
    assert await later.wait(90) == 0, later.errors()
    answered = [line for line in customer.log_lines() if line.startswith("ANSWERED")]
    # The customer saw the number they had called as the caller ID.
    assert len(answered) == 1 and '"Callback" <sip:5551999@' in answered[0], answered
    # Alice: the first call, then the callback (through the queue, before the later caller), then him.
    assert [c["caller"] for c in phones["1001"].connected_calls()] == ["12125554001", "+12125554002",
                                                                      "12125554003"]  # (E.164: as dialled)
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT legs FROM calls WHERE complete AND legs::text LIKE '%%carrier-sim%%' AND legs::text LIKE "
            "'%%acme-1001%%' AND legs::text LIKE '%%callback-queue%%' ORDER BY started_at DESC LIMIT 1")
        legs = [leg for leg in (await cur.fetchone())[0] if leg["channel"].startswith("PJSIP/")]
    assert legs[0]["channel"].startswith("PJSIP/acme-1001-")  # the agent first
    assert legs[1]["channel"].startswith("PJSIP/carrier-sim-")  # then the customer
    await wait_until(lambda: _agent_state(service, "1001", "available"), 15, "Alice free after wrap-up")


async def test_a_callback_to_a_satellite_number_is_refused_and_the_caller_keeps_their_place(desk, sipp) -> None:
    """Toll fraud: a caller who spoofs a satellite number (+882...) and presses 1 must not make the
    center call it. They hear why, stay in the queue at the place they held (ahead of a caller who
    joined after them), and are answered; nothing is stored to be dialled."""
    service, phones = await desk("ringall", members=("1001",))
    async with service.pool.connection() as conn:
        await flows.allow_trunk(conn, await tenants.tenant_id(conn, "acme"), "carrier-sim")
    spoofed = "+88216123456"
    busy = await sipp.call(TEST_DID, caller="12125554101", port=next(_ports), presses=[], hold_ms=30000)
    await wait_until(lambda: _agent_state(service, "1001", "on_call"), 15, "Alice on the first call")
    fraud = await sipp.call(TEST_DID, caller=spoofed, port=next(_ports), presses=[(16000, "1")], hold_ms=30000)
    await asyncio.sleep(3)
    # Answered after the refused caller (~45 s from now): it holds on until then.
    later = await sipp.call(TEST_DID, caller="12125554103", port=next(_ports), presses=[], hold_ms=70000)
    for run in (busy, fraud, later):
        assert await run.wait(120) == 0, run.errors()
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM callbacks")
        assert (await cur.fetchone())[0] == 0
    assert service.gate.refusals[("callback", "satellite")] == 1
    assert [c["caller"] for c in phones["1001"].connected_calls()] == ["12125554101", spoofed, "12125554103"]
    record = await wait_until(lambda: call_record(service, spoofed), 20, "the refused caller's record")
    assert record["disposition"] == "answered" and record["agent_code"] == "1001"


async def _callback(service: Any, status: str) -> tuple[str, str, int] | None:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT number, queue, attempts FROM callbacks WHERE status = %s", (status,))
        row = await cur.fetchone()
    return None if row is None else (row[0], row[1], row[2])


async def test_waiting_callers_hear_periodic_announcements_and_keep_their_place(desk, sipp) -> None:
    service, phones = await desk("ringall", members=("1001",))
    async with service.pool.connection() as conn:
        await tenants.set_queue_caller_settings(conn, TEST_QUEUE, None, 15)
    busy = await sipp.call(TEST_DID, caller="12125556001", port=next(_ports), presses=[], hold_ms=45000)
    await wait_until(lambda: _agent_state(service, "1001", "on_call"), 15, "Alice on the first call")
    first = await sipp.call(TEST_DID, caller="12125556002", port=next(_ports), presses=[], hold_ms=50000)
    await wait_until(lambda: _in_queue(service, 1), 20, "the first waiting caller in the queue")
    second = await sipp.call(TEST_DID, caller="12125556003", port=next(_ports), presses=[], hold_ms=55000)
    for run in (busy, first, second):
        assert await run.wait(120) == 0, run.errors()
    records = [await wait_until(lambda c=c: call_record(service, c), 20, f"record of {c}")
               for c in ("12125556002", "12125556003")]
    # Both were told their position and wait again while they waited ...
    assert service.announcer.announced >= 2
    # ... without leaving the queue: the earlier caller was still answered first.
    assert [r["disposition"] for r in records] == ["answered", "answered"]
    assert records[0]["connected_at"] < records[1]["connected_at"]
    connected = phones["1001"].connected_calls()
    assert [c["caller"] for c in connected] == ["12125556001", "12125556002", "12125556003"]
    assert float(records[0]["wait_s"]) > 20
    async with service.pool.connection() as conn:  # the whispering channels left no call records
        cur = await conn.execute("SELECT count(*) FROM calls WHERE complete")
        assert (await cur.fetchone())[0] == 3


async def _in_queue(service: Any, n: int) -> bool:
    messages = await service.ami.action({"Action": "QueueStatus", "Queue": TEST_QUEUE}, as_list=True)
    return sum(1 for m in messages if m.get("event") == "QueueEntry") >= n
