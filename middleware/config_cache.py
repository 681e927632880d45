"""What an operator changes and every call re-reads (a DID's entry, a queue's routing), kept in memory
until PostgreSQL says it changed.

The tables behind it NOTIFY ``callcenter_config`` after every write (migration 0014), whoever writes
(the CLI, the API, psql, another node). ``watch`` LISTENs for that and empties the cache on each
notification; while it is not listening (at start, after the connection to PostgreSQL dropped) nothing
is kept, every read goes to the database, and the cache starts empty again once the LISTEN is back,
so a change is never missed. A read that started before an invalidation is not kept (the generation
moved on meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import structlog

from middleware.store import notifications
from middleware.store.database import DatabaseUnavailable

log = structlog.get_logger(__name__)
CHANNEL = "callcenter_config"
MAX_ENTRIES = 10_000  # distinct keys kept (unknown DIDs included); past it the cache starts over

T = TypeVar("T")


class ConfigCache:
    def __init__(self) -> None:
        self._rows: dict[Hashable, Any] = {}
        self._generation = 0
        self.listening = False
        self.hits = 0
        self.misses = 0
        self.invalidations = 0
        self.on_change: list[Callable[[str], None]] = []  # told the table of each notification

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The row for ``key``: kept, or ``load``ed (and kept if nothing changed meanwhile)."""
        if key in self._rows:
            self.hits += 1
            return self._rows[key]  # type: ignore[no-any-return]
        self.misses += 1
        generation = self._generation
        value = await load()
        if self.listening and generation == self._generation:
            if len(self._rows) >= MAX_ENTRIES:
                self._rows.clear()
            self._rows[key] = value
        return value

    def invalidate(self) -> None:
        self._rows.clear()
        self._generation += 1
        self.invalidations += 1

    def _listening(self) -> None:
        self.invalidate()  # what changed while nobody listened
        self.listening = True

    async def watch(self, url: str, retry_s: float = 2.0) -> None:
        """LISTEN for configuration changes and drop what is kept on each; reconnects until cancelled."""
        while True:
            try:
                async for table in notifications.listen(url, CHANNEL, self._listening):
                    self.invalidate()
                    log.debug("config_cache.invalidated", table=table)
                    for hook in self.on_change:
                        hook(table)
            except DatabaseUnavailable as exc:
                log.warning("config_cache.listen_lost", detail=str(exc)[:200])
            finally:
                self.listening = False
                self.invalidate()
            await asyncio.sleep(retry_s)
