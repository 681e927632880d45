"""CDR ingest: a generated AMI event stream (default 100,000 queue calls, 10 events each) through
parsing, assembly and PostgreSQL, against a naive baseline in the same run that inserts each finished
record on its own (one statement, one commit). Prints events/s and calls/s for both and the ratio
(target: >= 20,000 events/s end to end), then storage alone: the same assembled records written in
batches (COPY into the staging table, one merge) against one by one (target >= 10x). End to end the
ratio is capped by the parsing and assembly both sides share (about 6 us per event).

    .venv/bin/python bench/cdr_ingest.py [--calls 100000] [--baseline-calls 5000]

Needs PostgreSQL (DATABASE_URL or the default); works in a scratch database it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware import log as middleware_log
from middleware.ami import wire
from middleware.ami.client import READ_CHUNK
from middleware.cdr.assembly import CallRecord, CdrAssembler
from middleware.cdr.service import CdrService
from middleware.config import load_settings
from middleware.health import DatabaseHealth
from middleware.service import tune_gc
from middleware.store import calls, database
from middleware.store.database import open_pool

T0 = 1_795_000_000.0
STORE_BATCH = 1000


def call_events(i: int, rng: random.Random) -> list[str]:
    """One answered queue call as the raw AMI text blocks Asterisk 22 sends."""
    lid = f"{int(T0) + i}.{i}"
    agent_uid = f"{int(T0) + i}.{i + 1_000_000}"
    t = T0 + i * 0.5
    wait, talk = rng.uniform(0, 60), rng.uniform(20, 400)
    agent = 1000 + rng.randint(0, 199)

    def block(name: str, at: float, **h: str) -> str:
        lines = [f"Event: {name}", f"Timestamp: {at:.6f}", f"Linkedid: {lid}", *(f"{k}: {v}" for k, v in h.items())]
        return "\r\n".join(lines)

    return [
        block("Newchannel", t, Uniqueid=lid, Channel=f"PJSIP/carrier-sim-{i:08x}", CallerIDNum=f"1212{i % 10**7:07d}",
              CallerIDName="Customer", Context="from-trunk", Exten="5551000"),
        block("Newstate", t + 0.4, Uniqueid=lid, ChannelState="6"),
        block("QueueCallerJoin", t + 2, Uniqueid=lid, Queue="acme-support", Position="1"),
        block("Newchannel", t + 2 + wait, Uniqueid=agent_uid, Channel=f"PJSIP/acme-{agent}-{i:08x}", Context="agents"),
        block("AgentCalled", t + 2 + wait, Uniqueid=lid, DestUniqueid=agent_uid, Queue="acme-support",
              MemberName=str(agent)),
        block("AgentConnect", t + 2.5 + wait, Uniqueid=lid, DestUniqueid=agent_uid, Queue="acme-support",
              MemberName=str(agent), DestChannel=f"PJSIP/acme-{agent}-{i:08x}", HoldTime=str(int(wait))),
        block("AgentComplete", t + 2.5 + wait + talk, Uniqueid=lid, Queue="acme-support", MemberName=str(agent),
              TalkTime=str(int(talk)), Reason="caller"),
        block("Hangup", t + 2.5 + wait + talk, Uniqueid=lid, Cause="16"),
        block("Hangup", t + 2.6 + wait + talk, Uniqueid=agent_uid, Cause="16"),
        block("CEL", t + 2.6 + wait + talk, EventName="LINKEDID_END", Uniqueid=agent_uid),
    ]


def stream(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    # Calls overlap in time: interleave them a little as Asterisk would.
    blocks: list[tuple[float, int, str]] = []
    for i in range(n):
        for j, b in enumerate(call_events(i, rng)):
            at = float(b.split("Timestamp: ", 1)[1].split("\r\n", 1)[0])
            blocks.append((at, i * 16 + j, b))
    blocks.sort()
    return [b for _, _, b in blocks]


def finished_records(blocks: list[str]) -> Iterator[list[CallRecord]]:
    """Parse each block and feed the assembler: the records each event finishes (mostly none)."""
    asm = CdrAssembler()
    now = datetime.now(UTC)
    for text in blocks:
        event = wire.event_of(wire.parse_message(text), now)
        if event is not None:
            yield asm.feed(event)


def assemble(blocks: list[str]) -> list[CallRecord]:
    return [r for records in finished_records(blocks) for r in records]


async def ours(pool, blocks: list[str]) -> tuple[float, int, float]:  # type: ignore[no-untyped-def]
    """What `callcenter serve` does without the AMI socket: parse each message once, feed CdrService,
    whose writer takes every record finished while it was writing (COPY + one merge per batch).
    The consumer yields once per 256 KB read, as the AMI client does per TCP read."""
    cdr = CdrService(pool, DatabaseHealth(pool))
    start = time.perf_counter()
    now = datetime.now(UTC)
    read = 0
    for text in blocks:
        event = wire.event_of(wire.parse_message(text), now)
        if event is not None:
            await cdr.on_event(event)
        read += len(text) + 4
        if read >= READ_CHUNK:
            read = 0
            await asyncio.sleep(0)
    await cdr.drain()
    seconds = time.perf_counter() - start
    batches = cdr.writes
    return seconds, cdr.records_written, cdr.records_written / max(1, batches)


async def naive(pool, blocks: list[str]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Baseline: the same parsing and assembly, each record inserted alone (one round trip, one commit)."""
    start = time.perf_counter()
    written = 0
    async with pool.connection() as conn:
        for records in finished_records(blocks):
            for record in records:
                await calls.save_records(conn, [record])
                written += 1
    return time.perf_counter() - start, written


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--baseline-calls", type=int, default=5_000,
                    help="the naive baseline runs on this many calls (it is slow), rates compared per second")
    args = ap.parse_args()
    # Logs as `callcenter serve` writes them (JSON at info), rendered into /dev/null.
    middleware_log.configure("info", "json", stream=open(os.devnull, "w"))
    tune_gc()  # as `callcenter serve` does once started
    settings = load_settings()
    url = database.with_database(settings.database_url, f"cc_bench_{uuid.uuid4().hex[:10]}")
    database.ensure_database(url)
    database.upgrade(url)
    try:
        t = time.perf_counter()
        blocks = stream(args.calls)
        print(f"generated {len(blocks):,} events for {args.calls:,} calls in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        records = assemble(blocks)
        parse_s = time.perf_counter() - t
        assert len(records) == args.calls, len(records)
        print(f"parse + assemble only: {len(blocks) / parse_s:,.0f} events/s")
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            seconds, written, per_write = await ours(pool, blocks)
            assert written == args.calls, written
            ours_eps = len(blocks) / seconds
            print(f"ours   ({args.calls:,} calls): {seconds:6.1f}s  {ours_eps:10,.0f} events/s  "
                  f"{written / seconds:8,.0f} calls/s  ({per_write:,.0f} records per write)")
            async with pool.connection() as conn:
                await conn.execute("TRUNCATE calls")
            base_blocks = stream(args.baseline_calls, seed=11)
            seconds_b, written_b = await naive(pool, base_blocks)
            naive_eps = len(base_blocks) / seconds_b
            print(f"naive  ({args.baseline_calls:,} calls): {seconds_b:6.1f}s  {naive_eps:10,.0f} events/s  "
                  f"{written_b / seconds_b:8,.0f} calls/s")
            print(f"end to end, ours/naive: {ours_eps / naive_eps:.2f}x   target >= 20,000 events/s: "
                  f"{'met' if ours_eps >= 20_000 else 'NOT met'}")
            # Storage alone (the records assembled beforehand): what the batching itself buys.
            async with pool.connection() as conn:
                await conn.execute("TRUNCATE calls")
                t = time.perf_counter()
                for start in range(0, len(records), STORE_BATCH):
                    await calls.save_records(conn, records[start:start + STORE_BATCH])
                batched_rps = len(records) / (time.perf_counter() - t)
                await conn.execute("TRUNCATE calls")
                alone = records[:args.baseline_calls]
                t = time.perf_counter()
                for record in alone:
                    await calls.save_records(conn, [record])
                alone_rps = len(alone) / (time.perf_counter() - t)
            print(f"storage only: batches of {STORE_BATCH:,} {batched_rps:9,.0f} records/s, one by one "
                  f"{alone_rps:7,.0f} records/s: {batched_rps / alone_rps:.1f}x   target >= 10x: "
                  f"{'met' if batched_rps >= 10 * alone_rps else 'NOT met'}")
        finally:
            await pool.close()
    finally:
        database.drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
