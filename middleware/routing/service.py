"""Live wait estimates: the queue's state from Asterisk (callers waiting) and PostgreSQL (agent states,
handle times), fed to the pure estimator."""

from __future__ import annotations

import structlog
from psycopg_pool import AsyncConnectionPool

from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.routing.wait_estimate import QueueSnapshot
from middleware.store import agents as agent_store
from middleware.store import calls

log = structlog.get_logger(__name__)
DEFAULT_AHT_S = 180.0
BUSY = frozenset({"ringing", "on_call", "wrap_up"})


class QueueState:
    def __init__(self, pool: AsyncConnectionPool, ami: AmiClient) -> None:
        self._pool = pool
        self._ami = ami

    async def snapshot(self, queue: str) -> QueueSnapshot | None:
        """The state a caller about to join ``queue`` meets; None when Asterisk cannot be asked."""
        try:
            messages = await self._ami.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("routing.no_queue_status", queue=queue, detail=str(exc))
            return None
        waiting = sum(1 for m in messages if m.get("event") == "QueueEntry")
        async with self._pool.connection() as conn:
            members = [m for m in await agent_store.memberships(conn) if m.queue == queue and m.eligible]
            aht = await calls.average_handle_time(conn, queue)
        free = sum(1 for m in members if m.state.value == "available")
        busy = [0.0 for m in members if m.state.value in BUSY]
        return QueueSnapshot(position=waiting + 1, free_agents=free, busy_elapsed_s=busy,
                             aht_s=aht if aht is not None else DEFAULT_AHT_S)
