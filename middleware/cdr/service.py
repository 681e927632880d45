"""Feed AMI events to the assembler and store finished call records.

A record PostgreSQL cannot take (unreachable, restarting) goes to the journal (an fsync'd local
file, see journal.py) and is replayed, in order, before anything newer once the database answers
(the database monitor's recovery hook). A record the journal cannot take either (disk full, no
permission) waits in memory, bounded and counted, and goes to whichever comes back first: the disk
(the next expiry tick journals it) or the database (the replay stores it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from middleware.cdr.assembly import CallRecord, CdrAssembler
from middleware.cdr.journal import Journal
from middleware.clock import Clock, system_clock
from middleware.health import DatabaseHealth
from middleware.pbx_events import AmiEvent
from middleware.store import calls
from middleware.store.database import DatabaseUnavailable, Pool

log = structlog.get_logger(__name__)
REPLAY_BATCH = 1000  # records per transaction when the journal is replayed


class CdrService:
    EVENTS = ("*",)  # every event: the assembler decides what a call's record needs
    WRITE_TIMEOUT_S = 5.0

    def __init__(self, pool: Pool, db: DatabaseHealth, assembler: CdrAssembler | None = None,
                 journal: Journal | None = None, *, max_call_age_s: float = 4 * 3600.0,
                 max_unjournaled: int = 100_000, clock: Clock = system_clock) -> None:
        self._pool = pool
        self._clock = clock
        self.db = db
        self.assembler = assembler or CdrAssembler()
        self.journal = journal
        self.max_call_age_s = max_call_age_s
        self.max_unjournaled = max_unjournaled
        self.unjournaled: list[CallRecord] = []  # neither the database nor the journal took them yet
        self.records_lost = 0  # dropped from a full in-memory backlog (oldest first)
        self.journal_ok = True
        self.records_written = 0
        self.writes = 0  # database writes that stored records (records_written / writes = the batch size)
        self.replayed = 0
        self._lock = asyncio.Lock()  # one database write at a time, in order
        self._finished: list[CallRecord] = []  # finished since the writer last took them
        self._writer: asyncio.Task[None] | None = None
        self.on_saved: list[Callable[[list[CallRecord]], Awaitable[None]]] = []  # e.g. recordings index
        db.on_recovered.insert(0, self.replay)  # before anything else: records in order, oldest first

    @property
    def backlog(self) -> int:
        """Records not yet stored: in the journal and in memory."""
        return (self.journal.backlog() if self.journal else 0) + len(self.unjournaled)

    async def on_event(self, event: AmiEvent) -> None:
        """Feed the assembler; never wait on the database: the AMI consumer must keep up with Asterisk.
        Finished records go to one writer task that takes all that finished while it was writing (a
        group commit: one record per write on a quiet center, batches under load)."""
        finished = self.assembler.feed(event)
        if finished:
            self._finished.extend(finished)
            if self._writer is None or self._writer.done():
                self._writer = asyncio.create_task(self._write_finished(), name="cdr-writer")

    async def _write_finished(self) -> None:
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                await self._write(batch)
            except Exception:
                log.exception("cdr.write_failed", records=len(batch), linkedids=[r.linkedid for r in batch[:20]])

    async def drain(self) -> None:
        """Wait until every finished record is written (or journaled): at shutdown."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def expire(self, now: datetime) -> None:
        """Close calls whose end Asterisk announced but whose last Hangup never arrived, and calls
        open longer than ``max_call_age_s`` (an Asterisk restart loses their end: written incomplete,
        for ``cdr reconcile`` to repair); journal what waits in memory if the disk takes it again; replay what
        is still waiting once the database answers."""
        if self.unjournaled and self.db.down:
            self._keep([])
        elif self.backlog and not self.db.down:  # a replay that was cut short, or a journal left at start
            await self.replay()
        await self._write(self.assembler.expire(now, max_age_s=self.max_call_age_s))

    async def run_expiry(self, interval_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.expire(self._clock())

    def _keep(self, records: list[CallRecord]) -> None:
        """Keep records the database did not take: in the journal if it can be written, else in memory."""
        if self.journal is not None:
            try:
                self.journal.append(self.unjournaled + records)
            except OSError as exc:
                if self.journal_ok:
                    log.error("cdr.journal_unwritable", path=str(self.journal.path), detail=str(exc)[:200])
                self.journal_ok = False
            else:
                if not self.journal_ok:
                    log.info("cdr.journal_writable_again", journaled=len(self.unjournaled) + len(records))
                self.journal_ok = True
                if records or self.unjournaled:
                    log.error("cdr.journaled", records=len(records) + len(self.unjournaled),
                              backlog=self.journal.backlog())
                self.unjournaled = []
                return
        self.unjournaled.extend(records)
        overflow = len(self.unjournaled) - self.max_unjournaled
        if overflow > 0:
            del self.unjournaled[:overflow]
            self.records_lost += overflow
            log.critical("cdr.records_lost", lost=overflow, total_lost=self.records_lost)
        if records:
            log.error("cdr.kept_in_memory", records=len(records), in_memory=len(self.unjournaled))

    async def _write(self, finished: list[CallRecord]) -> None:
        if not finished:
            return
        if self.db.down:
            self._keep(finished)  # no lock, no await: a replay in progress keeps whatever comes now
            return
        async with self._lock:
            if self.db.down:
                self._keep(finished)
                return
            try:
                async with self._pool.connection(timeout=self.WRITE_TIMEOUT_S) as conn:
                    await calls.save_records(conn, finished)
            except DatabaseUnavailable as exc:
                self.db.mark_down(exc)
                self._keep(finished)
                return
        await self._saved(finished)

    async def replay(self) -> None:
        """PostgreSQL is back: store the journal and the in-memory backlog, oldest first, then drop them."""
        async with self._lock:
            replay = None
            if self.journal is not None and self.journal.backlog():
                try:
                    replay = self.journal.read()
                except OSError as exc:  # left for the next outage's replay; memory goes on now
                    log.error("cdr.journal_unreadable", path=str(self.journal.path), detail=str(exc)[:200])
            waiting = len(self.unjournaled)
            batch = (replay.records if replay else []) + self.unjournaled[:waiting]
            try:
                for start in range(0, len(batch), REPLAY_BATCH):
                    async with self._pool.connection(timeout=self.WRITE_TIMEOUT_S) as conn:
                        await calls.save_records(conn, batch[start:start + REPLAY_BATCH])
            except DatabaseUnavailable as exc:
                self.db.mark_down(exc)
                log.error("cdr.replay_interrupted", detail=type(exc).__name__)
                return
            if replay is not None and self.journal is not None:
                try:
                    self.journal.drop(replay)
                except OSError as exc:  # stored already: a later replay of the same lines changes nothing
                    log.error("cdr.journal_not_trimmed", detail=str(exc)[:200])
            del self.unjournaled[:waiting]
            self.replayed += len(batch)
        if batch:
            log.info("cdr.journal_replayed", records=len(batch))
            await self._saved(batch)

    async def _saved(self, batch: list[CallRecord]) -> None:
        self.records_written += len(batch)
        self.writes += 1
        for hook in self.on_saved:
            await hook(batch)
        for record in batch:
            log.info("cdr.call_recorded", linkedid=record.linkedid, disposition=record.disposition,
                     queue=record.queue, agent=record.agent_code, wait_s=record.wait_s, talk_s=record.talk_s,
                     complete=record.complete)
