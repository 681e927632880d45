"""Trunks as data on the real stack: a carrier (SIPp) that demands digest authentication for
REGISTER and INVITE. The center registers with it, takes a call it sends to the registered Contact
(DID in To), and places a call through it with the caller ID in P-Asserted-Identity."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from middleware.agents.state import AgentEvent
from middleware.ami import actions
from middleware.api.metrics import exposition
from middleware.ivr import service as ivr_service
from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS, numbers_where_hour_is, seed
from middleware.runtime.sounds import prompt_checker
from middleware.store import flows, tenants
from tests.integration.conftest import TEST_DID, call_record, cli, wait_until
from tests.integration.test_dialer import _campaign_done, _free_in

CARRIER_IP, CARRIER_PORT = "127.0.0.3", 5190  # no network of any trunk covers it: only `line` identifies
USER, PASSWORD = "acct42", "carrier-Secret.9"


async def _trunk(settings: Any, name: str) -> dict[str, Any]:
    done = await cli(settings, "trunk", "show", name, "--json")
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def _registered_contact(run: Any) -> str | None:
    for line in run.log_lines():
        if m := re.search(r"REGISTERED (sip:\S+)", line):
            return m.group(1)
    return None


async def test_a_registering_trunk_authenticates_takes_a_did_call_and_carries_the_caller_id_out(
        alice_desk, sipp, settings) -> None:
    service: Any = await alice_desk()
    carrier = await sipp.carrier_registrar(CARRIER_PORT, user=USER, password=PASSWORD, local_ip=CARRIER_IP)
    added = await cli(settings, "trunk", "add", "carrier-r", "--host", CARRIER_IP, "--port", str(CARRIER_PORT),
                      "--username", USER, "--password", PASSWORD, "--register", "--contact-user", "acme-in",
                      "--qualify", "5", "--caller-id", "pai")
    assert added.returncode == 0, added.stderr
    refused = await cli(settings, "trunk", "add", "carrier-x", "--host", CARRIER_IP, "--register")
    assert refused.returncode == 1 and "registering trunk needs" in refused.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)

    # Asterisk registers (challenged, then accepted) and qualifies the carrier.
    contact = await wait_until(lambda: _async(_registered_contact(carrier)), 30, "the center's REGISTER accepted")
    assert contact.startswith("sip:acme-in@") and ";line=" in contact

    async def up() -> dict[str, Any] | None:
        shown = await _trunk(settings, "carrier-r")
        return shown if shown["registration"] == "registered" and shown["reachable"] == "reachable" else None

    shown = await wait_until(up, 30, "trunk list: registered and reachable")
    assert shown["password"] == "(set)" and PASSWORD not in json.dumps(shown) and shown["rtt_ms"] is not None

    async def metrics() -> dict[tuple[str, str], float] | None:  # /metrics, read by Prometheus' own parser
        found = {(s.name, s.labels.get("trunk", "")): s.value
                 for f in text_string_to_metric_families(exposition(service.metrics())) for s in f.samples}
        return found if found.get(("callcenter_trunk_registered", "carrier-r")) == 1 else None

    found = await wait_until(metrics, 20, "/metrics: carrier-r registered")
    assert found[("callcenter_trunk_reachable", "carrier-r")] == 1 and found[("callcenter_trunk_rtt_seconds",
                                                                               "carrier-r")] > 0
    assert math.isnan(found[("callcenter_trunk_reachable", "carrier-sim")])  # qualify off: unknown
    listed = await cli(settings, "trunk", "list")
    assert re.search(r"carrier-r\s+127\.0\.0\.3:5190\s+-\s+True\s+registered\s+reachable", listed.stdout), listed.stdout
    assert re.search(r"carrier-sim\s+127\.0\.0\.1:5080\s+127\.0\.0\.1/32\s+False", listed.stdout), listed.stdout

    # The carrier's call to the registered Contact, the DID in To, reaches the DID's queue and Alice.
    alice = AGENTS[0]
    phone = await sipp.agent_phone(alice.endpoint, alice.secret, 5170)
    await service.agents.apply(alice.code, AgentEvent.LOGIN)
    caller = "+12125550199"
    call = await sipp.carrier_call(contact, did=TEST_DID, caller=caller, port=5194, local_ip=CARRIER_IP)
    assert await call.wait(60) == 0, call.errors()
    await wait_until(lambda: _async(phone.connected_calls()), 20, "Alice answered the carrier's call")
    record = await wait_until(lambda: call_record(service, caller), 20, "the call's record")
    assert record["did"] == TEST_DID and record["agent_code"] == alice.code

    # A call out through the trunk: challenged, authenticated, the caller ID in P-Asserted-Identity.
    assert service.ami is not None
    await service.ami.action(actions.originate("PJSIP/+12125550142@carrier-r", application="Wait", data="2",
                                               caller_id='"Acme" <+15551000>', timeout_s=20))

    def outbound() -> str | None:
        return next((line for line in carrier.log_lines() if "OUTBOUND" in line), None)

    line = await wait_until(lambda: _async(outbound()), 30, "the outbound call at the carrier")
    assert "OUTBOUND +12125550142 PAI" in line and "<sip:+15551000@" in line.split("PAI", 1)[1].split("FROM")[0]
    assert not any("AUTH-FAILED" in x for x in carrier.log_lines())

    # Only a trunk that exists may be allowed; one in use cannot go, an unused one can.
    unknown = await cli(settings, "tenant", "allow-trunk", "acme", "carrier-nowhere")
    assert unknown.returncode == 1 and "no trunk 'carrier-nowhere'" in unknown.stderr
    assert (await cli(settings, "tenant", "allow-trunk", "acme", "carrier-r")).returncode == 0
    kept = await cli(settings, "trunk", "remove", "carrier-r")
    assert kept.returncode == 1 and "used by tenant acme" in kept.stderr
    assert (await cli(settings, "trunk", "remove", "carrier-sim")).returncode == 0


async def _async(value: Any) -> Any:
    return value


TRANSFER_FLOW = """flow: acme-out
start: out
nodes:
  out: {type: transfer, number: '+12125550150', trunk: carrier-sim}
"""


async def test_a_route_fails_over_from_a_congested_carrier_to_the_next_trunk(make_service, sipp, settings) -> None:
    """The IVR sends the caller to an outside number; the tenant's route tries a carrier that answers
    503 first, then carrier-sim, whose customer answers; the number is rewritten for the carriers."""
    service: Any = await make_service()
    await seed(service.pool, agents=AGENTS[:1])
    async with service.pool.connection() as conn:
        tenant_id = await tenants.tenant_id(conn, "acme")
        assert tenant_id is not None
        await flows.allow_trunk(conn, tenant_id, "carrier-sim")
    flow, _ = await ivr_service.load(service.pool, "acme", TRANSFER_FLOW, prompt_checker(settings.asterisk_root))
    async with service.pool.connection() as conn:
        await tenants.upsert_did(conn, tenant_id, TEST_DID, "acme-support", flow.name)
    assert (await cli(settings, "trunk", "add", "carrier-down", "--host", "127.0.0.4", "--port", "5210",
                      "--qualify", "0")).returncode == 0
    unknown = await cli(settings, "route", "add", "acme", "us", "--match", "+1", "--trunks", "carrier-down,nowhere")
    assert unknown.returncode == 1 and "no trunk nowhere" in unknown.stderr
    added = await cli(settings, "route", "add", "acme", "us", "--match", "+1", "--trunks", "carrier-down,carrier-sim",
                      "--strip", "2")
    assert added.returncode == 0 and "+1 -> carrier-down then carrier-sim" in added.stdout, added.stderr
    listed = json.loads((await cli(settings, "route", "list", "--tenant", "acme", "--json")).stdout)
    assert [(r["name"], r["trunks"], r["strip"]) for r in listed] == [("us", "carrier-down,carrier-sim", 2)]
    in_use = await cli(settings, "trunk", "remove", "carrier-down")
    assert in_use.returncode == 1 and "route acme/us" in in_use.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)

    congested = await sipp.carrier_congested(5210, local_ip="127.0.0.4")
    customer = await sipp.customer(5080, talk_ms=30000, calls=2)  # both transfers; the caller hangs up first
    caller = await sipp.call(TEST_DID, caller="12125554100", port=5214, presses=[], hold_ms=6000)
    await wait_until(lambda: _async([x for x in customer.log_lines() if x.startswith("ANSWERED")]), 30,
                     "the customer behind carrier-sim answered")
    tried = [x for x in congested.log_lines() if x.startswith("CONGESTED")]
    assert len(tried) == 1 and tried[0].split()[1].startswith("sip:2125550150@127.0.0.4"), tried
    assert await caller.wait(60) == 0, caller.errors()

    # Without the route, the flow's own trunk is dialled straight away, with the number as E.164.
    assert (await cli(settings, "route", "remove", "acme", "us")).returncode == 0
    second = await sipp.call(TEST_DID, caller="12125554101", port=5216, presses=[], hold_ms=5000)
    await wait_until(lambda: _async(len([x for x in customer.log_lines() if x.startswith("ANSWERED")]) == 2), 30,
                     "carrier-sim's customer answered the second transfer")
    assert len([x for x in congested.log_lines() if x.startswith("CONGESTED")]) == 1
    assert await second.wait(60) == 0, second.errors()


async def test_the_dialer_moves_an_attempt_to_the_routes_next_trunk_when_a_carrier_is_congested(
        make_service, sipp, settings, tmp_path) -> None:
    alice = AGENTS[0]
    service: Any = await make_service(dialer_interval=0.5)
    await seed(service.pool, agents=(alice,))
    async with service.pool.connection() as conn:
        await flows.allow_trunk(conn, await tenants.tenant_id(conn, "acme"), "carrier-sim")
    _zone, numbers = numbers_where_hour_is(range(9, 20), datetime.now(UTC), 100, 20)
    human = next(n for n in numbers if n.endswith("0"))
    created = await cli(settings, "campaign", "create", "fo", "--tenant", "acme", "--caller-id", '"Acme" <+15551000>',
                        "--agents", alice.code, "--safe-harbor", "please-try-call-later", "--ring-timeout", "15",
                        "--max-attempts", "1", "--wrap-up", "1", "--mode", "progressive")
    assert created.returncode == 0, created.stderr
    path = tmp_path / "fo.csv"
    path.write_text(f"number,name\n{human},Lead 0\n")
    assert (await cli(settings, "leads", "import", str(path), "--campaign", "fo")).returncode == 0
    assert (await cli(settings, "trunk", "add", "carrier-down", "--host", "127.0.0.4", "--port", "5220",
                      "--qualify", "0")).returncode == 0
    assert (await cli(settings, "route", "add", "acme", "all", "--trunks", "carrier-down,carrier-sim")).returncode == 0
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    congested = await sipp.carrier_congested(5220, local_ip="127.0.0.4")
    customers = await sipp.customers(5080, ring_ms=500, talk_ms=3000)
    await sipp.agent_phone(alice.endpoint, alice.secret, 7890)
    session = await sipp.feature_code(alice.endpoint, alice.secret, "*49", 7894, stay_ms=600_000)
    await wait_until(lambda: _free_in(settings, "dialer-fo"), 30, "Alice free in the campaign queue")

    assert (await cli(settings, "campaign", "start", "fo")).returncode == 0
    await wait_until(lambda: _campaign_done(service, "fo"), 90, "the lead dialled")
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT id, outcome, agent_code FROM dial_attempts")
        attempts = await cur.fetchall()
    assert len(attempts) == 1 and attempts[0][1:] == ("connected", alice.code), attempts
    # The call's record is the second leg's (on carrier-sim): one record, outbound, Alice's.
    record = await wait_until(lambda: _outbound_record(service, f"dial-{attempts[0][0]}-1"), 30, "the call's record")
    assert record == ("outbound", alice.code)
    assert [x.split()[1].split("@")[0] for x in congested.log_lines() if x.startswith("CONGESTED")] == [
        f"sip:{human}"]
    assert {"+" + n for n in customers.numbers("INVITE")} == {human}
    await session.stop()


async def _outbound_record(service: Any, linkedid: str) -> tuple[str, str] | None:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT direction, agent_code FROM calls WHERE linkedid = %s AND complete",
                                 (linkedid,))
        row = await cur.fetchone()
    return None if row is None else (row[0], row[1])
