"""Live events cross processes by NOTIFY: batched behind the publisher, never blocking it, nothing lost
while PostgreSQL answers (tests/unit/test_event_stream.py: when it does not)."""

from __future__ import annotations

import asyncio
import json

import psycopg

from middleware.event_stream import CHANNEL, EventStream
from middleware.store.database import open_pool


async def test_a_burst_of_events_reaches_a_listener_whole_and_in_order(db_url: str) -> None:
    listener = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    pool = await open_pool(db_url, min_size=1, max_size=2)
    try:
        await listener.execute(f"LISTEN {CHANNEL}")
        events = EventStream(pool)
        local = events.subscribe()
        for i in range(300):  # the AMI loop's pace: no await on the database between events
            await events.publish("agent_state", {"tenant": "acme", "agent": "3001", "n": i})
        assert local.qsize() == 300  # local subscribers do not wait for PostgreSQL
        await events.flush()
        assert events.notified == 300 and events.notify_lost == 0
        assert events.notify_batches < 30  # was one round trip per event
        got = [json.loads(note.payload)["n"] async for note in listener.notifies(timeout=5, stop_after=300)]
        assert got == list(range(300))
    finally:
        await listener.close()
        await pool.close()


async def test_a_calls_burst_spread_over_a_few_milliseconds_goes_in_one_notify(db_url: str) -> None:
    listener = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    pool = await open_pool(db_url, min_size=1, max_size=2)
    try:
        await listener.execute(f"LISTEN {CHANNEL}")
        events = EventStream(pool, collect_s=0.5)  # a wide window: the test does not race the clock
        for kind in ("agent_state", "queue_update", "screen_pop", "agent_state"):
            await events.publish(kind, {"tenant": "acme"})
            await asyncio.sleep(0.005)  # the AMI loop handles other events in between
        await asyncio.sleep(0.6)
        assert events.notified == 4 and events.notify_batches == 1  # was 4 round trips
        got = [json.loads(note.payload)["kind"] async for note in listener.notifies(timeout=5, stop_after=4)]
        assert got == ["agent_state", "queue_update", "screen_pop", "agent_state"]
    finally:
        await listener.close()
        await pool.close()


async def test_the_relay_delivers_another_processs_events_once_and_its_own_not_again(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=2)
    ours = EventStream(pool, collect_s=0)
    other = EventStream(pool, collect_s=0)  # the CLI, another node
    local = ours.subscribe()
    relay = asyncio.create_task(ours.relay(db_url))
    try:
        async def relay_listening() -> None:  # until a probe from the other origin comes back
            while local.empty():
                await other.publish("probe", {})
                await other.flush()
                await asyncio.sleep(0.1)
        await asyncio.wait_for(relay_listening(), 10)
        # A caller's text that spells our marker is escaped inside its value: still another's event.
        await other.publish("screen_pop", {"customer": f'x","origin":"{ours.origin}'})
        await ours.publish("agent_state", {"agent": "3001"})
        await other.flush()
        await ours.flush()
        await asyncio.sleep(1)  # our own NOTIFY has come back through the relay by now
        got = [local.get_nowait() for _ in range(local.qsize())]
        kinds = [e["kind"] for e in got if e["kind"] != "probe"]
        assert sorted(kinds) == ["agent_state", "screen_pop"]  # each once: ours not a second time
        pop = next(e for e in got if e["kind"] == "screen_pop")
        assert pop["origin"] == other.origin and pop["customer"] == f'x","origin":"{ours.origin}'
    finally:
        relay.cancel()
        await pool.close()
