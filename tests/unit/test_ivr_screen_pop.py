"""The screen pop of a call this node's IVR routed comes from memory; old or unknown calls from the row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from middleware.customers import Customer
from middleware.event_stream import EventStream
from middleware.ivr import service as ivr_service
from middleware.ivr.facts import IvrFacts, call_view
from middleware.ivr.service import IvrService
from middleware.pbx_events import AmiEvent

FACTS = IvrFacts(flow="main", outcome="queue acme-support", digits="2",
                 path=({"node": "menu", "input": "2", "outcome": "chose 2"},), language="en",
                 customer=Customer(id=7, name="Evan Ellis", account="79927398713", tier="gold", language="en"),
                 account="79927398713", reason="billing", skills=("billing",), priority=None)


class Clock:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def ivr(monkeypatch: pytest.MonkeyPatch) -> tuple[IvrService, Clock, list[str]]:
    clock = Clock()
    monkeypatch.setattr(ivr_service.time, "monotonic", clock.monotonic)
    service = IvrService(None, lambda: datetime.now(UTC), EventStream(None))  # type: ignore[arg-type]
    read_back: list[str] = []

    async def get_call(conn: Any, linkedid: str) -> dict[str, Any]:
        read_back.append(linkedid)
        return {"linkedid": linkedid, "tenant": "acme"}

    class Connection:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(ivr_service.calls, "get_call", get_call)
    monkeypatch.setattr(service, "_connection", lambda: Connection())
    return service, clock, read_back


def connect(linkedid: str) -> AmiEvent:
    return AmiEvent("AgentConnect", {"linkedid": linkedid, "membername": "1003", "queue": "acme-support"},
                    datetime.now(UTC))


async def test_the_first_agent_gets_the_pop_from_memory_a_second_from_the_row(ivr) -> None:
    service, _clock, read_back = ivr
    events = service._events.subscribe()
    service._remember("L1", call_view("L1", "acme", "5551000", "12125550302", FACTS))
    await service.on_agent_connect(connect("L1"))
    pop = events.get_nowait()
    assert pop["customer"] == {"id": 7, "name": "Evan Ellis", "tier": "gold"} and pop["skills"] == ["billing"]
    assert pop["ivr_path"] == [{"node": "menu", "input": "2", "outcome": "chose 2"}] and read_back == []
    await service.on_agent_connect(connect("L1"))  # a transfer back to the queue: another agent
    assert read_back == ["L1"]


async def test_calls_never_connected_are_forgotten_after_recent_s(ivr) -> None:
    service, clock, read_back = ivr
    for i in range(5):
        service._remember(f"L{i}", {"linkedid": f"L{i}"})
    clock.now += service.RECENT_S + 1
    service._remember("new1", {"linkedid": "new1"})
    service._remember("new2", {"linkedid": "new2"})
    service._remember("new3", {"linkedid": "new3"})
    assert list(service._recent) == ["new1", "new2", "new3"]  # two old ones out per new one
    await service.on_agent_connect(connect("L0"))
    assert read_back == ["L0"]
