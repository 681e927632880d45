"""Trunks as data on the real stack: a carrier (SIPp) that demands digest authentication for
REGISTER and INVITE. The center registers with it, takes a call it sends to the registered Contact
(DID in To), and places a call through it with the caller ID in P-Asserted-Identity."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from middleware.agents.state import AgentEvent
from middleware.ami import actions
from middleware.api.metrics import exposition
from middleware.provision.service import provision
from middleware.runtime.demo_tenant import AGENTS
from tests.integration.conftest import TEST_DID, call_record, cli, wait_until

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
