"""An agent dials out from the desk phone: a national number leaves through the tenant's trunk with the
tenant's number as caller ID and one outbound record of the agent; an international number is refused
to an agent allowed national calls only, a premium-rate number by the dialing policy, a number on a
do-not-call list by the list; once allowed, the international call goes out."""

from __future__ import annotations

import asyncio
from typing import Any

from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS
from middleware.store import flows, tenants
from tests.integration.conftest import cli, wait_until

ALICE = AGENTS[0]


async def _dial(sipp: Any, customer: Any, number: str, port: int) -> list[str]:
    """The phone dials ``number`` and hangs up after 3 s; the answers the customer behind carrier-sim
    has logged so far."""
    run = await sipp.feature_code(ALICE.endpoint, ALICE.secret, number, port, stay_ms=3000)
    await run.wait(40)
    await asyncio.sleep(1)
    return [x for x in customer.log_lines() if x.startswith("ANSWERED")]


async def _records(service: Any) -> list[tuple[str, str, str]]:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT direction, agent_code, caller_number FROM calls WHERE complete "
                                 "AND direction = 'outbound' ORDER BY started_at")
        return [tuple(r) for r in await cur.fetchall()]  # type: ignore[misc]


async def test_an_agent_dials_out_within_the_permission_policy_and_lists(alice_desk, sipp, settings) -> None:
    service: Any = await alice_desk()
    async with service.pool.connection() as conn:
        await flows.allow_trunk(conn, await tenants.tenant_id(conn, "acme"), "carrier-sim")
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    await sipp.agent_phone(ALICE.endpoint, ALICE.secret, 7950)
    customer = await sipp.customer(5080, talk_ms=30000, calls=2)  # the two calls that go out; the phone hangs up first

    answered = await _dial(sipp, customer, "92125550150", 7954)  # 9 + a national number
    assert len(answered) == 1 and "<sip:5551000@" in answered[0], answered  # the tenant's main number
    record = await wait_until(lambda: _records(service), 20, "the call's outbound record")
    assert record == [("outbound", ALICE.code, "+12125550150")]

    for number, reason in (("+442079460000", "permission"), ("+19005551234", "premium_rate")):
        assert len(await _dial(sipp, customer, number, 7958)) == 1
        assert service.gate.refusals[("manual", reason)] == 1, service.gate.refusals
    assert (await cli(settings, "dnc", "add", "+12125550177", "--tenant", "acme")).returncode == 0
    assert len(await _dial(sipp, customer, "+12125550177", 7962)) == 1  # none of the three went out

    assert (await cli(settings, "agent", "dial", ALICE.code, "international")).returncode == 0
    assert len(await _dial(sipp, customer, "+442079460000", 7966)) == 2
    assert [r[2] for r in await wait_until(lambda: _two(service), 20, "two records")] == [
        "+12125550150", "+442079460000"]


async def _two(service: Any) -> list[tuple[str, str, str]] | None:
    rows = await _records(service)
    return rows if len(rows) == 2 else None


async def _async(value: Any) -> Any:
    return value
