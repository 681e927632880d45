"""AMI events reach the services that declared them, in order; consumers that need PostgreSQL are
skipped while it is down (the CDR is not), and one that meets it failing marks it down."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog

from middleware.dispatch import ALL, EventDispatch
from middleware.pbx_events import AmiEvent
from middleware.store.database import DatabaseUnavailable


class Health:
    def __init__(self) -> None:
        self.down = False
        self.marked: list[str] = []

    def mark_down(self, exc: BaseException) -> None:
        self.down = True
        self.marked.append(type(exc).__name__)


def event(name: str, linkedid: str = "1.1") -> AmiEvent:
    return AmiEvent(name, {"event": name, "linkedid": linkedid, "uniqueid": linkedid}, datetime.now(UTC))


class Recorder:
    def __init__(self, seen: list[str], label: str, events: tuple[str, ...], fail: Exception | None = None) -> None:
        self.EVENTS = events
        self.seen, self.label, self.fail = seen, label, fail

    async def on_event(self, ev: AmiEvent) -> None:
        self.seen.append(f"{self.label}:{ev.name}")
        if self.fail is not None:
            raise self.fail


async def test_each_consumer_gets_its_own_events_in_registration_order() -> None:
    health, seen = Health(), []
    dispatch = EventDispatch(health)  # type: ignore[arg-type]
    dispatch.register("cdr", Recorder(seen, "cdr", (ALL,)), needs_database=False)
    dispatch.register("agents", Recorder(seen, "agents", ("AgentConnect", "AgentComplete")))
    dispatch.register("dialer", Recorder(seen, "dialer", ("AgentConnect", "Hangup")),
                      accepts=lambda e: e.linkedid.startswith("dial-"))
    await dispatch(event("AgentConnect"))
    await dispatch(event("Hangup", "dial-3"))
    await dispatch(event("Newchannel"))
    assert seen == ["cdr:AgentConnect", "agents:AgentConnect", "cdr:Hangup", "dialer:Hangup", "cdr:Newchannel"]
    assert dispatch.consumers_of("AgentConnect") == ["cdr", "agents", "dialer"]
    with pytest.raises(ValueError, match="twice"):
        dispatch.register("agents", Recorder(seen, "x", ()))


async def test_while_the_database_is_down_only_the_cdr_is_fed_and_a_failure_marks_it_down() -> None:
    health, seen = Health(), []
    dispatch = EventDispatch(health)  # type: ignore[arg-type]
    dispatch.register("cdr", Recorder(seen, "cdr", (ALL,)), needs_database=False)
    dispatch.register("agents", Recorder(seen, "agents", ("AgentConnect",), DatabaseUnavailable("refused")))
    dispatch.register("queue-events", Recorder(seen, "queue", ("AgentConnect",)))
    with structlog.testing.capture_logs() as logs:
        await dispatch(event("AgentConnect"))
    assert [(e["event"], e["consumer"]) for e in logs] == [("service.database_unreachable", "agents")]
    assert health.marked == ["DatabaseUnavailable"] and health.down
    assert seen == ["cdr:AgentConnect", "agents:AgentConnect"]  # the rest waits for reconciliation
    await dispatch(event("AgentConnect"))
    assert seen[2:] == ["cdr:AgentConnect"]


async def test_a_busy_pool_is_not_the_database_down() -> None:
    health, seen = Health(), []
    dispatch = EventDispatch(health)  # type: ignore[arg-type]
    dispatch.register("agents", Recorder(seen, "agents", ("AgentConnect",), DatabaseUnavailable("busy", busy=True)))
    with structlog.testing.capture_logs():
        await dispatch(event("AgentConnect"))
    assert not health.down and seen == ["agents:AgentConnect"]
