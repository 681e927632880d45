"""AMI ingest: a real AMI stream, recorded from `bench/load.py --capture-ami` (IVR -> queue -> agent calls
on this stack), replayed at full speed from another process into our AMI client, its consumer and the
CDR service (assembly and the batched writes to PostgreSQL), against a bare asyncio line reader
(read lines, count the messages) in the same run: events/s of both and the ratio; and, for scale, a
chunk reader that only counts message ends.

    .venv/bin/python bench/ami_ingest.py [--asset bench/assets/ami-load.stream.gz] [--repeat 40]

Targets: >= 20,000 events/s and >= 0.5 of the line-reader ceiling. Needs PostgreSQL (a scratch
database, dropped afterwards). Run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import multiprocessing
import os
import socket
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware import log as middleware_log
from middleware.ami import wire
from middleware.ami.client import READ_CHUNK, AmiClient
from middleware.cdr.service import CdrService
from middleware.config import load_settings
from middleware.health import DatabaseHealth
from middleware.pbx_events import AmiEvent
from middleware.service import tune_gc
from middleware.store import database
from middleware.store.database import open_pool

ASSET = Path(__file__).resolve().parent / "assets" / "ami-load.stream.gz"


def recorded_events(asset: Path) -> tuple[bytes, int, int]:
    """The recorded stream's events (banner and action responses cut out), their count and calls."""
    raw = gzip.decompress(asset.read_bytes())
    reader = wire.MessageReader()
    blocks = raw.split(wire.EOM)
    kept = []
    events = calls = 0
    for block in blocks:
        messages = reader.feed(block + wire.EOM)
        if messages and "event" in messages[0]:
            kept.append(block.split(b"\r\n", 1)[1] if block.startswith(wire.BANNER) else block)
            events += 1
            calls += messages[0]["event"] == "QueueCallerJoin"
    return wire.EOM.join(kept) + wire.EOM, events, calls


def _replay_server(port: int, payload: bytes, repeat: int, ready: object) -> None:
    """In its own process: accept one client, answer its Login, send the payload ``repeat`` times."""
    srv = socket.create_server(("127.0.0.1", port))
    ready.set()  # type: ignore[attr-defined]
    while True:
        conn, _ = srv.accept()
        with conn, contextlib.suppress(OSError):
            conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
            request = b""
            while wire.EOM not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            action_id = next((line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                              if line.lower().startswith(b"actionid:")), b"")
            if b"Login" in request:
                conn.sendall(b"Response: Success\r\nActionID: " + action_id
                             + b"\r\nMessage: Authentication accepted\r\n\r\n")
            for _ in range(repeat):
                conn.sendall(payload)
            # Keep the connection open until the client has read everything and goes away.
            with contextlib.suppress(OSError):
                while conn.recv(65536):
                    pass


def start_server(payload: bytes, repeat: int) -> tuple[multiprocessing.Process, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_replay_server, args=(port, payload, repeat, ready), daemon=True)
    proc.start()
    ready.wait(10)
    return proc, port


async def ceiling(port: int, expected: int) -> float:
    """A bare asyncio reader: read lines, count blank lines (message ends)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: u\r\nSecret: s\r\n\r\n")
    seen = -1  # the login response
    start = time.perf_counter()
    while seen < expected:
        line = await reader.readline()
        if not line:
            break
        if line == b"\r\n":
            seen += 1
    seconds = time.perf_counter() - start
    writer.close()
    assert seen == expected, (seen, expected)
    return seconds


async def chunk_ceiling(port: int, expected: int) -> float:
    """Tighter still: read 256 KB chunks and count message ends; no line, no header, no event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: u\r\nSecret: s\r\n\r\n")
    seen, tail = -1, b""
    start = time.perf_counter()
    while seen < expected:
        data = await reader.read(READ_CHUNK)
        if not data:
            break
        data = tail + data
        seen += data.count(wire.EOM)
        tail = data[-3:]  # an end split across two reads is counted once the rest arrives
    seconds = time.perf_counter() - start
    writer.close()
    assert seen == expected, (seen, expected)
    return seconds


async def ours(port: int, expected: int, db_url: str) -> tuple[float, int, int]:
    """Our AMI client -> its consumer -> CdrService (assembly, group-committed writes)."""
    pool = await open_pool(db_url, min_size=1, max_size=2)
    cdr = CdrService(pool, DatabaseHealth(pool))
    done = asyncio.Event()
    handled = 0

    async def on_event(event: AmiEvent) -> None:
        nonlocal handled
        await cdr.on_event(event)
        handled += 1
        if handled == expected:
            done.set()

    client = AmiClient(host="127.0.0.1", port=port, username="u", secret="s", action_timeout=5, on_event=on_event,
                       watchdog_interval=3600)
    start = time.perf_counter()
    await client.start(wait=5)
    await asyncio.wait_for(done.wait(), 600)
    seconds = time.perf_counter() - start
    await cdr.drain()
    await client.close()
    await pool.close()
    return seconds, cdr.records_written, len(cdr.assembler.calls)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--asset", type=Path, default=ASSET)
    ap.add_argument("--repeat", type=int, default=40, help="times the recorded stream is sent in a row")
    args = ap.parse_args()
    payload, events, calls = recorded_events(args.asset)
    expected = events * args.repeat
    print(f"{args.asset.name}: {events:,} events of {calls} calls ({len(payload) / events:.0f} bytes per event), "
          f"sent {args.repeat} times: {expected:,} events", flush=True)
    # Logs as `callcenter serve` writes them (JSON at info), rendered into /dev/null.
    middleware_log.configure("info", "json", stream=open(os.devnull, "w"))
    tune_gc()
    settings = load_settings()
    url = database.with_database(settings.database_url, f"cc_bench_{uuid.uuid4().hex[:10]}")
    database.ensure_database(url)
    database.upgrade(url)
    try:
        proc, port = start_server(payload, args.repeat)
        try:
            bare = await ceiling(port, expected)
            chunks = await chunk_ceiling(port, expected)
            seconds, written, still_open = await ours(port, expected, url)
        finally:
            proc.kill()
    finally:
        database.drop_database(url)
    bare_eps, ours_eps = expected / bare, expected / seconds
    print(f"line reader (ceiling): {bare:6.2f}s  {bare_eps:10,.0f} events/s")
    print(f"chunk reader counting message ends (no parsing at all): {chunks:6.2f}s  "
          f"{expected / chunks:10,.0f} events/s")
    print(f"ours (client + consumer + CDR): {seconds:6.2f}s  {ours_eps:10,.0f} events/s  "
          f"({written:,} records written, {still_open} calls left open)")
    print(f"ratio ours/ceiling: {ours_eps / bare_eps:.2f}   targets >= 20,000 events/s: "
          f"{'met' if ours_eps >= 20_000 else 'NOT met'}, >= 0.5 of the ceiling: "
          f"{'met' if ours_eps >= 0.5 * bare_eps else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
