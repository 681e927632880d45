"""Where the middleware's CPU goes: a py-spy collapsed-stack file (``bench/load.py --profile DIR``) summed
by function (self time) and by concern (any frame of the stack in that part of the code).

    .venv/bin/python bench/profile_top.py DIR/serve-12cps.txt [--cpu-ms-per-call 21.5] [--top 25]

Samples of a thread waiting (the event loop in epoll, idle thread-pool workers) are counted apart:
py-spy does not always see them as idle. With ``--cpu-ms-per-call`` (load.py prints it for the
profiled step) every share of the busy samples is also given in CPU milliseconds per call.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Concerns, first match wins for the exclusive split; each is also counted inclusively.
CONCERNS: tuple[tuple[str, str], ...] = (
    ("logging (structlog render + write)", r"structlog/|middleware/log\.py|logging/__init__"),
    ("AMI wire: read + parse", r"middleware/ami/wire\.py|middleware/ami/client\.py"),
    ("CDR assembly", r"middleware/cdr/assembly\.py"),
    ("CDR store (group commit)", r"middleware/cdr/service\.py|middleware/store/calls\.py"),
    ("agent tracking", r"middleware/agents/|middleware/store/agents\.py"),
    ("IVR flow + screen pop", r"middleware/ivr/"),
    ("FastAGI protocol", r"middleware/agi/"),
    ("queue state / wait estimate", r"middleware/routing/|middleware/ami/queries\.py|middleware/ami/members\.py"),
    ("events relay / NOTIFY", r"middleware/event_stream\.py|middleware/store/notifications\.py"),
    ("HTTP API", r"aiohttp/|middleware/api/"),
    ("psycopg (queries, pool)", r"psycopg"),
    ("asyncio loop + sockets", r"asyncio/|selectors\.py"),
)
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py)", "EpollSelector.select (selectors.py)",
               "select (selectors.py)", "wait (threading.py)")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count = raw.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    file = m.group("file")
    for marker in ("/middleware/", "/site-packages/", "/lib/python3"):
        if marker in file:
            file = file[file.index(marker) + 1:]
            break
    return f"{m.group('func')} ({file})"


def summarize(stacks: list[tuple[list[str], int]]) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    patterns = [(name, re.compile(rx)) for name, rx in CONCERNS]
    for frames, count in stacks:
        leaf = short(frames[-1])
        if leaf in IDLE_LEAVES:
            exclusive["(waiting: idle loop or thread)"] += count
            continue
        total += count
        own[leaf] += count
        hit = [name for name, rx in patterns if any(rx.search(f) for f in frames)]
        for name in hit:
            inclusive[name] += count
        # exclusive: the innermost frame that belongs to a concern decides
        for frame in reversed(frames):
            name = next((n for n, rx in patterns if rx.search(frame)), None)
            if name is not None:
                exclusive[name] += count
                break
        else:
            exclusive["other"] += count
    return own, inclusive, exclusive, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--cpu-ms-per-call", type=float, default=0.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    own, inclusive, exclusive, total = summarize(parse(args.profile))
    if not total:
        raise SystemExit(f"{args.profile}: no busy samples")
    idle = exclusive.pop("(waiting: idle loop or thread)", 0)

    def cell(n: int) -> str:
        ms = f"  {args.cpu_ms_per_call * n / total:6.2f} ms/call" if args.cpu_ms_per_call else ""
        return f"{100 * n / total:5.1f}%{ms}"

    print(f"{total} busy samples ({idle} more waiting, left out)")
    print("\nby concern, innermost frame decides (sums to 100%):")
    for name, n in exclusive.most_common():
        print(f"  {cell(n)}  {name}")
    print("\nby concern, any frame (a stack can count in several):")
    for name, n in inclusive.most_common():
        print(f"  {cell(n)}  {name}")
    print(f"\ntop {args.top} functions by self time:")
    for name, n in own.most_common(args.top):
        print(f"  {cell(n)}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
