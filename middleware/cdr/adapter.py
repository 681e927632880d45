"""Feed AMI events to the assembler and store finished call records.

A record PostgreSQL cannot take (unreachable, restarting) goes to the journal (an fsync'd local
file, see journal.py) and is replayed, in order, before anything newer once the database answers.
Without a journal (tests of the assembler alone) such records wait in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from middleware.cdr.assembly import CallRecord, CdrAssembler
from middleware.cdr.journal import Journal
from middleware.pbx_events import AmiEvent
from middleware.store import calls

log = structlog.get_logger(__name__)


class CdrService:
    PROBE_TIMEOUT_S = 5.0
    def __init__(self, pool: AsyncConnectionPool, assembler: CdrAssembler | None = None,
                 journal: Journal | None = None) -> None:
        self._pool = pool
        self.assembler = assembler or CdrAssembler()
        self.journal = journal
        self.pending: list[CallRecord] = []
        self.records_written = 0
        self.replayed = 0
        self._lock = asyncio.Lock()  # one database write at a time, in order
        self.on_saved: list[Callable[[list[CallRecord]], Awaitable[None]]] = []  # e.g. recordings index
        self._down = False  # after a failure, journal at once until the expiry tick's probe gets through
        self.on_recovered: list[Callable[[], Awaitable[None]]] = []  # e.g. reconcile agent states

    @property
    def db_down(self) -> bool:
        """PostgreSQL failed us and no write has succeeded since."""
        return self._down

    def mark_down(self) -> None:
        """Another part found PostgreSQL unreachable: journal at once until a probe gets through."""
        self._down = True

    async def on_event(self, event: AmiEvent) -> None:
        # Most events finish no call: nothing to write, no journal to look at. And never waits on a
        # database known to be down: the AMI consumer must keep up with Asterisk.
        finished = self.assembler.feed(event)
        if finished:
            await self._write(finished, probe=False)

    async def expire(self, now: datetime) -> None:
        """Close calls whose end Asterisk announced but whose last Hangup never arrived; while the
        database is down, this tick is what probes it (and replays the journal once it answers)."""
        await self._write(self.assembler.expire(now), probe=True)

    async def run_expiry(self, interval_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.expire(datetime.now(UTC))

    def _journal_waiting(self) -> bool:
        if self.journal is None:
            return False
        try:
            return self.journal.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    async def _write(self, finished: list[CallRecord], probe: bool = True) -> None:
        if self._down and not probe and self.journal is not None:
            if finished:  # no lock, no await: a replay in progress keeps whatever is appended now
                self.journal.append(finished)
                log.error("cdr.journaled", records=len(finished))  # (no backlog count: it reads the file)
            return
        async with self._lock:
            journaled = self.journal.read() if self._journal_waiting() and self.journal else []
            if not finished and not self.pending and not journaled:
                return
            batch = journaled + self.pending + finished
            try:
                async with self._pool.connection(timeout=self.PROBE_TIMEOUT_S) as conn:
                    await calls.save_records(conn, batch)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                self._down = True
                if self.journal is not None:
                    self.journal.append(finished)  # the older ones are in it already
                    log.error("cdr.write_failed_journaled", journaled=self.journal.backlog(), detail=str(exc)[:200])
                else:
                    self.pending = self.pending + finished
                    log.error("cdr.write_failed", pending=len(self.pending), detail=str(exc)[:200])
                return
            was_down, self._down = self._down, False
            if journaled and self.journal is not None:
                self.journal.drop_first(len(journaled))
                self.replayed += len(journaled)
                log.info("cdr.journal_replayed", records=len(journaled))
            self.pending = []
        self.records_written += len(batch)
        for hook in self.on_saved:
            await hook(batch)
        if was_down:
            log.info("cdr.database_back")
            for recovered in self.on_recovered:
                await recovered()
        for record in batch:
            log.info("cdr.call_recorded", linkedid=record.linkedid, disposition=record.disposition,
                     queue=record.queue, agent=record.agent_code, wait_s=record.wait_s, talk_s=record.talk_s)
