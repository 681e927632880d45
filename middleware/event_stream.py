"""The middleware's event stream: in-process subscribers plus PostgreSQL NOTIFY on `callcenter_events`,
so that another process (the supervisor API, a CRM connector, `LISTEN callcenter_events` in psql)
sees the same events. Payloads are JSON; NOTIFY's 8000-byte limit is respected by trimming lists."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from middleware.store import notifications
from middleware.store.database import DatabaseUnavailable, Pool

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
    def __init__(self, pool: Pool | None, origin: str | None = None) -> None:
        self._pool = pool
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.published = 0
        self.relayed = 0
        # Marks this process's events, so the relay does not deliver them a second time.
        self.origin = origin or uuid.uuid4().hex[:12]

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                log.warning("events.subscriber_lagging", kind=event.get("kind"))
                continue
            queue.put_nowait(event)

    async def publish(self, kind: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        text = encode(kind, {**payload, "origin": self.origin}, at or datetime.now(UTC))
        self._deliver(json.loads(text))
        self.published += 1
        if self._pool is None:
            return
        try:
            async with self._pool.connection(timeout=2) as conn:
                await notifications.notify(conn, CHANNEL, text)
        except DatabaseUnavailable as exc:
            log.error("events.notify_failed", kind=kind, detail=str(exc)[:200])

    async def relay(self, url: str, retry_s: float = 2.0) -> None:
        """LISTEN for the events other processes publish (the CLI, other nodes) and deliver them to this
        process's subscribers; reconnects until cancelled."""
        while True:
            try:
                log.info("events.relay_starting")
                async for payload in notifications.listen(url, CHANNEL):
                    with contextlib.suppress(ValueError):
                        event = json.loads(payload)
                        if isinstance(event, dict) and event.get("origin") != self.origin:
                            self.relayed += 1
                            self._deliver(event)
            except DatabaseUnavailable as exc:
                log.warning("events.relay_lost", detail=str(exc)[:200])
            await asyncio.sleep(retry_s)
