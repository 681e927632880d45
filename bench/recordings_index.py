"""Recordings index: generate N small WAV files (default 100,000) laid out as the PBX writes them,
index them (read duration/format from each file, SHA-256, one row each) and time searches on the
result. Baseline in the same run: indexing with one INSERT and one commit per file. Prints files/s for
both, the ratio, and search latency p50/p99 over mixed queries (agent, caller digits, queue, date
range, minimum duration). Target: search p99 < 50 ms.

    .venv/bin/python bench/recordings_index.py [--files 100000] [--baseline-files 5000] [--searches 300]

Needs PostgreSQL (DATABASE_URL or the default); works in a scratch database and a temporary
directory, both removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.config import load_settings
from middleware.recordings.media import inspect
from middleware.store import database, recordings
from middleware.store.database import open_pool

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def tiny_wav(frames: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * frames)
    return buf.getvalue()


def lay_out(root: Path, n: int, rng: random.Random) -> list[tuple[str, Path, dict[str, object]]]:
    """Files <root>/<tenant>/<linkedid>.wav with the call facts the indexer would have."""
    out = []
    for i in range(n):
        tenant = f"t{i % 5}"
        linkedid = f"{1_790_000_000 + i}.{i}"
        path = root / tenant / f"{linkedid}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tiny_wav(rng.randint(80, 800)))
        facts = {"agent": f"{1000 + rng.randint(0, 299)}", "queue": f"q{rng.randint(0, 19)}",
                 "caller": f"1212{rng.randint(0, 9_999_999):07d}",
                 "started_at": T0 + timedelta(seconds=i * 20), "disposition": "answered"}
        out.append((tenant, path, facts))
    return out


async def index(pool, files, *, per_file_commit: bool) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    async with pool.connection() as conn:
        batch = []
        for tenant, path, facts in files:
            info = inspect(path)
            row = dict(linkedid=path.stem, tenant=tenant, path=str(path), info=info, started_at=facts["started_at"],
                       agent=facts["agent"], queue=facts["queue"], caller=facts["caller"],
                       disposition=facts["disposition"])
            if per_file_commit:
                await recordings.add(conn, **row)  # autocommit: one statement, one commit
            else:
                batch.append(row)
                if len(batch) >= 1000:
                    async with conn.transaction():
                        for r in batch:
                            await recordings.add(conn, **r)
                    batch = []
        if batch:
            async with conn.transaction():
                for r in batch:
                    await recordings.add(conn, **r)
    return time.perf_counter() - start


def queries(rng: random.Random, n: int) -> list[recordings.Search]:
    out = []
    for i in range(n):
        kind = i % 5
        day = T0 + timedelta(days=rng.randint(0, 20))
        if kind == 0:
            out.append(recordings.Search(agent=f"{1000 + rng.randint(0, 299)}", limit=50))
        elif kind == 1:
            out.append(recordings.Search(caller=f"{rng.randint(0, 9999):04d}", limit=50))
        elif kind == 2:
            out.append(recordings.Search(queue=f"q{rng.randint(0, 19)}", since=day, until=day + timedelta(days=1)))
        elif kind == 3:
            out.append(recordings.Search(since=day, until=day + timedelta(days=2), min_duration_s=0.08))
        else:
            out.append(recordings.Search(tenant="t3", agent=f"{1000 + rng.randint(0, 299)}", since=day))
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--baseline-files", type=int, default=5_000)
    ap.add_argument("--searches", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(5)
    url = database.with_database(load_settings().database_url, f"cc_bench_{uuid.uuid4().hex[:10]}")
    database.ensure_database(url)
    database.upgrade(url)
    root = Path(tempfile.mkdtemp(prefix="cc-recordings-"))
    try:
        t = time.perf_counter()
        files = lay_out(root / "main", args.files, rng)
        base = lay_out(root / "base", args.baseline_files, rng)
        print(f"wrote {args.files + args.baseline_files:,} WAV files in {time.perf_counter() - t:.1f}s")
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            async with pool.connection() as conn:
                for k in range(5):
                    await conn.execute("INSERT INTO tenants (code, name) VALUES (%s, %s)", (f"t{k}", f"T{k}"))
            seconds = await index(pool, files, per_file_commit=False)
            ours = args.files / seconds
            print(f"ours   ({args.files:,} files): {seconds:6.1f}s  {ours:8,.0f} files/s")
            seconds_b = await index(pool, base, per_file_commit=True)
            naive = args.baseline_files / seconds_b
            print(f"naive  ({args.baseline_files:,} files): {seconds_b:6.1f}s  {naive:8,.0f} files/s   "
                  f"ratio {ours / naive:.2f}x")
            async with pool.connection() as conn:
                await conn.execute("ANALYZE recordings")
                latencies = []
                for q in queries(rng, args.searches):
                    t = time.perf_counter()
                    await recordings.search(conn, q)
                    latencies.append((time.perf_counter() - t) * 1000)
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            print(f"search over {args.files + args.baseline_files:,} rows: p50 {statistics.median(latencies):.2f} ms  "
                  f"p99 {p99:.2f} ms   target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}")
        finally:
            await pool.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        database.drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
