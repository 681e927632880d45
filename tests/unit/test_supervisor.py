"""The background-task supervisor: a task that dies is logged, counted and restarted; close() ends all."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from middleware.supervisor import Backoff, Supervisor, every

FAST = Backoff(first_s=0.01, max_s=0.04, healthy_after_s=10.0)


def test_backoff_doubles_then_caps() -> None:
    b = Backoff(first_s=0.5, max_s=4.0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


async def test_a_loop_that_raises_an_unexpected_error_keeps_ticking() -> None:
    """every() used to catch four exception types: a KeyError ended the dialer loop for good."""
    ticks: list[int] = []

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 2:
            raise KeyError("a lead without a number")

    supervisor = Supervisor(FAST)
    with structlog.testing.capture_logs() as logs:
        supervisor.start("dialer", lambda: every(0.01, tick, "dialer.tick_failed"))
        for _ in range(200):
            if len(ticks) >= 5:
                break
            await asyncio.sleep(0.01)
        await supervisor.close()
    assert len(ticks) >= 5
    died = [e for e in logs if e["event"] == "task.died"]
    assert [(e["log_level"], e["task"]) for e in died] == [("error", "dialer")]
    assert supervisor.restarts == {"dialer": 1}
    assert [(d.task, d.error) for d in supervisor.deaths] == [("dialer", "KeyError: 'a lead without a number'")]


async def test_a_task_that_returns_is_restarted_and_close_cancels_everything() -> None:
    runs = 0
    forever, thrice = asyncio.Event(), asyncio.Event()

    async def short() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            thrice.set()

    supervisor = Supervisor(FAST)
    with structlog.testing.capture_logs():
        supervisor.start("short", short)
        supervisor.start("long", forever.wait)
        await asyncio.wait_for(thrice.wait(), 1)
        assert supervisor.names == ["long", "short"]
        await asyncio.wait_for(supervisor.close(), 1)
    assert supervisor.restarts["short"] >= 2 and supervisor.restarts["long"] == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name() in ("short", "long")]


def test_a_name_is_used_once() -> None:
    async def run() -> None:
        supervisor = Supervisor(FAST)
        supervisor.start("dialer", asyncio.Event().wait)
        with pytest.raises(ValueError, match="twice"):
            supervisor.start("dialer", asyncio.Event().wait)
        await supervisor.close()
    asyncio.run(run())
