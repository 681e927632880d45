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


async def test_a_phone_rings_its_own_tenants_phones_never_another_tenants(make_service, sipp, settings) -> None:
    """Every tenant's phones were in one [phones-generated] context: acme's phone could ring globex's."""
    from middleware.runtime.demo_tenant import AGENTS as DEMO
    from middleware.store import tenants
    from tests.integration.conftest import wait_until

    alice = DEMO[0]
    service = await make_service()
    await seed(service.pool, agents=(alice, BOB))
    async with service.pool.connection() as conn:
        globex = await tenants.upsert_tenant(conn, "globex", "Globex", "UTC")
        gil = await agent_store.upsert_agent(conn, globex, "2001", "Gil Globex")
        await agent_store.upsert_phone(conn, globex, "globex-2001", "globex-pw-2001", gil, "Gil Globex")
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    gils_phone = await sipp.agent_phone("globex-2001", "globex-pw-2001", 7970)
    bobs_phone = await sipp.agent_phone(BOB.endpoint, BOB.secret, 7974)
    other_tenant = await sipp.feature_code(alice.endpoint, alice.secret, "globex-2001", 7978, stay_ms=2000)
    await other_tenant.wait(30)  # refused (404): the scenario ends on the unexpected answer
    same_tenant = await sipp.feature_code(alice.endpoint, alice.secret, BOB.endpoint, 7982, stay_ms=2000)
    await wait_until(lambda: _invited(bobs_phone), 15, "Bob's phone to ring")
    await same_tenant.wait(30)
    assert gils_phone.invites() == []


async def _invited(phone) -> bool:  # type: ignore[no-untyped-def]
    return bool(phone.invites())
