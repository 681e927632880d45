"""FastAGI throughput: our server against panoramisk's FastAGI Application and a bare asyncio ceiling.

A load generator speaks FastAGI as Asterisk does (header block, then one reply per command, no
Asterisk needed) and keeps N sessions in flight. Every session runs the same eight-command IVR
(ANSWER, STREAM FILE, GET DATA, three SET VARIABLE, GET FULL VARIABLE, VERBOSE). Each server runs
in its own process pinned to one core; the generator is pinned to the other. Latency is the time
from the generator's reply to the server's next command (the server's turnaround).

    .venv/bin/python bench/agi_throughput.py [--levels 50,500,2000] [--sessions-per-level 3]

Two runs per server: saturated (Asterisk replies at once, N sessions always in flight: throughput,
and latency that is mostly queueing) and paced (500 sessions, each reply 50-150 ms after the
command as when prompts play, calls starting over the first second: the server's own turnaround).
Target at 500 sessions: ours >= 0.6 x the ceiling's saturated sessions/s, and paced p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.config import Settings
from middleware.event_loop import EVENT_LOOPS, run

HEADER = (b"agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1/ivr\n"
          b"agi_channel: PJSIP/carrier-sim-00000001\nagi_language: en\nagi_type: PJSIP\n"
          b"agi_uniqueid: 1795375420.4\nagi_callerid: 12125550101\nagi_calleridname: Customer\n"
          b"agi_context: inbound\nagi_extension: s\nagi_priority: 5\nagi_enhanced: 0.0\n"
          b"agi_accountcode: \nagi_threadid: 139\n\n")
COMMANDS = (
    "ANSWER", "STREAM FILE hello \"\"", "GET DATA dir-pls-enter 3000 1", "SET VARIABLE CC_QUEUE acme-sales",
    "SET VARIABLE CC_REASON sales", "GET FULL VARIABLE ${CALLERID(num)}", "VERBOSE routed 1",
    "SET VARIABLE CC_ROUTE queue",
)
SERVERS = ("ours", "panoramisk", "ceiling")


# -- the three servers, each in its own process --

def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


async def _serve_ours(port: int, ready: Any) -> None:
    from middleware.agi.server import FastAgiServer, route_table
    from middleware.agi.session import AgiSession
    from middleware.log import configure
    from middleware.service import tune_gc

    configure("error", "console")

    async def ivr(s: AgiSession) -> None:
        await s.answer()
        await s.stream_file("hello")
        await s.get_data("dir-pls-enter", 3000, 1)
        await s.set_variable("CC_QUEUE", "acme-sales")
        await s.set_variable("CC_REASON", "sales")
        await s.get_variable("CALLERID(num)")
        await s.verbose("routed", 1)
        await s.set_variable("CC_ROUTE", "queue")

    server = FastAgiServer(route_table([("ivr", ivr)]), host="127.0.0.1", port=port, max_header_bytes=16384,
                           header_timeout=30, command_timeout=30, max_sessions=1_000_000)  # measured, not capped
    await server.start()
    tune_gc()  # as `callcenter serve` does once started (and so do the other two: same footing)
    ready.set()
    await asyncio.Event().wait()


async def _serve_panoramisk(port: int, ready: Any) -> None:
    from panoramisk.fast_agi import Application

    app = Application(loop=asyncio.get_running_loop())

    async def ivr(request) -> None:  # type: ignore[no-untyped-def]
        for command in COMMANDS:
            await request.send_command(command)

    app.add_route("ivr", ivr)
    server = await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=4096)
    _same_gc()
    ready.set()
    async with server:
        await server.serve_forever()


async def _serve_ceiling(port: int, ready: Any) -> None:
    lines = [(c + "\n").encode() for c in COMMANDS]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\n\n")
            for line in lines:
                writer.write(line)
                await reader.readline()  # "200 result=0": not even parsed
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    _same_gc()
    ready.set()
    async with server:
        await server.serve_forever()


def _same_gc() -> None:
    """The collector as `callcenter serve` sets it (frozen start-up, young generation every 50,000
    allocations): with Python's default every server met a collection pause in its p99."""
    from middleware.service import tune_gc

    tune_gc()


def serve(kind: str, port: int, ready: Any, loop: str) -> None:
    """One server on core 0, on the event loop named (every server on the same one)."""
    _pin(0)
    _raise_fd_limit()
    runner = {"ours": _serve_ours, "panoramisk": _serve_panoramisk, "ceiling": _serve_ceiling}[kind]
    run(runner(port, ready), loop)


# -- the load generator: fake Asterisk --

class FakeAsterisk(asyncio.Protocol):
    """One FastAGI session as Asterisk plays it: header, then a reply to every command line."""

    def __init__(self, latencies: list[float], done: asyncio.Future[None], think_s: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self.latencies = latencies
        self.done = done
        self.think_s = think_s
        self.rng = rng or random.Random(0)
        self.buffer = b""
        self.sent_at = 0.0
        self.commands = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sent_at = time.perf_counter()
        self.transport.write(HEADER)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            now = time.perf_counter()
            self.latencies.append(now - self.sent_at)
            self.commands += 1
            reply = b"200 result=1 (12125550101)\n" if line.startswith(b"GET FULL") else b"200 result=0\n"
            if self.think_s:  # a prompt playing, a caller thinking: the server waits, idle
                delay = self.think_s * self.rng.uniform(0.5, 1.5)  # calls do not move in lockstep
                asyncio.get_running_loop().call_later(delay, self._reply, reply)
            else:
                self._reply(reply)

    def _reply(self, reply: bytes) -> None:
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self.sent_at = time.perf_counter()
            self.transport.write(reply)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if self.commands == len(COMMANDS):
                self.done.set_result(None)
            else:
                self.done.set_exception(RuntimeError(f"session ended after {self.commands} commands"))


@dataclass(frozen=True)
class Result:
    server: str
    concurrency: int
    sessions: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds


async def drive(port: int, concurrency: int, sessions: int, think_s: float = 0.0) -> tuple[float, list[float], int]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures = 0
    remaining = sessions

    rng = random.Random(7)

    async def worker() -> None:
        nonlocal remaining, failures
        if think_s:
            await asyncio.sleep(rng.uniform(0, 8 * think_s))  # calls arrive over time, not all at once
        while remaining > 0:
            remaining -= 1
            done: asyncio.Future[None] = loop.create_future()
            try:
                protocol = FakeAsterisk(latencies, done, think_s, rng)
                await loop.create_connection(lambda p=protocol: p, "127.0.0.1", port)
                await asyncio.wait_for(done, 30)
            except (OSError, RuntimeError, TimeoutError):
                failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, failures


def measure(kind: str, port: int, concurrency: int, sessions: int, think_s: float = 0.0) -> Result:
    seconds, latencies, failures = asyncio.run(drive(port, concurrency, sessions, think_s))
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
    return Result(kind, concurrency, sessions - failures, seconds, quantiles[49] * 1000, quantiles[98] * 1000, failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="50,500,2000", help="concurrent sessions to test")
    parser.add_argument("--sessions-per-level", type=int, default=4,
                        help="sessions run per level, as a multiple of the level (at least 2000)")
    parser.add_argument("--port", type=int, default=24573)
    parser.add_argument("--think-ms", type=float, default=100.0,
                        help="paced run: Asterisk's delay before each reply (a prompt playing), default 100")
    parser.add_argument("--loop", default=Settings.event_loop, choices=EVENT_LOOPS,
                        help="the event loop every server runs on (default: the one `callcenter serve` uses)")
    parser.add_argument("--paced-level", type=int, default=500, help="concurrent sessions of the paced run")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    _pin(1)
    _raise_fd_limit()
    ctx = multiprocessing.get_context("spawn")
    results: list[Result] = []
    paced: list[Result] = []
    for i, kind in enumerate(SERVERS):
        port = args.port + i
        # Readiness is signalled, not probed: an empty probe connection alone freezes panoramisk's
        # server (its handler spins on EOF), which is why we have our own.
        ready = ctx.Event()
        proc = ctx.Process(target=serve, args=(kind, port, ready, args.loop), daemon=True)
        proc.start()
        try:
            if not ready.wait(15):
                raise SystemExit(f"{kind} server did not start")
            measure(kind, port, 20, 200)  # warm-up
            for level in levels:
                results.append(measure(kind, port, level, max(2000, level * args.sessions_per_level)))
            paced.append(measure(kind, port, args.paced_level, args.paced_level * 3, args.think_ms / 1000))
        finally:
            proc.terminate()
            proc.join(5)
    print(f"FastAGI throughput, {len(COMMANDS)} commands per session; server on 1 core ({args.loop} loop), "
          "generator on another")
    print(f"{'concurrency':>11}  {'server':10}  {'sessions/s':>10}  {'p50 ms':>7}  {'p99 ms':>7}  {'failed':>6}")
    for r in results:
        print(f"{r.concurrency:>11}  {r.server:10}  {r.rate:>10.0f}  {r.p50_ms:>7.2f}  {r.p99_ms:>7.2f}  "
              f"{r.failures:>6}")
    print()
    print(f"Paced: {args.paced_level} concurrent sessions, Asterisk replying {args.think_ms / 2:.0f}-"
          f"{args.think_ms * 1.5:.0f} ms after each command")
    print(f"{'server':10}  {'sessions/s':>10}  {'p50 ms':>7}  {'p99 ms':>7}  {'failed':>6}")
    for r in paced:
        print(f"{r.server:10}  {r.rate:>10.0f}  {r.p50_ms:>7.2f}  {r.p99_ms:>7.2f}  {r.failures:>6}")
    print()
    for level in levels:
        by = {r.server: r for r in results if r.concurrency == level}
        ours, pano, ceil = by["ours"], by["panoramisk"], by["ceiling"]
        print(f"saturated at {level:>4}: ours/panoramisk = {ours.rate / pano.rate:.2f}  "
              f"ours/ceiling = {ours.rate / ceil.rate:.2f}")
    verdict = 0
    if 500 in levels:
        ratio = next(r.rate for r in results if r.server == "ours" and r.concurrency == 500) / next(
            r.rate for r in results if r.server == "ceiling" and r.concurrency == 500)
        p99 = next(r.p99_ms for r in paced if r.server == "ours")
        ok = ratio >= 0.6 and p99 < 5.0
        verdict = 0 if ok else 1
        print(f"target at 500 sessions: ours/ceiling {ratio:.2f} (>= 0.6) and paced p99 {p99:.2f} ms (< 5): "
              f"{'met' if ok else 'NOT met'}")
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
