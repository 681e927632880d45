"""Live queue state for the pure routing cores, and the overflow loop.

``QueueState``: what a caller about to join (or at a place in) a queue meets, for the wait estimate:
callers waiting from Asterisk, agent states and handle times from PostgreSQL. ``OverflowService``:
every few seconds, for each queue with an overflow rule, lets its team join or leave (overflow.py
decides). ``QueueEventPublisher``: queue events as live events of the queue's tenant."""

from __future__ import annotations

from typing import Any

import structlog

from middleware.ami import members, queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent
from middleware.routing import queue_events
from middleware.routing.overflow import OverflowAction, decide
from middleware.routing.wait_estimate import QueueSnapshot, estimate_wait
from middleware.store import teams, tenants
from middleware.store.database import Pool
from middleware.store.queue_load import QueueLoad, queue_load
from middleware.supervisor import every

log = structlog.get_logger(__name__)
DEFAULT_AHT_S = 180.0
BUSY = frozenset({"ringing", "on_call", "wrap_up"})


def snapshot_of(load: QueueLoad, position: int) -> QueueSnapshot:
    """The wait estimate's input from a queue's load: free, busy and ringing eligible members, the AHT."""
    free = sum(g.count for g in load.members if g.eligible and g.state.value == "available")
    busy = [0.0] * sum(g.count for g in load.members if g.eligible and g.state.value in BUSY)
    ringing = sum(g.count for g in load.members if g.eligible and g.state.value == "ringing")
    return QueueSnapshot(position=position, free_agents=free, busy_elapsed_s=busy,
                         aht_s=load.aht_s if load.aht_s is not None else DEFAULT_AHT_S, ringing_agents=ringing)


class QueueState:
    def __init__(self, pool: Pool, ami: AmiClient) -> None:
        self._pool = pool
        self._ami = ami

    async def snapshot(self, queue: str) -> QueueSnapshot | None:
        """The state a caller about to join ``queue`` meets; None when Asterisk cannot be asked."""
        try:
            # QueueSummary: one event with the callers waiting (QueueStatus lists every member too).
            waiting = await queries.waiting_in(self._ami, queue)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("routing.no_queue_status", queue=queue, detail=str(exc))
            return None
        return await self.snapshot_at(queue, waiting + 1)

    async def snapshot_at(self, queue: str, position: int) -> QueueSnapshot:
        """The state a caller at ``position`` in ``queue`` meets."""
        async with self._pool.connection() as conn:
            load = await queue_load(conn, queue)
        return snapshot_of(load, position)


class OverflowService:
    """Every few seconds: for each queue with an overflow rule, let its team join or leave."""

    def __init__(self, pool: Pool, ami: AmiClient, state: QueueState) -> None:
        self._pool = pool
        self._ami = ami
        self._state = state

    async def tick(self) -> list[tuple[str, OverflowAction]]:
        async with self._pool.connection() as conn:
            rules = await teams.overflow_rules(conn)
        changes: list[tuple[str, OverflowAction]] = []
        for q in rules:
            snapshot = await self._state.snapshot(q.queue)
            if snapshot is None:
                continue  # Asterisk unreachable: change nothing blind
            waiting = snapshot.position - 1
            expected = estimate_wait(snapshot)
            action = decide(q.rule, q.active, expected, waiting)
            async with self._pool.connection() as conn:
                agents = await teams.team_agents(conn, q.rule.team, q.queue)
            helpers = [a for a in agents if not a.regular_member and a.state != "logged_out"]
            if action is OverflowAction.JOIN or (action is OverflowAction.STAY and q.active):
                for a in helpers:  # idempotent: also puts them back after an Asterisk restart
                    await members.ensure_member(self._ami, q.queue, a.interface, a.code,
                                                paused=a.state == "paused", refresh=False)
            elif action is OverflowAction.LEAVE:
                for a in agents:
                    if not a.regular_member:
                        await members.ensure_removed(self._ami, q.queue, a.interface)
            if action is not OverflowAction.STAY:
                async with self._pool.connection() as conn:
                    await teams.log_overflow(conn, q.queue, q.rule.team, action.value,
                                             None if expected == float("inf") else round(expected, 1), waiting)
                log.info("routing.overflow", queue=q.queue, team=q.rule.team, action=action.value,
                         expected_wait_s=expected, callers_waiting=waiting)
                changes.append((q.queue, action))
        return changes

    async def run(self, interval_s: float = 2.0) -> None:
        await every(interval_s, self.tick, "routing.overflow_tick_failed")


class QueueEventPublisher:
    """Publishes queue_events.KINDS as live events of the queue's tenant (queue -> tenant cached)."""

    EVENTS = tuple(queue_events.KINDS)

    def __init__(self, pool: Pool, events: EventStream) -> None:
        self._pool = pool
        self._events = events
        self._tenant_of: dict[str, str | None] = {}

    async def on_event(self, event: AmiEvent) -> None:
        queue = event.get("queue")
        if queue not in self._tenant_of:
            async with self._pool.connection() as conn:
                row = await tenants.get_queue(conn, queue)
            self._tenant_of[queue] = row.tenant_code if row else None
        kind, payload = queue_events.live_event(event, self._tenant_of[queue])
        await self._events.publish(kind, payload, at=event.at)


async def live_queues(ami: AmiClient | None) -> dict[str, dict[str, Any]] | None:
    """Waiting callers and the longest wait per queue, from Asterisk now (None if it cannot be asked)."""
    if ami is None or not ami.connected:
        return None
    try:
        status = await queries.queue_status(ami)
    except (AmiUnavailable, AmiActionFailed) as exc:
        log.warning("api.no_queue_status", detail=str(exc)[:200])
        return None
    figures: dict[str, dict[str, Any]] = {q: {"waiting": 0, "longest_wait_s": None} for q in status.queues}
    for e in status.entries:
        q = figures.setdefault(e.queue, {"waiting": 0, "longest_wait_s": None})
        q["waiting"] += 1
        q["longest_wait_s"] = max(e.wait_s, q["longest_wait_s"] or 0.0)
    return figures
