"""The AMI stream recorded from the real stack under load (bench/assets, 120 IVR -> queue -> agent calls)
read in 1 KB pieces by the wire reader and fed to the CDR assembly: one complete, answered record per
call, none left open."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from middleware.ami import wire
from middleware.cdr.assembly import CdrAssembler

ASSET = Path(__file__).resolve().parents[2] / "bench" / "assets" / "ami-load.stream.gz"


def test_every_recorded_call_becomes_one_complete_record() -> None:
    raw = gzip.decompress(ASSET.read_bytes())
    reader, assembler = wire.MessageReader(), CdrAssembler()
    records = []
    now = datetime.now(UTC)
    for start in range(0, len(raw), 1024):
        for headers in reader.feed(raw[start:start + 1024]):
            event = wire.event_of(headers, now)
            if event is not None:
                records += assembler.feed(event)
    joined = {r.linkedid for r in records}
    assert reader.version == "11.0.0" and len(records) == len(joined) == 120
    assert all(r.complete and r.disposition == "answered" and r.queue == "acme-support" and r.agent_code
               for r in records)
    assert assembler.calls == {}
