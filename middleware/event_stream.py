"""The middleware's event stream: in-process subscribers plus PostgreSQL NOTIFY on `callcenter_events`,
so that another process (the supervisor API, a CRM connector, `LISTEN callcenter_events` in psql)
sees the same events. Payloads are JSON; NOTIFY's 8000-byte limit is respected by trimming lists.

Publishing never waits for PostgreSQL: local subscribers get the event at once, and the NOTIFYs go
out behind it: the sender waits a short collection window (``COLLECT_S``) after the first event, then
sends everything published meanwhile in one statement, and so on while the outbox refills. A call's
events come in bursts (agent state, queue, screen pop within a few ms), so one round trip carries the
burst instead of one per event in the AMI loop. ``flush()`` cuts the window short and waits until what
was published has gone (a CLI command awaits it before exiting)."""

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
BATCH_BYTES = 256 * 1024  # one statement's payloads
MAX_OUTBOX = 10_000  # events waiting while PostgreSQL is away: past it the oldest are dropped, counted
COLLECT_S = 0.025  # how long a NOTIFY waits for the rest of its burst: a listener sees events this late


def encode(kind: str, payload: dict[str, Any], at: datetime) -> str:
    """One event as JSON no longer than NOTIFY allows (the IVR path is trimmed first)."""
    body = {"kind": kind, "at": at.isoformat(), **payload}
    text = json.dumps(body, default=str, separators=(",", ":"))
    path = list(body.get("ivr_path") or [])
    while len(text) > NOTIFY_LIMIT and path:  # (json.dumps escapes to ASCII: characters are bytes)
        path = path[len(path) // 2 + 1:] if len(path) > 1 else []
        body["ivr_path"] = path
        body["ivr_path_trimmed"] = True
        text = json.dumps(body, default=str, separators=(",", ":"))
    return text


def batch_length(texts: list[str], limit: int) -> int:
    """How many of the first ``texts`` go in one statement of about ``limit`` bytes (always one at least)."""
    size = 0
    for n, text in enumerate(texts):
        size += len(text)
        if size > limit and n:
            return n
    return len(texts)


class EventStream:
    def __init__(self, pool: Pool | None, origin: str | None = None, collect_s: float = COLLECT_S) -> None:
        self._pool = pool
        self._collect_s = collect_s
        self._hurry = asyncio.Event()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.published = 0
        self.relayed = 0
        self.notified = 0
        self.notify_batches = 0
        self.notify_lost = 0  # dropped from a full outbox, or in a batch PostgreSQL refused
        self._outbox: list[str] = []
        self._sender: asyncio.Task[None] | None = None
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
        if self._subscribers:  # (as JSON would carry it to another process: dates as text)
            self._deliver(json.loads(text))
        self.published += 1
        if self._pool is None:
            return
        if len(self._outbox) >= MAX_OUTBOX:
            del self._outbox[0]
            self.notify_lost += 1
            if self.notify_lost & (self.notify_lost - 1) == 0:  # 1st, 2nd, 4th, ...: no log flood
                log.warning("events.outbox_full", lost=self.notify_lost)
        self._outbox.append(text)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="event-notify")

    async def _send(self) -> None:
        """NOTIFY what the outbox holds, a batch per round trip, until it is empty."""
        assert self._pool is not None
        while self._outbox:
            if self._collect_s > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self._collect_s)
            n = batch_length(self._outbox, BATCH_BYTES)
            batch, self._outbox = self._outbox[:n], self._outbox[n:]
            try:
                async with self._pool.connection(timeout=2) as conn:
                    await notifications.notify_many(conn, CHANNEL, batch)
                self.notified += len(batch)
                self.notify_batches += 1
            except DatabaseUnavailable as exc:
                self.notify_lost += len(batch)
                log.error("events.notify_failed", events=len(batch), detail=str(exc)[:200])

    async def flush(self) -> None:
        """Until every event published so far has been NOTIFYed (or given up on)."""
        self._hurry.set()
        try:
            while self._sender is not None and not self._sender.done():
                await asyncio.shield(self._sender)
        finally:
            self._hurry.clear()

    async def relay(self, url: str, retry_s: float = 2.0) -> None:
        """LISTEN for the events other processes publish (the CLI, other nodes) and deliver them to this
        process's subscribers; reconnects until cancelled."""
        while True:
            try:
                log.info("events.relay_starting")
                own = f'"origin":"{self.origin}"'  # (JSON escapes any quote inside a value: only the key matches)
                async for payload in notifications.listen(url, CHANNEL):
                    if own in payload:
                        continue  # this process's own, delivered when published: not parsed again
                    with contextlib.suppress(ValueError):
                        event = json.loads(payload)
                        if isinstance(event, dict) and event.get("origin") != self.origin:
                            self.relayed += 1
                            self._deliver(event)
            except DatabaseUnavailable as exc:
                log.warning("events.relay_lost", detail=str(exc)[:200])
            await asyncio.sleep(retry_s)
