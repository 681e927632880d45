"""A local append-only journal of call records PostgreSQL could not take.

While the database is unreachable, each finished record is appended as one JSON line and fsync'd
before the write is considered done; when PostgreSQL answers again the journal is replayed in order
(the upsert by linkedid makes a replay of a record already stored change nothing) and then emptied.
A torn last line (the process died mid-append) is reported and skipped, never replayed half.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from middleware.cdr.assembly import CallRecord

log = structlog.get_logger(__name__)
_DATETIME_FIELDS = frozenset(f.name for f in fields(CallRecord) if "datetime" in str(f.type))


def record_to_line(record: CallRecord) -> str:
    data = asdict(record)
    for name in _DATETIME_FIELDS:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def record_from_line(line: str) -> CallRecord:
    data: dict[str, Any] = json.loads(line)
    for name in _DATETIME_FIELDS:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    data["legs"] = tuple(data.get("legs", ()))
    data["transfers"] = tuple(data.get("transfers", ()))
    return CallRecord(**data)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: list[CallRecord]) -> None:
        """Durably add records: written and fsync'd (file and directory) before this returns."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(record_to_line(r) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
        if new:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[CallRecord]:
        """Every complete record in order; a torn or corrupt line is logged and skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(record_from_line(line))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("cdr.journal_bad_line", path=str(self.path), line=number, detail=str(exc)[:200])
        return records

    def backlog(self) -> int:
        try:
            with open(self.path, "rb") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def clear(self) -> None:
        """Empty the journal once everything in it is stored (atomically: a crash leaves it whole)."""
        self.drop_first(None)

    def drop_first(self, count: int | None) -> None:
        """Remove the first ``count`` lines (all with None): the ones just replayed. Lines appended
        while the replay was awaiting the database stay. Synchronous on purpose: on one event loop no
        append can come between the read and the replace."""
        if not self.path.exists():
            return
        keep = b""
        if count is not None:
            lines = [line for line in self.path.read_bytes().splitlines(keepends=True) if line.strip()]
            keep = b"".join(lines[count:])
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(keep)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
