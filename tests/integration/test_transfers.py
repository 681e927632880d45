"""Agents pass callers on with the PBX's transfer features, from SIPp phones pressing RFC 2833 digits:
blind (##) to a specialist queue by its extension, attended (*2) to a supervisor's phone. The caller's
context (linkedid, screen pop) goes along and the call stays one record that lists the transfer."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from middleware.agents.state import AgentEvent
from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS, seed
from middleware.store import agents as agent_store
from middleware.store import tenants
from tests.integration.conftest import call_record, wait_until

TEST_DID = "5551999"
FRONT, TIER2 = "acme-test", "acme-tier2"
_callers = itertools.count(12125552000)


@pytest.fixture
async def floor(make_service, sipp, settings):  # type: ignore[no-untyped-def]
    """Alice (1001) alone answers FRONT and transfers as told; Bob (1002) answers TIER2 (extension
    702); Carol (1003) is the supervisor, in no queue."""

    async def start(transfer: tuple[str, str]) -> tuple[Any, dict[str, Any]]:
        service = await make_service()
        await seed(service.pool)
        async with service.pool.connection() as conn:
            tenant_id = await tenants.tenant_id(conn, "acme")
            assert tenant_id is not None
            for queue in (FRONT, TIER2):
                await tenants.upsert_queue(conn, tenant_id, queue, strategy="ringall", wrapup_s=1)
            await tenants.set_queue_caller_settings(conn, TIER2, "702", None)
            await tenants.upsert_did(conn, tenant_id, TEST_DID, FRONT, None)
            await conn.execute("DELETE FROM queue_members")
            await agent_store.add_membership(conn, FRONT, "1001")
            await agent_store.add_membership(conn, TIER2, "1002")
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        phones = {}
        for i, agent in enumerate(AGENTS):
            phones[agent.code] = await sipp.agent_phone(agent.endpoint, agent.secret, 7700 + 10 * i,
                                                        transfer=transfer if agent.code == "1001" else None)
            await service.agents.apply(agent.code, AgentEvent.LOGIN)
        return service, phones

    return start


async def test_blind_transfer_to_a_specialist_queue_keeps_the_call_and_its_context(floor, sipp) -> None:
    service, phones = await floor(("blind", "702"))
    caller = str(next(_callers))
    run = await sipp.call(TEST_DID, caller=caller, port=8700, presses=[], hold_ms=14000)
    assert await run.wait(60) == 0, run.errors()
    call = await wait_until(lambda: call_record(service, caller), 20, "the call record")
    # Alice answered first and keeps the call's ASA/AHT; Bob took it from the tier-2 queue.
    assert call["agent_code"] == "1001" and call["queue"] == FRONT and call["disposition"] == "answered"
    assert len(call["transfers"]) == 1, call["transfers"]
    transfer = call["transfers"][0]
    assert (transfer["kind"], transfer["target"], transfer["answered_by"], transfer["queue"]) == (
        "blind", "702", "1002", TIER2)
    # Alice's phone was released by the PBX (its BYE); Bob's INVITE carried the same call's screen pop.
    assert [c for c in phones["1001"].connected_calls() if "ended_ms" in c], phones["1001"].answering.log_lines()
    bob = phones["1002"].invites()
    assert len(bob) == 1 and bob[0]["X-CC-Linkedid"] == call["linkedid"] and bob[0]["X-CC-Transferred"] == "blind"
    assert phones["1003"].invites() == []


async def test_attended_transfer_to_the_supervisor_bridges_the_caller_after_consulting(floor, sipp) -> None:
    service, phones = await floor(("attended", "1003"))
    caller = str(next(_callers))
    run = await sipp.call(TEST_DID, caller=caller, port=8710, presses=[], hold_ms=16000)
    assert await run.wait(60) == 0, run.errors()
    call = await wait_until(lambda: call_record(service, caller), 20, "the call record")
    assert call["agent_code"] == "1001" and call["disposition"] == "answered"
    assert [t["kind"] for t in call["transfers"]] == ["attended"], call["transfers"]
    carol = phones["1003"]
    invites = carol.invites()
    assert len(invites) == 1 and invites[0]["X-CC-Linkedid"] == call["linkedid"]
    # Alice hung up after consulting; Carol stayed on with the caller until the caller's BYE.
    alice_hangup = [line for line in phones["1001"].answering.log_lines() if line.startswith("HUNGUP")]
    assert alice_hangup, phones["1001"].answering.log_lines()
    talked = carol.connected_calls()
    assert len(talked) == 1 and "ended_ms" in talked[0]
    assert talked[0]["ended_ms"] - talked[0]["connected_ms"] > 5000  # consult (3 s) + talk with the caller
    assert phones["1002"].invites() == []
