"""Index each recording once its call is recorded: find <dir>/<tenant>/<linkedid>.<format>, read
duration and format from the file itself, hash it, store the row. A file the PBX is still closing is
looked for again a few times."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psycopg
import structlog

from middleware.cdr.assembly import CallRecord
from middleware.recordings.media import MediaError, inspect, wav_complete
from middleware.store import recordings
from middleware.store.database import DatabaseUnavailable, Pool

log = structlog.get_logger(__name__)
FORMATS = ("wav", "gsm", "sln")


def find_file(root: Path, linkedid: str) -> tuple[str, Path] | None:
    """(tenant, path) of the call's recording under ``root``/<tenant>/, if any."""
    if not root.is_dir():
        return None
    for tenant_dir in root.iterdir():
        for fmt in FORMATS:
            path = tenant_dir / f"{linkedid}.{fmt}"
            if path.is_file():
                return tenant_dir.name, path
    return None


def closed(path: Path) -> bool:
    """The PBX has finished the file: a WAV's header counts every byte (MixMonitor rewrites it on close)."""
    if path.suffix != ".wav":
        return True
    try:
        with open(path, "rb") as f:
            header = f.read(64)
        return wav_complete(header, path.stat().st_size)
    except OSError:
        return False


class RecordingIndexer:
    """Finds each answered call's file once the CDR has its record, and indexes it. The rows wait
    ``collect_s`` for the others found meanwhile and go in one statement (at 10 calls a second, one
    round trip for five files instead of five); ``close()`` writes what waits."""

    COLLECT_S = 0.5

    def __init__(self, pool: Pool, root: Path, attempts: int = 5, delay_s: float = 1.0,
                 collect_s: float = COLLECT_S) -> None:
        self._pool = pool
        self.root = root
        self._attempts = attempts
        self._delay_s = delay_s
        self._collect_s = collect_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: list[recordings.NewRecording] = []
        self._writer: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self.indexed = 0

    async def on_saved(self, records: list[CallRecord]) -> None:
        for record in records:
            if record.connected_at is None:
                continue  # b: MixMonitor only keeps bridged audio; an unanswered call has none
            task = asyncio.create_task(self._index(record), name=f"recording-{record.linkedid}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _index(self, record: CallRecord) -> None:
        found = None
        for attempt in range(self._attempts):
            found = find_file(self.root, record.linkedid)
            if found is not None and await asyncio.to_thread(closed, found[1]):
                break
            await asyncio.sleep(self._delay_s * (attempt + 1))
        else:
            if found is None:
                return  # not recorded (the tenant does not record): nothing to index
            log.warning("recording.not_closed", path=str(found[1]))  # indexed as it is; verify will tell
        assert found is not None
        tenant, path = found
        try:
            info = await asyncio.to_thread(inspect, path)
        except (MediaError, OSError) as exc:
            log.error("recording.unreadable", path=str(path), detail=str(exc))
            return
        self._pending.append(recordings.NewRecording(
            linkedid=record.linkedid, tenant=tenant, path=str(path), info=info, started_at=record.connected_at,
            agent=record.agent_code, queue=record.queue, caller=record.caller_number,
            disposition=record.disposition))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="recording-index-writer")

    async def _write_pending(self) -> None:
        while self._pending:
            if not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self._collect_s)
            batch, self._pending = self._pending, []
            try:
                await self._add(batch)
            except psycopg.Error:  # a row PostgreSQL refuses: the others go in without it
                for n in batch:
                    try:
                        await self._add([n])
                    except psycopg.Error as exc:
                        log.error("recording.index_refused", path=n.path, detail=str(exc)[:200])

    async def _add(self, batch: list[recordings.NewRecording]) -> None:
        """Index ``batch`` in one statement; raises psycopg.Error for a row refused (nothing is added)."""
        try:
            async with self._pool.connection() as conn:
                self.indexed += await recordings.add_many(conn, batch)
        except DatabaseUnavailable as exc:  # verify finds them later
            log.error("recording.index_failed", files=len(batch), paths=[n.path for n in batch[:20]],
                      detail=str(exc)[:200])
            return
        for n in batch:
            log.info("recording.indexed", linkedid=n.linkedid, path=n.path, duration_s=n.info.duration_s,
                     size=n.info.size_bytes)

    async def close(self) -> None:
        """Stop looking for files; index at once what was found."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._hurry.set()
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_pending(), name="recording-index-writer")
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
