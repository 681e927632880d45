"""Which asyncio event loop `callcenter serve` runs on.

uvloop (libuv under asyncio's API) is the default: the service spends about a third of its CPU in the
loop itself and in socket calls (one FastAGI command, one database statement, one AMI read at a time),
and that is the part uvloop makes cheaper. ``EVENT_LOOP=asyncio`` runs the standard library's loop,
to compare or to rule the loop out when something behaves oddly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

EVENT_LOOPS = ("uvloop", "asyncio")
T = TypeVar("T")


def unknown(kind: str) -> str:
    """The error for a loop name not in ``EVENT_LOOPS``."""
    return f"EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, not {kind!r}"


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The constructor of the named loop; ValueError for a name not in ``EVENT_LOOPS``."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if kind == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(unknown(kind))


def run(coro: Coroutine[Any, Any, T], kind: str) -> T:
    """``asyncio.run`` on the named loop."""
    with asyncio.Runner(loop_factory=loop_factory(kind)) as runner:
        return runner.run(coro)
