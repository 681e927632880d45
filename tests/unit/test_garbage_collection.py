"""The periodic full collection frees reference cycles the tuned collector would leave for minutes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

from middleware.memory_report import collect_garbage


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: reference counting alone never frees it


async def test_a_reference_cycle_is_freed_by_the_next_periodic_collection() -> None:
    gc.disable()  # the collector's own thresholds never fire here: only collect_garbage can free it
    try:
        ref = weakref.ref(Node())
        assert ref() is not None
        task = asyncio.create_task(collect_garbage(interval_s=0.01))
        await asyncio.sleep(0.3)  # some 30 intervals
        assert ref() is None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        gc.enable()
