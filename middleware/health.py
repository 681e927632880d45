"""Whether PostgreSQL answers, known from state: probed in the background, marked down by any part
that meets a failure, and ``on_recovered`` hooks run (each guarded) once a probe gets through again.

``/healthz``, the IVR (which must send a caller to the dialplan fallback at once, not after a pool
timeout) and the AMI consumer (which must not wait on a database known to be down) read ``down``
instead of asking the database themselves; a caller's FastAGI step takes its connection through
``connection()``, which fails at once while the database is known down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import structlog
from psycopg import AsyncConnection

from middleware.clock import Clock, system_clock
from middleware.store import database
from middleware.store.database import Pool

log = structlog.get_logger(__name__)
Hook = Callable[[], Awaitable[object]]


class DatabaseHealth:
    def __init__(self, pool: Pool, *, interval_s: float = 5.0, down_interval_s: float = 1.0,
                 timeout_s: float = 2.0, clock: Clock = system_clock) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._down_interval_s = down_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self.down = False
        self.down_since: datetime | None = None
        self.last_error = ""  # the exception's class name only: /healthz is not authenticated
        self.outages = 0
        self.on_recovered: list[Hook] = []

    def mark_down(self, exc: BaseException | None = None) -> None:
        """A part found PostgreSQL unreachable: everyone treats it as down until a probe gets through."""
        if exc is not None:
            self.last_error = exc.cause if isinstance(exc, database.DatabaseUnavailable) else type(exc).__name__
        if not self.down:
            self.down, self.down_since = True, self._clock()
            self.outages += 1
            log.error("database.down", error=self.last_error)

    @contextlib.asynccontextmanager
    async def connection(self, timeout_s: float) -> AsyncIterator[AsyncConnection]:
        """A pooled connection within ``timeout_s``, DatabaseUnavailable at once while PostgreSQL is known
        down; a failure marks it down for everyone (a busy pool does not: the server may be fine)."""
        if self.down:
            raise database.DatabaseUnavailable("PostgreSQL is down")
        try:
            async with self._pool.connection(timeout=timeout_s) as conn:
                yield conn
        except database.DatabaseUnavailable as exc:
            if not exc.busy:
                self.mark_down(exc)
            raise

    async def probe(self) -> bool:
        """Ask once; on the way back up, run the recovery hooks in order. Never raises."""
        try:
            async with self._pool.connection(timeout=self._timeout_s) as conn:
                await database.ping(conn)
        except Exception as exc:  # whatever it is, the answer is "not usable now"
            self.mark_down(exc)
            return False
        if self.down:
            log.info("database.back", down_s=round((self._clock() - self.down_since).total_seconds(), 1)
                     if self.down_since else None)
            self.down, self.down_since = False, None
            for hook in self.on_recovered:
                try:
                    await hook()
                except Exception:
                    log.exception("database.recovery_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._down_interval_s if self.down else self._interval_s)
            await self.probe()
