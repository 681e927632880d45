"""Nothing lost while PostgreSQL is away: the middleware's database server (a private one: the
machine's shared server must not be restarted) is stopped in the middle of traffic and started again.
Calls go on; their records go to the fsync'd journal, and once the database answers they are
replayed: every call ends up with exactly one complete record."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import psycopg

from middleware.agents.state import AgentEvent
from middleware.cdr.journal import Journal, record_to_line
from middleware.cdr.service import CdrService
from middleware.health import DatabaseHealth
from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS, DID, seed
from middleware.store import agents as agent_store
from middleware.store import tenants
from middleware.store.database import open_pool
from tests.integration.conftest import TEST_DID, TEST_QUEUE, demo_campaign, wait_until
from tests.unit.test_cdr_journal import record

CALLERS = [f"1212555{8000 + i}" for i in range(6)]


def _records(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT caller_number, count(*) FROM calls WHERE complete GROUP BY caller_number")
        return {number: n for number, n in rows.fetchall()}


async def test_postgres_restart_mid_traffic_loses_no_call_record(make_service, sipp, settings,
                                                                 private_postgres) -> None:
    server, db_url = private_postgres
    service: Any = await make_service(database_url=db_url)
    try:
        await seed(service.pool)
        async with service.pool.connection() as conn:
            tenant_id = await tenants.tenant_id(conn, "acme")
            assert tenant_id is not None
            await tenants.upsert_queue(conn, tenant_id, TEST_QUEUE, strategy="leastrecent", wrapup_s=1)
            await tenants.upsert_did(conn, tenant_id, TEST_DID, TEST_QUEUE, None)
            for agent in AGENTS:
                await agent_store.add_membership(conn, TEST_QUEUE, agent.code)
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        for i, agent in enumerate(AGENTS):
            await sipp.agent_phone(agent.endpoint, agent.secret, 7900 + 10 * i)
            await service.agents.apply(agent.code, AgentEvent.LOGIN)

        # Three calls talk through the outage, three more arrive while the database is away.
        runs = [await sipp.call(TEST_DID, caller=c, port=8900 + 10 * i, presses=[], hold_ms=6000)
                for i, c in enumerate(CALLERS[:3])]
        await wait_until(lambda: _talking(service, 3), 20, "three calls connected")
        await asyncio.to_thread(server.stop)  # every session cut, new ones refused
        runs += [await sipp.call(TEST_DID, caller=c, port=8930 + 10 * i, presses=[], hold_ms=3000)
                 for i, c in enumerate(CALLERS[3:])]
        for run in runs:
            assert await run.wait(90) == 0, run.errors()
        journal = service.cdr.journal
        await wait_until(lambda: _journaled(journal, len(CALLERS)), 30, "every record journaled")
        journaled = journal.read().records
        assert sorted(r.caller_number for r in journaled) == sorted(CALLERS)

        await asyncio.to_thread(server.start)
        await wait_until(lambda: _replayed(journal), 40, "the journal replayed")
        assert _records(db_url) == dict.fromkeys(CALLERS, 1)
        assert service.cdr.replayed == len(CALLERS)
        # A second replay of the same records (a crash between replay and clearing) changes nothing.
        journal.append(journaled)
        await wait_until(lambda: _replayed(journal), 20, "the duplicate replay")
        assert _records(db_url) == dict.fromkeys(CALLERS, 1)
    finally:
        await asyncio.to_thread(server.start)  # up again if the test failed while it was down


async def _talking(service: Any, n: int) -> bool:
    async with service.pool.connection() as conn:
        return sum(a.state.value == "on_call" for a in await agent_store.list_agents(conn)) >= n


async def _journaled(journal: Any, n: int) -> bool:
    return journal.backlog() >= n


async def _replayed(journal: Any) -> bool:
    return journal.backlog() == 0


async def test_calls_while_the_middleware_is_down_are_rebuilt_from_asterisks_own_rows(alice_desk, sipp, settings,
                                                                                      db_url) -> None:
    alice = AGENTS[0]
    service: Any = await alice_desk()
    phone = await sipp.agent_phone(alice.endpoint, alice.secret, 7990)
    await service.agents.apply(alice.code, AgentEvent.LOGIN)
    await service.close()  # the middleware is gone; Asterisk, the phone and the queue member stay

    caller = "12125558101"
    run = await sipp.call(TEST_DID, caller=caller, port=8990, presses=[], hold_ms=5000)
    assert await run.wait(60) == 0, run.errors()
    await wait_until(lambda: _raw_rows(db_url, caller), 20, "Asterisk's own CDR rows")
    assert _records(db_url) == {}  # nobody assembled a record

    env = {**os.environ, "DATABASE_URL": db_url}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "middleware", "cdr", "reconcile"],
                                   capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and "1 call record(s) rebuilt" in done.stdout, done.stdout + done.stderr
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT disposition, agent_code, queue, did, talk_s, reconciled FROM calls "
                           "WHERE caller_number = %s AND complete", (caller,)).fetchone()
    assert row is not None and row[:4] == ("answered", "1001", TEST_QUEUE, TEST_DID) and row[5] is True
    talked = phone.connected_calls()[0]
    assert abs(float(row[4]) - (talked["ended_ms"] - talked["connected_ms"]) / 1000) <= 1.0
    # Run again: nothing is missing any more.
    again = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "middleware", "cdr", "reconcile"],
                                    capture_output=True, text=True, env=env, timeout=60)
    assert "0 call record(s) rebuilt" in again.stdout


async def _raw_rows(db_url: str, caller: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM cdr WHERE src = %s", (caller,)).fetchone()[0]


async def test_a_torn_line_then_1000_records_replay_as_1000_stored(db_url, tmp_path) -> None:
    """A crash mid-append leaves a fragment; the 1,000 records journaled after the restart all reach
    PostgreSQL, and the fragment is kept in the quarantine, not deleted."""
    path = tmp_path / "cdr-journal.jsonl"
    path.write_text(record_to_line(record("torn.0"))[:57])
    journal = Journal(path)  # the restarted middleware
    journal.append([record(f"j.{i}") for i in range(1000)])
    pool = await open_pool(db_url, min_size=1, max_size=2)
    try:
        cdr = CdrService(pool, DatabaseHealth(pool), journal=journal)
        await cdr.replay()
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT count(*), count(*) FILTER (WHERE complete) FROM calls "
                                     "WHERE linkedid LIKE 'j.%%'")
            assert await cur.fetchone() == (1000, 1000)
    finally:
        await pool.close()
    assert cdr.replayed == 1000 and journal.backlog() == 0 and journal.read().records == []
    [kept] = journal.quarantined()
    assert kept["text"] == record_to_line(record("torn.0"))[:57] and kept["line"] == 1


async def test_attempts_and_callbacks_left_in_flight_by_an_outage_are_settled(db_url) -> None:
    """Events skipped while PostgreSQL was away used to leave attempts 'dialing' and callbacks
    'dialing' for ever (campaigns under-dial, callbacks never retried). On recovery each is checked
    against Asterisk's channels: the ones whose call is gone are settled, the ones still up are left."""
    from middleware.callbacks.service import CallbackService
    from middleware.dialer.attempts import channel_id
    from middleware.dialer.leads import make_lead
    from middleware.dialer.service import DialerService
    from middleware.store import callbacks as callback_store
    from middleware.store import campaigns

    pool = await open_pool(db_url, min_size=1, max_size=4)
    try:
        tenant_id, campaign_id = await demo_campaign(pool, "out", mode="predictive")
        async with pool.connection() as conn:
            await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550160", "", "", {}),
                                                              make_lead(2, "+12125550161", "", "", {})])
            cur = await conn.execute(
                "WITH l AS (UPDATE leads SET status = 'dialing', attempts = 1 WHERE campaign_id = %s "
                "RETURNING id, number) INSERT INTO dial_attempts (campaign_id, lead_id, number, node, launched_at) "
                "SELECT %s, id, number, 'node-a', now() FROM l RETURNING id, number", (campaign_id, campaign_id))
            attempt_of = {number: attempt for attempt, number in await cur.fetchall()}
            gone_cb = await callback_store.add_callback(conn, tenant_id, "L1", "+12125550170", "acme-support")
            live_cb = await callback_store.add_callback(conn, tenant_id, "L2", "+12125550171", "acme-support")
            await conn.execute("UPDATE callbacks SET status = 'dialing', attempts = 1")

        class Asterisk:
            """Still has the call of one attempt and one callback; the others ended during the outage."""
            async def action(self, fields: dict[str, str], **kw: object) -> list[dict[str, str]]:
                assert fields["Action"] == "CoreShowChannels"
                live = channel_id(attempt_of["+12125550161"])
                return [{"event": "CoreShowChannel", "channel": "PJSIP/carrier-sim-0000002a", "uniqueid": live,
                         "linkedid": live},
                        {"event": "CoreShowChannel", "channel": f"Local/{live_cb}@callback-queue-00000003;1",
                         "uniqueid": "9.1", "linkedid": "9.1"}]

        dialer = DialerService(pool, Asterisk(), node="node-a")  # type: ignore[arg-type]
        callbacks = CallbackService(pool, Asterisk())  # type: ignore[arg-type]
        assert await dialer.settle_after_outage() == 1
        assert await callbacks.settle_after_outage() == 1
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT a.number, a.status, a.outcome, l.status, l.next_at > now() + "
                                     "interval '71 hours' FROM dial_attempts a JOIN leads l ON l.id = a.lead_id "
                                     "ORDER BY a.number")
            assert await cur.fetchall() == [("+12125550160", "done", "lost", "ready", True),
                                            ("+12125550161", "dialing", None, "dialing", False)]
            cur = await conn.execute("SELECT id, status FROM callbacks ORDER BY id")
            assert await cur.fetchall() == [(gone_cb, "pending"), (live_cb, "dialing")]
    finally:
        await pool.close()


def _stamp(line: str) -> datetime:
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S.%f")


async def test_with_the_database_down_a_caller_reaches_the_fallback_queue_at_once(make_service, sipp, settings,
                                                                                private_postgres) -> None:
    """The IVR used to wait 10-20 s on the pool before the dialplan's fallback took the call: dead air.
    Now it gives up within a second (a known-down database: at once). The bound below is generous
    against a loaded machine; what it tells apart is a second from ten."""
    server, db_url = private_postgres
    service: Any = await make_service(database_url=db_url)
    try:
        await seed(service.pool, agents=AGENTS[2:])  # Carol, in acme-support: the demo DID's fallback queue
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        phone = await sipp.agent_phone(AGENTS[2].endpoint, AGENTS[2].secret, 7990)
        await service.agents.apply(AGENTS[2].code, AgentEvent.LOGIN)
        await asyncio.to_thread(server.stop)
        for i, caller in enumerate(("12125558201", "12125558202")):  # the first finds out, the second knows
            run = await sipp.call(DID, caller=caller, port=8980 + 10 * i, digits="", hold_ms=2000)
            assert await run.wait(60) == 0, run.errors()
        assert len(phone.connected_calls()) == 2  # both reached Carol through the fallback
        log = (settings.asterisk_root / "var" / "log" / "asterisk" / "full.log").read_text(errors="replace")
        lines = log.splitlines()
        waits = []
        for start in [i for i, line in enumerate(lines) if 'AGI("PJSIP/carrier-sim-' in line
                                                            and "agi://127.0.0.1:4573/ivr" in line][-2:]:
            channel = lines[start].split('AGI("', 1)[1].split('"', 1)[0]
            fallback = next(line for line in lines[start:] if "IVR unavailable" in line and channel in line)
            waits.append((_stamp(fallback) - _stamp(lines[start])).total_seconds())
        assert len(waits) == 2 and all(w < 3.0 for w in waits), waits
    finally:
        await asyncio.to_thread(server.start)
