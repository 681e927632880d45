"""One owner for every background task of the service: started by name, restarted when it dies.

A background loop (dialer, callbacks, announcer, CDR expiry, SIP-block sweep, event relay, ...) that
raises is logged at error with its name and traceback, counted (``/metrics``:
``callcenter_task_restarts_total{task=...}``) and started again after a backoff that doubles with
each quick death and resets once the task has run for a while; a loop that returns is restarted too
(nothing here is meant to end). ``close()`` cancels every task and waits for it. ``deaths`` keeps the
last failures so a test can fail when any part died.

``every()`` is the loop most of those tasks are: a tick every few seconds, where PostgreSQL or Asterisk
being away (``Unavailable``) or refusing an action (``Refused``) is a warning and the next tick tries
again; anything else is a bug and reaches the supervisor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from middleware.errors import Refused, Unavailable

log = structlog.get_logger(__name__)

Run = Callable[[], Awaitable[object]]


async def every(interval_s: float, tick: Run, failure: str) -> None:
    """Run ``tick`` every ``interval_s`` until cancelled; a tick that finds Asterisk or PostgreSQL
    away (or refusing) is logged as ``failure`` and the next one tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await tick()
        except (Unavailable, Refused) as exc:
            log.warning(failure, detail=str(exc)[:200])


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.5
    max_s: float = 30.0
    healthy_after_s: float = 60.0  # a task that ran this long before dying starts over at first_s

    def delay(self, quick_deaths: int) -> float:
        """The wait before the restart that follows ``quick_deaths`` deaths in a row (>= 1)."""
        return min(self.max_s, self.first_s * 2.0 ** max(0, quick_deaths - 1))


@dataclass(frozen=True)
class Death:
    task: str
    error: str


class Supervisor:
    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self.restarts: dict[str, int] = {}
        self.deaths: deque[Death] = deque(maxlen=100)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    def start(self, name: str, run: Run) -> None:
        """Keep ``run()`` running under ``name`` until close(); a name may be used once."""
        if name in self._tasks:
            raise ValueError(f"background task {name!r} is started twice")
        self.restarts.setdefault(name, 0)
        self._tasks[name] = asyncio.create_task(self._keep(name, run), name=name)

    async def _keep(self, name: str, run: Run) -> None:
        loop = asyncio.get_running_loop()
        quick = 0
        while True:
            started = loop.time()
            try:
                await run()
                error = "returned"
                log.error("task.ended", task=name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("task.died", task=name, restarts=self.restarts[name])
            self.deaths.append(Death(name, error))
            self.restarts[name] += 1
            quick = 1 if loop.time() - started >= self.backoff.healthy_after_s else quick + 1
            await asyncio.sleep(self.backoff.delay(quick))
            log.info("task.restarted", task=name, restarts=self.restarts[name])

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task, result in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("task.failed_at_stop", task=task.get_name(), error=repr(result)[:300])
        self._tasks.clear()
