"""Feed AMI events to the assembler and store finished call records.

A record that cannot be written (PostgreSQL down) stays pending in memory and is retried with the
next batch; a durable journal for long outages belongs to the CDR issue.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from middleware.cdr.assembly import CallRecord, CdrAssembler
from middleware.pbx_events import AmiEvent
from middleware.store import calls

log = structlog.get_logger(__name__)


class CdrService:
    def __init__(self, pool: AsyncConnectionPool, assembler: CdrAssembler | None = None) -> None:
        self._pool = pool
        self.assembler = assembler or CdrAssembler()
        self.pending: list[CallRecord] = []
        self.records_written = 0

    async def on_event(self, event: AmiEvent) -> None:
        await self._write(self.assembler.feed(event))

    async def expire(self, now: datetime) -> None:
        """Close calls whose end Asterisk announced but whose last Hangup never arrived."""
        await self._write(self.assembler.expire(now))

    async def run_expiry(self, interval_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.expire(datetime.now(UTC))

    async def _write(self, finished: list[CallRecord]) -> None:
        if not finished and not self.pending:
            return
        self.pending.extend(finished)
        batch, self.pending = self.pending, []
        try:
            async with self._pool.connection() as conn:
                await calls.save_records(conn, batch)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self.pending = batch + self.pending
            log.error("cdr.write_failed", pending=len(self.pending), detail=str(exc)[:200])
            return
        self.records_written += len(batch)
        for record in batch:
            log.info("cdr.call_recorded", linkedid=record.linkedid, disposition=record.disposition,
                     queue=record.queue, agent=record.agent_code, wait_s=record.wait_s, talk_s=record.talk_s)
