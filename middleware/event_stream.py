"""The middleware's event stream: in-process subscribers plus PostgreSQL NOTIFY on `callcenter_events`,
so that another process (the supervisor API, a CRM connector, `LISTEN callcenter_events` in psql)
sees the same events. Payloads are JSON; NOTIFY's 8000-byte limit is respected by trimming lists."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

log = structlog.get_logger(__name__)
CHANNEL = "callcenter_events"
NOTIFY_LIMIT = 7900


def encode(kind: str, payload: dict[str, Any], at: datetime) -> str:
    """One event as JSON no longer than NOTIFY allows (the IVR path is trimmed first)."""
    body = {"kind": kind, "at": at.isoformat(), **payload}
    text = json.dumps(body, default=str, separators=(",", ":"))
    path = list(body.get("ivr_path") or [])
    while len(text.encode()) > NOTIFY_LIMIT and path:
        path = path[len(path) // 2 + 1:] if len(path) > 1 else []
        body["ivr_path"] = path
        body["ivr_path_trimmed"] = True
        text = json.dumps(body, default=str, separators=(",", ":"))
    return text


class EventStream:
    def __init__(self, pool: AsyncConnectionPool | None) -> None:
        self._pool = pool
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.published = 0

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def publish(self, kind: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        text = encode(kind, payload, at or datetime.now(UTC))
        event = json.loads(text)
        for queue in list(self._subscribers):
            if queue.full():
                log.warning("events.subscriber_lagging", kind=kind)
                continue
            queue.put_nowait(event)
        self.published += 1
        if self._pool is None:
            return
        try:
            async with self._pool.connection(timeout=2) as conn:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))
        except (psycopg.Error, PoolTimeout) as exc:
            log.error("events.notify_failed", kind=kind, detail=str(exc)[:200])
