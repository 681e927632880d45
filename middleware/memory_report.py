"""What the service's memory holds, on demand: ``kill -USR1 <pid>`` logs ``service.memory``.

The report: the collector's counts, the live container objects by type (and the change since the
previous report), and, when the process runs with ``PYTHONTRACEMALLOC`` set, the allocation sites
that grew most since the previous report. Two reports some minutes apart name what a leak is made of.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections import Counter
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def type_counts() -> Counter[str]:
    """Live objects the collector tracks, by type name."""
    return Counter(type(o).__name__ for o in gc.get_objects())


def growth(before: Counter[str], after: Counter[str], top: int = 15) -> list[tuple[str, int, int]]:
    """(type, count now, change) for the types that grew most between two counts."""
    changes = [(name, after[name], after[name] - before.get(name, 0)) for name in after]
    return sorted((c for c in changes if c[2] > 0), key=lambda c: -c[2])[:top]


GC_INTERVAL_S = 30.0


async def collect_garbage(interval_s: float = GC_INTERVAL_S) -> None:
    """A full collection every ``interval_s``, until cancelled. The tuned thresholds (``tune_gc``) make
    the collector's own full collections rare (minutes apart under load), and the reference cycles a
    call leaves (tasks, futures, exceptions with their tracebacks) waited that long: the heap grew in
    steps to hold them, and freed pages are not always given back. The live set is a few thousand
    objects (start-up is frozen), so a full collection costs about a millisecond."""
    while True:
        await asyncio.sleep(interval_s)
        started = time.perf_counter()
        found = gc.collect()
        log.debug("service.gc", garbage=found, ms=round((time.perf_counter() - started) * 1000, 2))


class MemoryReporter:
    def __init__(self) -> None:
        self._types: Counter[str] = Counter()
        self._snapshot: tracemalloc.Snapshot | None = None

    def report(self) -> dict[str, Any]:
        """Starts with a full collection: ``garbage`` is what it found (cycles the tuned collector had
        not reached yet), the rest is what is really held."""
        garbage = gc.collect()
        types = type_counts()
        out: dict[str, Any] = {
            "garbage": garbage,
            "gc_counts": list(gc.get_count()), "gc_collections": [s["collections"] for s in gc.get_stats()],
            "gc_uncollectable": sum(s["uncollectable"] for s in gc.get_stats()), "objects": sum(types.values()),
            "frozen": gc.get_freeze_count(), "types_top": types.most_common(10),
            "types_grown": growth(self._types, types) if self._types else []}
        self._types = types
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")))
            if self._snapshot is not None:
                stats = snapshot.compare_to(self._snapshot, "lineno")[:15]
                out["allocations_grown"] = [f"{s.traceback[0]}: {s.size_diff / 1024:+.0f} KiB ({s.count_diff:+d})"
                                            for s in stats]
            out["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
            self._snapshot = snapshot
        return out

    def log_report(self) -> None:
        log.warning("service.memory", **self.report())  # warning: seen at the service's usual log level
