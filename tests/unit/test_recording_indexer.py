"""RecordingIndexer: the files found while the first waits are indexed in one statement; a row the
database refuses costs only itself; PostgreSQL away loses nothing but the index rows (logged, for verify);
close() writes what waits at once."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import psycopg
import pytest
import structlog

from middleware.recordings import service as indexer_module
from middleware.recordings.service import RecordingIndexer
from middleware.store import recordings
from tests.unit.test_cdr_journal import record
from tests.unit.test_cdr_outage_paths import FakePool


def wav(root: Path, tenant: str, linkedid: str) -> Path:
    path = root / tenant / f"{linkedid}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000)
    return path


class Statements:
    """Stands in for ``recordings.add_many``: each call is one statement; ``refuse`` paths fail it whole."""

    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.calls: list[list[str]] = []
        self.refuse: set[str] = set()

    async def __call__(self, conn: object, new: list[recordings.NewRecording]) -> int:
        if not self.pool.up:
            raise psycopg.OperationalError("server closed the connection")
        if any(n.path in self.refuse for n in new):
            raise psycopg.errors.CheckViolation("refused")
        self.calls.append([n.linkedid for n in new])
        return len(new)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> tuple[FakePool, Statements]:
    pool = FakePool()
    fake = Statements(pool)
    monkeypatch.setattr(indexer_module.recordings, "add_many", fake)
    return pool, fake


async def settle(indexer: RecordingIndexer) -> None:
    """Until every file looked for is found and the writer has written it."""
    await asyncio.gather(*list(indexer._tasks))
    if indexer._writer is not None:
        await indexer._writer


async def test_files_found_together_go_in_one_statement(statements: tuple[FakePool, Statements],
                                                        tmp_path: Path) -> None:
    pool, fake = statements
    for i in range(3):
        wav(tmp_path, "acme", f"c.{i}")
    indexer = RecordingIndexer(pool, tmp_path, delay_s=0.01, collect_s=0.2)  # type: ignore[arg-type]
    await indexer.on_saved([record(f"c.{i}") for i in range(3)])
    await asyncio.wait_for(settle(indexer), 5)
    assert [sorted(c) for c in fake.calls] == [["c.0", "c.1", "c.2"]] and indexer.indexed == 3


async def test_a_refused_row_costs_only_itself(statements: tuple[FakePool, Statements], tmp_path: Path) -> None:
    pool, fake = statements
    paths = [wav(tmp_path, "acme", f"c.{i}") for i in range(3)]
    fake.refuse = {str(paths[1])}
    indexer = RecordingIndexer(pool, tmp_path, delay_s=0.01, collect_s=0.2)  # type: ignore[arg-type]
    with structlog.testing.capture_logs() as logs:
        await indexer.on_saved([record(f"c.{i}") for i in range(3)])
        await asyncio.wait_for(settle(indexer), 5)
    assert sorted(fake.calls) == [["c.0"], ["c.2"]] and indexer.indexed == 2
    assert [e["path"] for e in logs if e["event"] == "recording.index_refused"] == [str(paths[1])]


async def test_postgresql_away_is_logged_and_the_next_files_are_indexed(statements: tuple[FakePool, Statements],
                                                                       tmp_path: Path) -> None:
    pool, fake = statements
    wav(tmp_path, "acme", "c.0")
    wav(tmp_path, "acme", "c.1")
    indexer = RecordingIndexer(pool, tmp_path, delay_s=0.01, collect_s=0.05)  # type: ignore[arg-type]
    pool.up = False
    with structlog.testing.capture_logs() as logs:
        await indexer.on_saved([record("c.0")])
        await asyncio.wait_for(settle(indexer), 5)
    assert [e["files"] for e in logs if e["event"] == "recording.index_failed"] == [1]
    pool.up = True
    await indexer.on_saved([record("c.1")])
    await asyncio.wait_for(settle(indexer), 5)
    assert fake.calls == [["c.1"]] and indexer.indexed == 1


async def test_close_writes_what_waits_at_once(statements: tuple[FakePool, Statements], tmp_path: Path) -> None:
    pool, fake = statements
    wav(tmp_path, "acme", "c.0")
    indexer = RecordingIndexer(pool, tmp_path, delay_s=1.0, collect_s=60)  # type: ignore[arg-type]
    await indexer.on_saved([record("c.0"), record("unrecorded")])
    await next(t for t in indexer._tasks if t.get_name() == "recording-c.0")  # found: waiting for its batch
    assert fake.calls == [] and [n.linkedid for n in indexer._pending] == ["c.0"]  # ("unrecorded": looked for)
    await asyncio.wait_for(indexer.close(), 2)
    assert fake.calls == [["c.0"]] and indexer.indexed == 1
