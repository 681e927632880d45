"""Emergency calls on the real stack: a logged-out agent's phone, in a tenant with no route and no
allowed trunk, dials 911; the call reaches a trunk with the phone's emergency caller ID, and the
supervisors' event stream carries the alert."""

from __future__ import annotations

import asyncio
from typing import Any

from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS
from tests.integration.conftest import cli, wait_until


async def test_an_emergency_number_reaches_a_trunk_from_a_logged_out_phone_with_its_location_caller_id(
        alice_desk, sipp, settings) -> None:
    service: Any = await alice_desk()
    alice = AGENTS[0]
    changed = await cli(settings, "phone", "set", alice.endpoint, "--emergency-cid", "+12125550911")
    assert changed.returncode == 0, changed.stderr
    bad = await cli(settings, "phone", "set", alice.endpoint, "--emergency-cid", "911")
    assert bad.returncode == 1 and "not an E.164 number" in bad.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    alerts = service.events.subscribe()
    customer = await sipp.customer(5080, talk_ms=2000, calls=1)  # the emergency services, behind the carrier

    await sipp.agent_phone(alice.endpoint, alice.secret, 7930)  # registered; Alice never logged in
    call = await sipp.feature_code(alice.endpoint, alice.secret, "911", 7934, stay_ms=8000)

    answered = await wait_until(lambda: _async([x for x in customer.log_lines() if x.startswith("ANSWERED")]), 30,
                                "the emergency call answered behind carrier-sim")
    assert "<sip:+12125550911@" in answered[0], answered

    async def alert() -> dict[str, Any] | None:
        while not alerts.empty():
            event = alerts.get_nowait()
            if event.get("kind") == "emergency_call":
                return event
        await asyncio.sleep(0)
        return None

    event = await wait_until(alert, 10, "the emergency_call event")
    assert (event["tenant"], event["phone"], event["number"], event["caller_id"]) == (
        "acme", alice.endpoint, "911", "+12125550911")
    await call.wait(30)


async def _async(value: Any) -> Any:
    return value
