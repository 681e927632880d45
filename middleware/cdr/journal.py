"""A local append-only journal of call records PostgreSQL could not take.

While the database is unreachable, each finished record is appended as one JSON line and fsync'd
before the write is considered done; when PostgreSQL answers again the journal is replayed in order
(the upsert by linkedid makes a replay of a record already stored change nothing) and the replayed
part removed.

What it guarantees, and how:
- Every append starts on a fresh line: after a crash mid-append (a torn last line) the next record is
  never glued onto the fragment, so a record reported durable stays readable.
- Each line carries its format version (``{"v": 1, "record": {...}}``); lines of earlier versions
  (the bare record of the first release) are still read.
- A line that cannot be read (torn, corrupt, a newer version) is never deleted: when the replayed part
  is removed, such lines are moved first, fsync'd, to ``<journal>.quarantine`` with the reason, where
  ``callcenter cdr journal`` lists them.
- The backlog is counted in memory (once at start-up from the file), so health and metrics never
  read the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from middleware.cdr.assembly import CallRecord
from middleware.errors import Invalid

log = structlog.get_logger(__name__)
VERSION = 1
_DATETIME_FIELDS = frozenset(f.name for f in fields(CallRecord) if "datetime" in str(f.type))
_FIELDS = {f.name: f for f in fields(CallRecord)}


class UnreadableLine(Invalid):
    """A journal line that holds no record this release can read."""


def record_to_line(record: CallRecord) -> str:
    data = asdict(record)
    for name in _DATETIME_FIELDS:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return json.dumps({"v": VERSION, "record": data}, separators=(",", ":"), sort_keys=True)


def _record_of(data: dict[str, Any]) -> CallRecord:
    missing = [n for n, f in _FIELDS.items()
               if n not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise UnreadableLine(f"record lacks {', '.join(sorted(missing))}")
    values = {n: data[n] for n in _FIELDS if n in data}
    for name in _DATETIME_FIELDS:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["legs"] = tuple(values.get("legs", ()))
    values["transfers"] = tuple(values.get("transfers", ()))
    return CallRecord(**values)


def record_from_line(line: str) -> CallRecord:
    """The record of one line, of this version or an earlier one; UnreadableLine says why not."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise UnreadableLine(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UnreadableLine("not a JSON object")
    try:
        if "v" not in data:  # version 0: the bare record, as the first release wrote it
            return _record_of(data)
        if data["v"] != VERSION or not isinstance(data.get("record"), dict):
            raise UnreadableLine(f"journal format version {data['v']!r} is not one this release reads")
        return _record_of(data["record"])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, UnreadableLine):
            raise
        raise UnreadableLine(f"not a call record ({exc})") from None


@dataclass(frozen=True)
class BadLine:
    number: int
    text: str
    reason: str


@dataclass(frozen=True)
class Replay:
    """What a read found: the records in order, the unreadable lines, and where the read ended."""
    records: list[CallRecord] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    end: int = 0  # byte offset: everything before it was read


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _append_lines(path: Path, data: bytes) -> None:
    """Append whole lines, fsync'd, starting on a fresh line whatever the file ends with."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # the last append was torn: never glue a line onto its fragment
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _lines(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip())


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.quarantine_path = path.with_name(path.name + ".quarantine")
        try:
            self._backlog = _lines(path.read_bytes())
        except FileNotFoundError:
            self._backlog = 0
        except OSError as exc:  # not readable now: appends will say whether it can be written
            log.error("cdr.journal_unreadable", path=str(path), detail=str(exc)[:200])
            self._backlog = 0

    def backlog(self) -> int:
        """Lines waiting to be replayed (counted in memory)."""
        return self._backlog

    def append(self, records: list[CallRecord]) -> None:
        """Durably add records: written and fsync'd (file and directory) before this returns.
        OSError (disk full, no permission) reaches the caller, which keeps the records elsewhere."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        _append_lines(self.path, "".join(record_to_line(r) + "\n" for r in records).encode())
        if new:
            _fsync_dir(self.path.parent)
        self._backlog += len(records)

    def read(self) -> Replay:
        """Every readable record in order and every unreadable line; nothing is changed."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Replay()
        records: list[CallRecord] = []
        bad: list[BadLine] = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            text = raw.decode("utf-8", errors="replace")
            try:
                records.append(record_from_line(text))
            except UnreadableLine as exc:
                log.error("cdr.journal_bad_line", path=str(self.path), line=number, detail=str(exc)[:200])
                bad.append(BadLine(number, text, str(exc)))
        return Replay(records, bad, len(data))

    def drop(self, replay: Replay) -> None:
        """Remove what ``replay`` read (its records are stored): unreadable lines go to the quarantine
        first; lines appended since the read stay. Synchronous on purpose: on one event loop no append
        can come between the quarantine, the copy and the replace."""
        if replay.bad:
            self._quarantine(replay.bad)
        try:
            keep = self.path.read_bytes()[replay.end:]
        except FileNotFoundError:
            return
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, keep)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._backlog = _lines(keep)

    def _quarantine(self, bad: list[BadLine]) -> None:
        at = datetime.now(UTC).isoformat()
        _append_lines(self.quarantine_path, "".join(
            json.dumps({"quarantined_at": at, "line": b.number, "reason": b.reason, "text": b.text}) + "\n"
            for b in bad).encode())
        log.error("cdr.journal_lines_quarantined", lines=len(bad), path=str(self.quarantine_path))

    def quarantined(self) -> list[dict[str, Any]]:
        """The lines moved aside, oldest first (each: quarantined_at, line, reason, text)."""
        try:
            text = self.quarantine_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"quarantined_at": None, "line": None, "reason": "unreadable quarantine entry",
                                "text": line})
        return out
