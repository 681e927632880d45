"""The agent state machine driven by Asterisk's queue events, and reconciled after a restart mid-call."""

from __future__ import annotations

from datetime import UTC, datetime

from middleware.runtime.demo_tenant import AGENTS, DID
from tests.integration.conftest import call_record, wait_until

CAROL = AGENTS[2]
MONDAY_NOON = "2026-11-23T12:00:00-05:00"


async def history(service, code: str) -> list[tuple[str, str]]:
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT h.state, h.reason FROM agent_state_history h JOIN agents a ON a.id = h.agent_id "
            "WHERE a.code = %s ORDER BY h.id", (code,))
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def test_a_call_moves_the_agent_through_ringing_on_call_wrap_up(agent_on_duty, sipp) -> None:
    service, _phone = await agent_on_duty(CAROL, 7500, clock=MONDAY_NOON)
    caller = await sipp.call(DID, digits="2", caller="12125550401", port=8500, dtmf_after_ms=3000, hold_ms=3000)
    assert await caller.wait(60) == 0, caller.errors()
    await wait_until(lambda: call_record(service, "12125550401"), 20, "the call record")
    states = await wait_until(lambda: _ends_available(service), 15, "wrap-up to end")
    assert [s for s, _ in states] == ["available", "ringing", "on_call", "wrap_up", "available"]
    assert [r for _, r in states][1:] == ["AgentCalled", "AgentConnect", "AgentComplete", "wrap-up over"]


async def test_state_is_reconciled_after_the_middleware_restarts_mid_call(agent_on_duty, make_service, sipp) -> None:
    first, phone = await agent_on_duty(CAROL, 7510)
    await first.close()  # the middleware goes away; Asterisk and the phones stay
    # With no FastAGI server the DID's fallback queue takes the call; Carol answers while we are down.
    caller = await sipp.call(DID, digits="", caller="12125550402", port=8510, dtmf_after_ms=500, hold_ms=9000)
    await wait_until(lambda: _connected(phone), 20, "Carol's phone to take the call")

    second = await make_service()
    assert await wait_until(lambda: _state(second, CAROL.code, "on_call"), 10, "the reconciled state")
    assert ("on_call", "reconciled (was available)") in await history(second, CAROL.code)
    assert await caller.wait(60) == 0, caller.errors()
    await wait_until(lambda: _state(second, CAROL.code, "available"), 20, "Carol free again after wrap-up")


async def _ends_available(service) -> list[tuple[str, str]] | None:
    states = await history(service, CAROL.code)
    return states if len(states) >= 5 and states[-1][0] == "available" else None


async def _connected(phone) -> bool:
    return bool(phone.connected_calls())


async def _state(service, code: str, expected: str) -> bool:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT state FROM agents WHERE code = %s", (code,))
        row = await cur.fetchone()
    return row is not None and row[0] == expected


async def test_a_pause_racing_an_agent_connect_never_leaves_the_agent_paused_while_talking(db_url) -> None:
    """Agent states are written compare-and-set: an AgentConnect that lands while a supervisor's pause
    is on its way to the queues wins; the pause is refused (409 in the API) and taken back in Asterisk."""
    from middleware.agents.service import AgentError, AgentService
    from middleware.agents.state import AgentEvent, AgentState
    from middleware.event_stream import EventStream
    from middleware.pbx_events import AmiEvent
    from middleware.runtime.demo_tenant import seed
    from middleware.store import agents as agent_store
    from middleware.store.database import open_pool

    pool = await open_pool(db_url, min_size=1, max_size=4)
    sent: list[dict[str, str]] = []
    try:
        await seed(pool, agents=(CAROL,))
        service: AgentService

        class Ami:
            """Asterisk, whose queue connects Carol to a caller just as the pause reaches it."""
            async def action(self, fields: dict[str, str], **kw: object) -> list[dict[str, str]]:
                sent.append(fields)
                if fields["Action"] == "QueuePause" and fields["Paused"] == "true":
                    await service.on_queue_event(AmiEvent("AgentConnect", {"membername": CAROL.code,
                                                                           "queue": "acme-support"},
                                                          datetime.now(UTC)))
                return [{"response": "Success"}]

        service = AgentService(pool, Ami(), EventStream(None))  # type: ignore[arg-type]
        assert await service.apply(CAROL.code, AgentEvent.LOGIN) is AgentState.AVAILABLE
        try:
            await service.apply(CAROL.code, AgentEvent.PAUSE, "break")
        except AgentError as exc:
            assert "on_call" in str(exc)
        else:
            raise AssertionError("the pause was applied over the call")
        async with pool.connection() as conn:
            carol = await agent_store.get_agent(conn, CAROL.code)
        assert carol is not None and carol.state is AgentState.ON_CALL
        pauses = [f["Paused"] for f in sent if f["Action"] == "QueuePause"]
        assert pauses == ["true", "false"]  # sent, then taken back
    finally:
        await pool.close()
