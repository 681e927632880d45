"""Emergency calls: each country's numbers, the trunks tried, the dialplan every phone gets."""

from __future__ import annotations

from datetime import UTC, datetime

from middleware.dialing.emergency import emergency_numbers, emergency_trunks
from middleware.dialing.service import EmergencyAlerts
from middleware.directory import EmergencyPlan, PhoneRow
from middleware.event_stream import EventStream
from middleware.pbx_events import event_from_headers
from middleware.provision.render import render_pjsip, render_tenant_phones


def test_each_country_has_its_own_emergency_numbers_and_112() -> None:
    assert emergency_numbers("US") == ("112", "911")
    assert emergency_numbers("GB") == ("112", "999")
    assert emergency_numbers("FR") == ("15", "17", "18", "112")
    assert "000" in emergency_numbers("AU") and "10111" in emergency_numbers("ZA")
    assert emergency_numbers("ZZ") == ("112",)  # no metadata: GSM's number still works


def test_emergency_trunks_are_the_tenants_then_every_other_one() -> None:
    assert emergency_trunks(["b", "a"], {"c", "a"}, ["d", "a", "c", "b"]) == ("b", "a", "c", "d")
    assert emergency_trunks([], set(), ["x"]) == ("x",)  # a tenant with no trunk of its own


def test_every_phone_of_a_tenant_dials_its_emergency_numbers_before_anything_else() -> None:
    phones = [PhoneRow("acme-1001", "pw-pw-pw-pw", "", "alaw", "acme", "1001", "+12125550911"),
              PhoneRow("beta-2001", "pw-pw-pw-pw", "", "alaw", "beta", None)]
    plans = {"acme": EmergencyPlan(("112", "911"), ("carrier-a", "carrier-b"), "+12125550000")}
    text = render_tenant_phones(phones, plans)
    acme = text.split("[agents-acme]\n", 1)[1].split("\n\n", 1)[0]
    assert acme.index("exten => 911,1,Set(CC_EMERGENCY_NUMBER=${EXTEN})") < acme.index("include => agents")
    emergency = text.split("[emergency-acme]\n", 1)[1].split("\n\n", 1)[0]
    assert "${CC_EMERGENCY_CID}:+12125550000" in emergency and "UserEvent(CCEmergency" in emergency
    assert ("Gosub(trunk-out,s,1(PJSIP/${CC_EMERGENCY_NUMBER}@carrier-a^PJSIP/${CC_EMERGENCY_NUMBER}@carrier-b"
            in emergency)
    assert "AGI" not in emergency  # works with the middleware down
    assert "[emergency-beta]" not in text and "exten => 911" not in text.split("[agents-beta]", 1)[1]
    pjsip = render_pjsip(phones)
    assert "set_var = CC_EMERGENCY_CID=+12125550911" in pjsip and pjsip.count("CC_EMERGENCY_CID") == 1


async def test_an_emergency_call_raises_an_alert_for_the_tenants_supervisors() -> None:
    events = EventStream(None)
    seen = events.subscribe()
    alerts = EmergencyAlerts(events)
    event = event_from_headers({"Event": "UserEvent", "UserEvent": "CCEmergency", "Tenant": "acme",
                                "Phone": "acme-1001", "Number": "911", "CallerID": "+12125550911",
                                "Linkedid": "1.5", "Uniqueid": "1.5"}, datetime(2026, 12, 4, tzinfo=UTC))
    assert event is not None
    await alerts.on_event(event)
    got = seen.get_nowait()
    assert (got["kind"], got["tenant"], got["number"], got["caller_id"]) == ("emergency_call", "acme", "911",
                                                                             "+12125550911")
    assert alerts.calls == 1
