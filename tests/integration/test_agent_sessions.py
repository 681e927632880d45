"""Persistent agent sessions (app_agent_pool): the agent dials *49 once and stays on the line; each
queue call is bridged in without ringing the phone; hanging up ends the session and logs them out."""

from __future__ import annotations

from typing import Any

from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS
from middleware.store import agents as agent_store
from tests.integration.conftest import TEST_DID, TEST_QUEUE, call_record, wait_until

ALICE = AGENTS[0]


async def _agent(service: Any) -> Any:
    async with service.pool.connection() as conn:
        return await agent_store.get_agent(conn, ALICE.code)


async def test_persistent_session_takes_calls_without_ringing_and_ends_with_the_line(alice_desk, sipp,
                                                                                      settings) -> None:
    service = await alice_desk()
    phone = await sipp.agent_phone(ALICE.endpoint, ALICE.secret, 7800)
    session = await sipp.feature_code(ALICE.endpoint, ALICE.secret, "*49", 7810, stay_ms=25000)

    async def logged_in() -> bool:
        agent = await _agent(service)
        return agent.session_mode == "persistent" and agent.state.value == "available"

    await wait_until(logged_in, 15, "Alice logged in with a persistent session")

    async def at_the_pool() -> bool:  # after the "logged in" prompt, AgentLogin holds the line
        return "1001" in asterisk.rx(settings, "agent show online")

    await wait_until(at_the_pool, 15, "Alice's line held by app_agent_pool")

    async def member_free() -> bool:
        return "(Not in use)" in asterisk.rx(settings, f"queue show {TEST_QUEUE}")

    await wait_until(member_free, 10, "Alice's session a free member of the queue")
    assert "Local/1001@agent-request" in asterisk.rx(settings, f"queue show {TEST_QUEUE}")
    for caller in ("12125557001", "12125557002"):
        await wait_until(lambda: _available(service), 15, "Alice free")
        run = await sipp.call(TEST_DID, caller=caller, port=8800 if caller.endswith("1") else 8810, presses=[],
                              hold_ms=8000)
        assert await run.wait(60) == 0, run.errors()
        call = await wait_until(lambda c=caller: call_record(service, c), 20, f"record of {caller}")
        assert call["disposition"] == "answered" and call["agent_code"] == ALICE.code
        assert float(call["wait_s"]) < 1.5, asterisk.rx(settings, f"queue show {TEST_QUEUE}")  # nothing rings
    assert phone.invites() == []  # her phone never rang: both calls came down the open line
    assert session.process.returncode is None  # and the line is still up
    # Hanging up the line ends the session: app_agent_pool's AgentLogoff logs her out of the queues.
    assert await session.wait(40) == 0, session.errors()
    await wait_until(lambda: _logged_out(service), 15, "Alice logged out")
    assert "Local/1001@agent-request" not in asterisk.rx(settings, f"queue show {TEST_QUEUE}")


async def _available(service: Any) -> bool:
    return (await _agent(service)).state.value == "available"


async def _logged_out(service: Any) -> bool:
    return (await _agent(service)).state.value == "logged_out"
