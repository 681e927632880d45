"""Trunks as data: what a trunk may be, and the PJSIP objects and dialplan it becomes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from middleware.ami.queries import contacts_of, registrations_of
from middleware.api.metrics import exposition
from middleware.pbx_events import AmiEvent, event_from_headers
from middleware.store.database import DatabaseUnavailable
from middleware.trunks.render import inbound_context, render_trunk, render_trunk_contexts, render_trunks
from middleware.trunks.service import TrunkMonitor
from middleware.trunks.spec import InvalidTrunk, Trunk, TrunkState, check, room, state, trunk_of_channel, with_room


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """PJSIP config text -> section name -> its sections' settings (a name may have several types)."""
    out: dict[str, list[dict[str, str]]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            name, _, template = line[1:].partition("]")
            current = {"template": template.strip("()")}
            out.setdefault(name, []).append(current)
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return out


def test_a_trunk_is_normalised_and_defaults_to_its_host_as_network() -> None:
    t = check(Trunk("carrier-a", host="192.0.2.10", match=(), codecs=("ALAW", "ulaw", "alaw")))
    assert t.match == ("192.0.2.10",) and t.codecs == ("alaw", "ulaw")
    t = check(Trunk("carrier-b", host="SIP.Example.NET", match=("198.51.100.7/24", "2001:db8::1/32")))
    assert t.host == "sip.example.net" and t.match == ("198.51.100.0/24", "2001:db8::/32")


@pytest.mark.parametrize(("trunk", "reason"), [
    (Trunk("Carrier"), "name"),
    (Trunk("c"), "needs the carrier's host"),
    (Trunk("c", host="bad host!"), "host"),
    (Trunk("c", host="192.0.2.1", port=70000), "port"),
    (Trunk("c", match=("192.0.2.300/24",)), "not a network"),
    (Trunk("c", host="192.0.2.1", username="u"), "both a username and a password"),
    (Trunk("c", host="192.0.2.1", username="u", password="p;x"), "password"),
    (Trunk("c", host="192.0.2.1", username="u@x", password="p"), "username"),
    (Trunk("c", match=("192.0.2.0/24",), register=True, username="u", password="p"), "registering trunk needs"),
    (Trunk("c", host="192.0.2.1", register=True, username="_u", password="p"), "contact user"),
    (Trunk("c", host="192.0.2.1", contact_user="x"), "only for a registering"),
    (Trunk("c", host="192.0.2.1", codecs=("alaw", "amr")), "amr"),
    (Trunk("c", host="192.0.2.1", codecs=()), "none given"),
    (Trunk("c", host="192.0.2.1", dtmf_mode="sip"), "dtmf"),
    (Trunk("c", host="192.0.2.1", caller_id="header"), "caller id"),
    (Trunk("c", host="192.0.2.1", max_channels=0), "max channels"),
    (Trunk("c", host="192.0.2.1", qualify_s=-1), "qualify"),
])
def test_a_trunk_the_center_cannot_use_is_refused_with_the_reason(trunk: Trunk, reason: str) -> None:
    with pytest.raises(InvalidTrunk, match=reason):
        check(trunk)


def test_an_address_trunk_is_an_endpoint_aor_and_identify_with_no_auth() -> None:
    text = render_trunk(check(Trunk("carrier-a", host="192.0.2.10", port=5070, match=("192.0.2.0/28",),
                                    codecs=("ulaw",), caller_id="rpid", qualify_s=30)))
    s = sections(text)
    endpoint, aor, identify = s["carrier-a"]
    assert endpoint["template"] == "trunk-endpoint" and endpoint["context"] == "from-trunk"
    assert endpoint["allow"] == "ulaw" and endpoint["send_rpid"] == "yes" and endpoint["send_pai"] == "no"
    assert "outbound_auth" not in endpoint
    assert aor == {"template": "trunk-aor", "contact": "sip:192.0.2.10:5070", "qualify_frequency": "30"}
    assert identify == {"template": "trunk-identify", "endpoint": "carrier-a", "match": "192.0.2.0/28"}


def test_a_registering_trunk_authenticates_registers_and_has_its_own_inbound_context() -> None:
    t = check(Trunk("carrier-r", host="sip.example.net", username="acct42", password="s3cret!", register=True,
                    contact_user="4420790000"))
    s = sections(render_trunks([t]))
    endpoint, aor, auth, registration = s["carrier-r"]
    assert endpoint["outbound_auth"] == "carrier-r"
    assert endpoint["context"] == inbound_context(t) == "from-trunk-carrier-r"
    assert endpoint["from_domain"] == "sip.example.net" and endpoint["send_pai"] == "yes"
    assert aor["contact"] == "sip:sip.example.net:5060"
    assert auth == {"template": "", "type": "auth", "auth_type": "userpass", "username": "acct42",
                    "password": "s3cret!"}
    assert registration["type"] == "registration" and registration["server_uri"] == "sip:sip.example.net:5060"
    assert registration["client_uri"] == "sip:acct42@sip.example.net:5060"
    assert registration["contact_user"] == "4420790000" and registration["line"] == "yes"
    assert registration["endpoint"] == "carrier-r" and registration["outbound_auth"] == "carrier-r"
    dialplan = render_trunk_contexts([t, check(Trunk("plain", host="192.0.2.1"))])
    assert "[from-trunk-carrier-r]" in dialplan and "exten => 4420790000,1," in dialplan
    assert "include => from-trunk" in dialplan and "plain" not in dialplan


def test_an_ipv6_carrier_is_bracketed_in_its_uris() -> None:
    t = check(Trunk("v6", host="2001:db8::5", username="u", password="p", register=True))
    text = render_trunk(t)
    assert "contact = sip:[2001:db8::5]:5060" in text and "client_uri = sip:u@[2001:db8::5]:5060" in text


def test_no_trunks_add_nothing_to_the_file() -> None:
    assert render_trunks([]) == "" and render_trunk_contexts([]) == ""


def test_state_reads_asterisks_contacts_and_registrations() -> None:
    reply = [{"response": "Success", "eventlist": "start"},  # PJSIPShowEndpoint, as Asterisk 22 answers
             {"event": "AorDetail", "objectname": "carrier-a", "contacts": "carrier-a/sip:192.0.2.10:5060"},
             {"event": "ContactStatusDetail", "aor": "carrier-a", "status": "Reachable", "roundtripusec": "1840"},
             {"event": "ContactStatusDetail", "aor": "carrier-r", "status": "Unreachable", "roundtripusec": "0"},
             {"event": "EndpointDetailComplete", "eventlist": "Complete"}]
    contacts = {c.aor: (c.status, c.rtt_ms) for c in contacts_of(reply)}
    assert contacts == {"carrier-a": ("Reachable", 1.84), "carrier-r": ("Unreachable", None)}
    registrations = registrations_of([{"event": "OutboundRegistrationDetail", "objectname": "carrier-r",
                                       "status": "Rejected"}])
    a = check(Trunk("carrier-a", host="192.0.2.10"))
    r = check(Trunk("carrier-r", host="192.0.2.11", username="u", password="p", register=True))
    assert state(a, contacts, registrations) == state(a, contacts, {}) == TrunkState("reachable", 1.84, None)
    assert state(r, contacts, registrations) == TrunkState("unreachable", None, "rejected")
    never = check(Trunk("quiet", host="192.0.2.12", username="u", password="p", register=True, qualify_s=0))
    assert state(never, contacts, {}) == TrunkState("unknown", None, "unregistered")


def _event(name: str, **headers: str) -> AmiEvent:
    event = event_from_headers({"Event": name, **headers}, datetime(2026, 12, 4, tzinfo=UTC))
    assert event is not None
    return event


async def test_the_monitor_follows_qualify_and_registration_events_into_prometheus_text() -> None:
    monitor = TrunkMonitor(None, None)  # type: ignore[arg-type]  # events only: no refresh here
    plain = check(Trunk("carrier-a", host="192.0.2.10"))
    registering = check(Trunk("carrier-r", host="192.0.2.11", port=5070, username="acct42", password="p",
                              register=True))
    monitor.trunks = [plain, registering]
    await monitor.on_event(_event("ContactStatus", AOR="carrier-a", ContactStatus="Reachable",
                                  RoundtripUsec="2500", URI="sip:192.0.2.10:5060"))
    await monitor.on_event(_event("ContactStatus", AOR="acme-1001", ContactStatus="Reachable", RoundtripUsec="9"))
    await monitor.on_event(_event("Registry", ChannelType="pjsip", Domain="sip:192.0.2.11:5070",
                                  Username="sip:acct42@192.0.2.11:5070", Status="Registered"))
    assert monitor.states() == {"carrier-a": TrunkState("reachable", 2.5, None),
                                "carrier-r": TrunkState("unknown", None, "registered")}
    await monitor.on_event(_event("Registry", ChannelType="pjsip", Domain="sip:192.0.2.11:5070",
                                  Username="sip:acct42@192.0.2.11:5070", Status="Rejected", Cause="403"))
    await monitor.on_event(_event("ContactStatus", AOR="carrier-a", ContactStatus="Unreachable", RoundtripUsec="0"))
    families = {f.name: f for f in text_string_to_metric_families(exposition(monitor.samples()))}
    values = {(f.name, s.labels["trunk"]): s.value for f in families.values() for s in f.samples}
    assert values[("callcenter_trunk_reachable", "carrier-a")] == 0.0
    assert math.isnan(values[("callcenter_trunk_reachable", "carrier-r")])
    assert values[("callcenter_trunk_registered", "carrier-r")] == 0.0
    assert ("callcenter_trunk_registered", "carrier-a") not in values  # it does not register
    assert ("callcenter_trunk_rtt_seconds", "carrier-a") not in values  # no answer: no round trip
    assert families["callcenter_trunk_reachable"].type == "gauge"


def test_channels_on_a_trunk_are_counted_against_its_cap() -> None:
    names = frozenset({"carrier-a", "carrier-b-2"})
    assert trunk_of_channel("PJSIP/carrier-a-0000001f", names) == "carrier-a"
    assert trunk_of_channel("PJSIP/carrier-b-2-00000020", names) == "carrier-b-2"
    assert trunk_of_channel("PJSIP/acme-1001-00000021", names) is None
    assert trunk_of_channel("Local/1001@agents-00000001;1", names) is None
    capped = check(Trunk("carrier-a", host="192.0.2.10", max_channels=2))
    assert (room(capped, 0), room(capped, 2), room(capped, 5)) == (2, 0, 0)
    assert room(check(Trunk("carrier-b-2", host="192.0.2.11")), 500) is None
    full = {"carrier-a": 0, "carrier-b": 3, "carrier-c": None}
    assert with_room({"carrier-a", "carrier-b"}, full.get) == "carrier-b"
    assert with_room(["carrier-a"], full.get) is None
    assert with_room({"carrier-c", "carrier-a"}, full.get) == "carrier-c"


async def test_the_monitor_knows_the_calls_on_each_trunk_in_and_out() -> None:
    monitor = TrunkMonitor(None, None)  # type: ignore[arg-type]
    monitor.trunks = [check(Trunk("carrier-a", host="192.0.2.10", max_channels=2))]
    monitor._names = frozenset({"carrier-a"})
    for uid, channel in (("1.1", "PJSIP/carrier-a-00000001"), ("1.2", "PJSIP/acme-1001-00000002"),
                         ("1.3", "PJSIP/carrier-a-00000003")):
        await monitor.on_event(_event("Newchannel", Uniqueid=uid, Channel=channel, Linkedid=uid))
    assert (monitor.in_use("carrier-a"), monitor.room("carrier-a"), monitor.room("unknown")) == (2, 0, None)
    await monitor.on_event(_event("Hangup", Uniqueid="1.1", Channel="PJSIP/carrier-a-00000001", Linkedid="1.1"))
    await monitor.on_event(_event("Hangup", Uniqueid="1.2", Channel="PJSIP/acme-1001-00000002", Linkedid="1.2"))
    assert (monitor.in_use("carrier-a"), monitor.room("carrier-a")) == (1, 1)
    values = {s.name: s.value for s in monitor.samples() if s.labels.get("trunk") == "carrier-a"}
    assert values["callcenter_trunk_channels"] == 1


async def test_a_refresh_asterisk_or_postgresql_cannot_answer_leaves_what_is_known() -> None:
    class DownPool:
        def connection(self) -> Any:
            raise DatabaseUnavailable("connection refused")

    monitor = TrunkMonitor(DownPool(), None)  # type: ignore[arg-type]
    monitor.trunks = [check(Trunk("carrier-a", host="192.0.2.10"))]
    await monitor.refresh_or_log()  # no exception: the supervised task that calls it must not die
    assert [t.name for t in monitor.trunks] == ["carrier-a"]
