"""A supervisor listens to, whispers to or barges into an agent's live call (ChanSpy via the CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, DID
from middleware.store import agents as agent_store
from middleware.store import tenants
from tests.integration.conftest import wait_until

CAROL = AGENTS[2]
MONDAY_NOON = "2026-11-23T12:00:00-05:00"


def supervise(settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "middleware", "supervise", *args], capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": settings.database_url}, timeout=60)


@pytest.mark.parametrize(("mode", "options"), [("listen", "qEb"), ("whisper", "qEbw"), ("barge", "qEbB")])
async def test_supervisor_listens_whispers_or_barges_on_a_live_call(agent_on_duty, sipp, settings, mode: str,
                                                                    options: str) -> None:
    service, _phone = await agent_on_duty(CAROL, 7700, clock=MONDAY_NOON)
    async with service.pool.connection() as conn:
        await agent_store.upsert_phone(conn, await tenants.tenant_id(conn, "acme"), "acme-sup", "supervisor-pw-1",
                                       None, "Sam Supervisor")
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    supervisor = await sipp.agent_phone("acme-sup", "supervisor-pw-1", 7710)

    refused = await asyncio.to_thread(supervise, settings, CAROL.code, "--phone", "acme-sup")
    assert refused.returncode == 1 and "not on a call" in refused.stderr

    caller = await sipp.call(DID, digits="2", caller="12125555001", port=8700, dtmf_after_ms=3000, hold_ms=12000)
    await wait_until(lambda: _on_call(service), 20, "Carol on the call")
    stranger = await asyncio.to_thread(supervise, settings, CAROL.code, "--phone", "globex-9", "--mode", mode)
    assert stranger.returncode == 1 and "not one of tenant acme's phones" in stranger.stderr
    done = await asyncio.to_thread(supervise, settings, CAROL.code, "--phone", "acme-sup", "--mode", mode)
    assert done.returncode == 0, done.stderr
    await wait_until(lambda: _spying(settings, options), 15, "ChanSpy on Carol's channel")
    assert len(supervisor.connected_calls()) == 1
    assert await caller.wait(60) == 0
    # When the spied call ends, the supervisor's leg ends too (E).
    await wait_until(lambda: _spy_over(settings), 15, "the supervisor's leg to end")


async def _on_call(service) -> bool:
    async with service.pool.connection() as conn:
        agent = await agent_store.get_agent(conn, CAROL.code)
    return agent is not None and agent.state.value == "on_call"


async def _spying(settings, options: str) -> bool:
    channels = await asyncio.to_thread(asterisk.rx, settings, "core show channels verbose")
    # The target ends in '-': Carol's endpoint whole, never a longer name that begins like hers.
    return "ChanSpy" in channels and f"PJSIP/{CAROL.endpoint}-,{options}" in channels


async def _spy_over(settings) -> bool:
    return "ChanSpy" not in await asyncio.to_thread(asterisk.rx, settings, "core show channels verbose")
