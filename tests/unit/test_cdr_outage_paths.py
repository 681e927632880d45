"""CdrService and the database monitor when PostgreSQL is away and the journal cannot be written:
nothing is lost, the probe survives every error, and whichever comes back first takes the records."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import structlog

from middleware.cdr import service as adapter
from middleware.cdr.assembly import CallRecord
from middleware.cdr.journal import Journal
from middleware.cdr.service import CdrService
from middleware.health import DatabaseHealth
from middleware.store.database import failures_mapped
from tests.unit.test_cdr_journal import record


class FakeConn:
    async def execute(self, sql: str, params: object = None) -> None:
        return None


class FakePool:
    """Stands in for our pool: refuses while ``up`` is False, as a stopped server would (psycopg's
    errors mapped as ``store.database.Pool`` maps them)."""

    def __init__(self) -> None:
        self.up = True
        self.stored: list[str] = []

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[FakeConn]:
        with failures_mapped():
            if not self.up:
                raise psycopg.OperationalError("connection refused")
            yield FakeConn()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> FakePool:
    fake = FakePool()

    async def save_records(conn: FakeConn, records: list[CallRecord]) -> None:
        if not fake.up:
            raise psycopg.OperationalError("server closed the connection")
        fake.stored.extend(r.linkedid for r in records)
    monkeypatch.setattr(adapter.calls, "save_records", save_records)
    return fake


def service(pool: FakePool, journal_path: Path) -> tuple[CdrService, DatabaseHealth]:
    monitor = DatabaseHealth(pool)  # type: ignore[arg-type]
    return CdrService(pool, monitor, journal=Journal(journal_path)), monitor  # type: ignore[arg-type]


async def test_journal_unwritable_records_wait_in_memory_until_the_disk_returns(pool: FakePool,
                                                                                tmp_path: Path) -> None:
    journal_path = tmp_path / "cdr-journal.jsonl"
    journal_path.mkdir()  # opening it fails (EISDIR), as a full disk or EACCES would
    cdr, monitor = service(pool, journal_path)
    with structlog.testing.capture_logs():
        pool.up = False
        await cdr._write([record("m.1")])
        assert monitor.down and cdr.unjournaled and not cdr.journal_ok
        await cdr._write([record("m.2")])
        await cdr.expire(datetime.now(UTC))  # the tick that used to die of the OSError
        assert await monitor.probe() is False
        assert [r.linkedid for r in cdr.unjournaled] == ["m.1", "m.2"] and cdr.backlog == 2
        journal_path.rmdir()  # the disk is back
        await cdr.expire(datetime.now(UTC))
        assert cdr.unjournaled == [] and cdr.journal_ok
        assert [r.linkedid for r in Journal(journal_path).read().records] == ["m.1", "m.2"]
        pool.up = True
        assert await monitor.probe() is True
    assert not monitor.down and pool.stored == ["m.1", "m.2"] and cdr.backlog == 0


async def test_the_database_may_come_back_before_the_disk(pool: FakePool, tmp_path: Path) -> None:
    journal_path = tmp_path / "cdr-journal.jsonl"
    journal_path.mkdir()
    cdr, monitor = service(pool, journal_path)
    with structlog.testing.capture_logs():
        pool.up = False
        await cdr._write([record("d.1"), record("d.2")])
        pool.up = True
        await monitor.probe()
        await cdr._write([record("d.3")])
    assert pool.stored == ["d.1", "d.2", "d.3"] and cdr.unjournaled == [] and cdr.records_written == 3
    shutil.rmtree(journal_path)


async def test_the_in_memory_backlog_is_bounded_and_counts_what_it_drops(pool: FakePool, tmp_path: Path) -> None:
    journal_path = tmp_path / "cdr-journal.jsonl"
    journal_path.mkdir()
    cdr, _ = service(pool, journal_path)
    cdr.max_unjournaled = 3
    with structlog.testing.capture_logs() as logs:
        pool.up = False
        for n in range(5):
            await cdr._write([record(f"b.{n}")])
    assert [r.linkedid for r in cdr.unjournaled] == ["b.2", "b.3", "b.4"] and cdr.records_lost == 2
    assert any(e["event"] == "cdr.records_lost" and e["log_level"] == "critical" for e in logs)


async def test_a_recovery_hook_that_fails_does_not_stop_the_others(pool: FakePool) -> None:
    monitor = DatabaseHealth(pool)  # type: ignore[arg-type]
    ran: list[str] = []

    async def broken() -> None:
        raise KeyError("boom")

    async def fine() -> None:
        ran.append("fine")
    monitor.on_recovered += [broken, fine]
    monitor.mark_down(psycopg.OperationalError("x"))
    with structlog.testing.capture_logs() as logs:
        assert await monitor.probe() is True
    assert ran == ["fine"] and not monitor.down and monitor.last_error == "OperationalError"
    assert any(e["event"] == "database.recovery_hook_failed" for e in logs)


def test_a_call_open_longer_than_the_maximum_age_is_written_incomplete() -> None:
    from middleware.cdr.assembly import CdrAssembler
    from middleware.pbx_events import AmiEvent
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    asm = CdrAssembler()
    asm.feed(AmiEvent("Newchannel", {"uniqueid": "1.1", "linkedid": "1.1", "channel": "PJSIP/carrier-sim-1",
                                     "calleridnum": "12125550101", "context": "from-trunk", "exten": "5551000"}, t0))
    assert asm.expire(t0 + timedelta(hours=3), max_age_s=4 * 3600) == []
    [lost] = asm.expire(t0 + timedelta(hours=4, seconds=1), max_age_s=4 * 3600)
    assert lost.linkedid == "1.1" and lost.caller_number == "12125550101" and not lost.complete
    assert asm.calls == {}


def test_a_call_seen_from_its_middle_is_incomplete() -> None:
    """After a middleware restart mid-call the record lacks the caller: reconcile must repair it."""
    from middleware.cdr.assembly import CdrAssembler
    from middleware.pbx_events import AmiEvent
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    asm = CdrAssembler()
    asm.feed(AmiEvent("Newchannel", {"uniqueid": "1.2", "linkedid": "1.1", "channel": "PJSIP/acme-1001-1"}, t0))
    [rec] = asm.feed(AmiEvent("Hangup", {"uniqueid": "1.2", "linkedid": "1.1", "cause": "16"},
                              t0 + timedelta(seconds=9)))
    assert rec.caller_number == "" and not rec.complete
