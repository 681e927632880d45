"""The configuration cache keeps rows only while it listens for changes, and never keeps a read that
raced a change."""

from __future__ import annotations

import asyncio

from middleware import config_cache
from middleware.config_cache import ConfigCache


def counting_load(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    async def load() -> object:
        calls.append(1)
        return value

    return calls, load


async def test_nothing_is_kept_until_the_listen_is_in_place() -> None:
    cache = ConfigCache()
    calls, load = counting_load("row")
    assert await cache.get("k", load) == "row"
    assert await cache.get("k", load) == "row"
    assert len(calls) == 2  # not listening: a change could be missed, so every read goes to the database


async def test_a_kept_row_is_read_once_until_a_change_is_notified() -> None:
    cache = ConfigCache()
    cache._listening()
    calls, load = counting_load(None)  # an unknown DID is kept too
    for _ in range(3):
        assert await cache.get(("did", "5551000"), load) is None
    assert len(calls) == 1 and cache.hits == 2
    cache.invalidate()
    await cache.get(("did", "5551000"), load)
    assert len(calls) == 2


async def test_a_read_that_started_before_a_change_is_not_kept() -> None:
    cache = ConfigCache()
    cache._listening()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_old_row() -> str:
        started.set()
        await release.wait()
        return "old"

    read = asyncio.create_task(cache.get("k", slow_old_row))
    await started.wait()
    cache.invalidate()  # the row changed while it was being read
    release.set()
    assert await read == "old"
    calls, load = counting_load("new")
    assert await cache.get("k", load) == "new" and len(calls) == 1


async def test_losing_the_listen_drops_everything_and_keeps_nothing_more(monkeypatch) -> None:
    from middleware.store.database import DatabaseUnavailable

    attempts = 0

    async def listen(url: str, channel: str, on_listening):  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        on_listening()
        yield "dids"
        raise DatabaseUnavailable("server closed the connection")

    monkeypatch.setattr(config_cache.notifications, "listen", listen)
    cache = ConfigCache()
    watch = asyncio.create_task(cache.watch("postgresql://", retry_s=3600))
    await asyncio.sleep(0.01)
    assert attempts == 1 and not cache.listening  # the connection failed: waiting to retry
    calls, load = counting_load("row")
    await cache.get("k", load)
    await cache.get("k", load)
    assert len(calls) == 2
    watch.cancel()


def test_unknown_keys_cannot_grow_it_without_bound(monkeypatch) -> None:
    monkeypatch.setattr(config_cache, "MAX_ENTRIES", 3)
    cache = ConfigCache()
    cache._listening()

    async def fill() -> None:
        for n in range(10):
            _calls, load = counting_load(n)
            await cache.get(n, load)

    asyncio.run(fill())
    assert len(cache._rows) <= 3
