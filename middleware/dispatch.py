"""AMI events to the services that consume them: each service declares ``EVENTS`` (the event names it
takes, or ``ALL``) and an ``on_event`` method; the wiring registers them in order, and this table is the
only place an event is routed.

Consumers that need PostgreSQL are skipped while it is known down (what they would have learnt is
taken from Asterisk when it is back: agent states reconciled, dial attempts and callbacks settled); the
CDR assembler is registered with ``needs_database=False``, first, so the journal keeps every call even
then. A consumer that meets the database failing marks it down for everyone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from middleware.health import DatabaseHealth
from middleware.pbx_events import AmiEvent
from middleware.store.database import DatabaseUnavailable

log = structlog.get_logger(__name__)
ALL = "*"
Handler = Callable[[AmiEvent], Awaitable[None]]


class Consumer(Protocol):
    @property
    def EVENTS(self) -> tuple[str, ...]: ...  # (a class attribute in each service)

    async def on_event(self, event: AmiEvent) -> None: ...


@dataclass(frozen=True)
class Route:
    name: str  # the consumer, for logs
    events: frozenset[str]  # names, or {ALL}
    handler: Handler
    needs_database: bool
    accepts: Callable[[AmiEvent], bool] | None  # a further filter (e.g. the dialer's own calls)

    def wants(self, event: AmiEvent) -> bool:
        return (ALL in self.events or event.name in self.events) and (self.accepts is None or self.accepts(event))


class EventDispatch:
    def __init__(self, db: DatabaseHealth, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self.routes: list[Route] = []
        self.lag_s = 0.0  # Asterisk's timestamp of the last event to its handling here

    def register(self, name: str, consumer: Consumer, *, needs_database: bool = True,
                 accepts: Callable[[AmiEvent], bool] | None = None) -> None:
        self.add(name, consumer.EVENTS, consumer.on_event, needs_database=needs_database, accepts=accepts)

    def add(self, name: str, events: Iterable[str], handler: Handler, *, needs_database: bool = True,
            accepts: Callable[[AmiEvent], bool] | None = None) -> None:
        if any(r.name == name for r in self.routes):
            raise ValueError(f"event consumer {name!r} is registered twice")
        self.routes.append(Route(name, frozenset(events), handler, needs_database, accepts))

    def consumers_of(self, event_name: str) -> list[str]:
        return [r.name for r in self.routes if ALL in r.events or event_name in r.events]

    async def __call__(self, event: AmiEvent) -> None:
        stamp = event.get("timestamp")
        if stamp:
            with contextlib.suppress(ValueError):
                self.lag_s = max(0.0, self._clock() - float(stamp))
        route: Route | None = None
        try:
            for route in self.routes:
                if route.needs_database and self._db.down:
                    continue  # reconciled from Asterisk once the database is back
                if route.wants(event):
                    await route.handler(event)
        except DatabaseUnavailable as exc:
            if not exc.busy:
                self._db.mark_down(exc)
            log.error("service.database_unreachable", ami_event=event.name, consumer=route.name if route else "",
                      detail=str(exc)[:200])
