"""The event stream's NOTIFY outbox without PostgreSQL: publishing never blocks, losses are counted."""

from __future__ import annotations

import asyncio

from middleware.event_stream import EventStream, batch_length
from middleware.store.database import open_pool


async def test_with_postgresql_away_publishing_neither_blocks_nor_raises_and_losses_are_counted() -> None:
    pool = await open_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1, timeout=0.5)
    try:
        events = EventStream(pool)
        local = events.subscribe()
        async with asyncio.timeout(1):
            for i in range(50):
                await events.publish("agent_state", {"n": i})
        assert local.qsize() == 50
        async with asyncio.timeout(10):
            await events.flush()
        assert events.notified == 0 and events.notify_lost == 50
    finally:
        await pool.close()


def test_a_batch_is_cut_at_its_byte_bound_but_never_empty() -> None:
    assert batch_length([], 100) == 0
    assert batch_length(["x" * 500], 100) == 1
    assert batch_length(["x" * 40] * 5, 100) == 2
    assert batch_length(["x" * 40] * 2, 100) == 2
