"""Agents log in, pause, unpause and log out from their SIP phones with feature codes."""

from __future__ import annotations

from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, seed
from middleware.store import agents as agent_store

BOB = AGENTS[1]  # member of acme-sales and acme-support


async def test_feature_codes_drive_the_agent_session(make_service, sipp, settings) -> None:
    service = await make_service()
    await seed(service.pool, agents=(BOB,))
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)

    async def dial(code: str, port: int) -> tuple[str, str]:
        run = await sipp.feature_code(BOB.endpoint, BOB.secret, code, port)
        assert await run.wait(30) == 0, run.errors()
        async with service.pool.connection() as conn:
            agent = await agent_store.get_agent(conn, BOB.code)
        assert agent is not None
        return agent.state.value, agent.state_reason

    def member_line(queue: str) -> str:
        lines = [ln for ln in asterisk.rx(settings, f"queue show {queue}").splitlines() if "PJSIP/acme-1002" in ln]
        return lines[0] if lines else ""

    assert await dial("*45", 7400) == ("available", "")
    assert member_line("acme-sales") and member_line("acme-support")
    assert await dial("*47", 7410) == ("paused", "phone")
    assert "paused" in member_line("acme-sales").lower()
    assert await dial("*48", 7420) == ("available", "")
    assert "paused" not in member_line("acme-support").lower()
    assert await dial("*46", 7430) == ("logged_out", "")
    assert member_line("acme-sales") == "" and member_line("acme-support") == ""
    async with service.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT h.state FROM agent_state_history h JOIN agents a ON a.id = h.agent_id WHERE a.code = %s "
            "ORDER BY h.id", (BOB.code,))
        assert [r[0] for r in await cur.fetchall()] == ["available", "paused", "available", "logged_out"]
