"""CDR assembly on event sequences shaped like Asterisk 22's (queue call, ringall, abandon, IVR only)."""

from datetime import UTC, datetime, timedelta

from middleware.cdr.assembly import CdrAssembler
from middleware.pbx_events import AmiEvent, event_from_headers

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
L = "1795375420.4"


def ev(name: str, at_s: float, **headers: str) -> AmiEvent:
    stamp = (T0 + timedelta(seconds=at_s)).timestamp()
    event = event_from_headers({"Event": name, "Timestamp": f"{stamp:.6f}", "Linkedid": L, **headers}, T0)
    assert event is not None
    return event


def caller_start() -> list[AmiEvent]:
    return [
        ev("Newchannel", 0.0, Uniqueid=L, Channel="PJSIP/carrier-sim-00000004", CallerIDNum="12125550101",
           CallerIDName="Customer", Context="from-trunk", Exten="5551000"),
        ev("Newstate", 0.5, Uniqueid=L, ChannelState="6"),
        ev("QueueCallerJoin", 2.0, Uniqueid=L, Queue="acme-sales", Position="1"),
    ]


def agent_leg(uid: str, at: float) -> list[AmiEvent]:
    return [ev("Newchannel", at, Uniqueid=uid, Channel=f"PJSIP/acme-{uid[-4:]}-0000000a", Context="agents",
               Exten="s"),
            ev("AgentCalled", at, Uniqueid=L, DestUniqueid=uid, Queue="acme-sales", MemberName=uid[-4:])]


def feed_all(asm: CdrAssembler, events: list[AmiEvent]) -> list:
    out = []
    for e in events:
        out.extend(asm.feed(e))
    return out


def test_answered_queue_call_is_one_complete_record() -> None:
    events = [
        *caller_start(),
        *agent_leg("1795375421.1001", 2.01),
        ev("AgentConnect", 2.4, Uniqueid=L, DestUniqueid="1795375421.1001", Queue="acme-sales", MemberName="1001",
           DestChannel="PJSIP/acme-1001-0000000a", HoldTime="0"),
        ev("AgentComplete", 5.4, Uniqueid=L, Queue="acme-sales", MemberName="1001", TalkTime="3", Reason="caller"),
        ev("Hangup", 5.41, Uniqueid=L, Cause="16"),
        ev("Hangup", 5.42, Uniqueid="1795375421.1001", Cause="16"),
    ]
    asm = CdrAssembler()
    records = feed_all(asm, events)
    assert len(records) == 1
    r = records[0]
    assert (r.did, r.caller_number, r.queue, r.agent_code, r.disposition) == (
        "5551000", "12125550101", "acme-sales", "1001", "answered")
    assert (r.wait_s, r.talk_s, r.duration_s) == (0.4, 3.0, 5.42)
    assert r.ended_by == "caller" and r.hangup_cause == 16 and r.ring_attempts == 1
    assert [leg["role"] for leg in r.legs] == ["caller", "agent"]
    assert asm.calls == {}


def test_ringall_rings_three_members_but_gives_one_record() -> None:
    events = [*caller_start()]
    for uid in ("1795375421.1001", "1795375421.1002", "1795375421.1003"):
        events += agent_leg(uid, 2.01)
    events += [
        ev("AgentConnect", 3.0, Uniqueid=L, DestUniqueid="1795375421.1002", Queue="acme-sales", MemberName="1002",
           DestChannel="PJSIP/acme-1002-0000000b"),
        ev("Hangup", 3.0, Uniqueid="1795375421.1001", Cause="26"),
        ev("Hangup", 3.0, Uniqueid="1795375421.1003", Cause="26"),
        ev("AgentComplete", 9.0, Uniqueid=L, Queue="acme-sales", MemberName="1002", TalkTime="6", Reason="agent"),
        ev("Hangup", 9.0, Uniqueid="1795375421.1002", Cause="16"),
        ev("Hangup", 9.01, Uniqueid=L, Cause="16"),
    ]
    records = feed_all(CdrAssembler(), events)
    assert len(records) == 1
    assert records[0].agent_code == "1002" and records[0].ring_attempts == 3 and records[0].ended_by == "agent"


def test_abandoned_in_queue() -> None:
    events = [*caller_start(), ev("QueueCallerAbandon", 12.0, Uniqueid=L, Queue="acme-sales", HoldTime="10"),
              ev("Hangup", 12.0, Uniqueid=L, Cause="16")]
    (r,) = feed_all(CdrAssembler(), events)
    assert r.disposition == "abandoned" and r.wait_s == 10.0 and r.talk_s is None and r.agent_code is None


def test_dialplan_fallback_is_recorded() -> None:
    events = [*caller_start(), ev("UserEvent", 0.6, Uniqueid=L, UserEvent="CCFallback", Reason="AGISTATUS=FAILURE"),
              ev("Hangup", 9.0, Uniqueid=L, Cause="16")]
    (r,) = feed_all(CdrAssembler(), events)
    assert r.ivr_fallback is True


def test_hangup_in_ivr() -> None:
    events = [*caller_start()[:2], ev("Hangup", 4.0, Uniqueid=L, Cause="16")]
    (r,) = feed_all(CdrAssembler(), events)
    assert r.disposition == "ivr_hangup" and r.queue is None


def test_linkedid_end_before_the_last_hangup_waits_for_it() -> None:
    asm = CdrAssembler()
    feed_all(asm, caller_start())
    assert asm.feed(ev("CEL", 7.0, EventName="LINKEDID_END", LinkedID=L)) == []
    (r,) = asm.feed(ev("Hangup", 7.01, Uniqueid=L, Cause="16"))
    assert r.duration_s == 7.01 and r.hangup_cause == 16 and r.legs[0]["ended_at"] is not None
    assert asm.calls == {}


def test_linkedid_end_closes_a_call_whose_hangup_never_comes() -> None:
    asm = CdrAssembler()
    feed_all(asm, caller_start())
    asm.feed(ev("CEL", 7.0, EventName="LINKEDID_END", LinkedID=L))
    assert asm.expire(T0 + timedelta(seconds=10)) == []
    (r,) = asm.expire(T0 + timedelta(seconds=12.5))
    assert r.duration_s == 7.0 and asm.calls == {}


def test_linkedid_end_after_the_last_hangup_changes_nothing() -> None:
    asm = CdrAssembler()
    records = feed_all(asm, [*caller_start(), ev("Hangup", 7.0, Uniqueid=L, Cause="16"),
                             ev("CEL", 7.0, EventName="LINKEDID_END", LinkedID=L)])
    assert len(records) == 1 and asm.calls == {}


def test_a_queue_event_after_the_last_hangup_opens_no_second_record() -> None:
    """Seen in CI: app_queue's AgentComplete reached AMI after both channels' Hangup; it opened a new call
    for the closed linkedid, LINKEDID_END closed that one, and its empty "unanswered" record replaced
    the answered one."""
    uid = "1795375421.1001"
    asm = CdrAssembler()
    records = feed_all(asm, [
        *caller_start(), *agent_leg(uid, 2.01),
        ev("AgentConnect", 2.4, Uniqueid=L, DestUniqueid=uid, Queue="acme-sales", MemberName="1001",
           DestChannel="PJSIP/acme-1001-0000000a", HoldTime="0"),
        ev("Hangup", 5.41, Uniqueid=L, Cause="16"),
        ev("Hangup", 5.42, Uniqueid=uid, Cause="16"),
        ev("AgentComplete", 5.43, Uniqueid=L, Queue="acme-sales", MemberName="1001", TalkTime="3", Reason="caller"),
        ev("QueueCallerLeave", 5.43, Uniqueid=L, Queue="acme-sales"),
        ev("CEL", 5.44, EventName="LINKEDID_END", LinkedID=L),
    ])
    assert [(r.disposition, r.agent_code, r.complete) for r in records] == [("answered", "1001", True)]
    assert asm.calls == {}
    assert asm.expire(T0 + timedelta(minutes=10)) == [] and L not in asm.closed  # forgotten in time


def test_events_without_linkedid_or_unknown_are_ignored() -> None:
    asm = CdrAssembler()
    assert asm.feed(ev("PeerStatus", 0.0, Linkedid="")) == []
    assert asm.feed(ev("FullyBooted", 0.0)) == []
    assert asm.calls == {}


def test_blind_transfer_to_another_queue_stays_one_record_with_the_first_agent() -> None:
    first, second = "1795375421.1001", "1795375421.1002"
    events = [
        *caller_start(),
        *agent_leg(first, 2.01),
        ev("AgentConnect", 2.5, Uniqueid=L, DestUniqueid=first, Queue="acme-sales", MemberName="1001",
           DestChannel="PJSIP/acme-1001-0000000a"),
        # Transfer events carry no Linkedid header of their own: the transferee's names the call.
        ev("BlindTransfer", 6.0, Linkedid="", Result="Success", TransfererChannel="PJSIP/acme-1001-0000000a",
           TransfereeLinkedid=L, Extension="702", Context="transfer-acme"),
        ev("AgentComplete", 6.0, Uniqueid=L, Queue="acme-sales", MemberName="1001", TalkTime="3", Reason="transfer"),
        ev("Hangup", 6.1, Uniqueid=first, Cause="16"),
        ev("QueueCallerJoin", 6.2, Uniqueid=L, Queue="acme-tier2", Position="1"),
        *agent_leg(second, 6.3),
        ev("AgentConnect", 7.0, Uniqueid=L, DestUniqueid=second, Queue="acme-tier2", MemberName="1002",
           DestChannel="PJSIP/acme-1002-0000000b"),
        ev("AgentComplete", 10.0, Uniqueid=L, Queue="acme-tier2", MemberName="1002", TalkTime="3", Reason="caller"),
        ev("Hangup", 10.0, Uniqueid=L, Cause="16"),
        ev("Hangup", 10.1, Uniqueid=second, Cause="16"),
    ]
    records = feed_all(CdrAssembler(), events)
    assert len(records) == 1
    r = records[0]
    assert (r.agent_code, r.queue, r.wait_s, r.talk_s) == ("1001", "acme-sales", 0.5, 3.5)
    assert len(r.transfers) == 1
    t = r.transfers[0]
    assert (t["kind"], t["target"], t["answered_by"], t["queue"]) == ("blind", "702", "1002", "acme-tier2")


def test_failed_transfer_and_transfer_of_unknown_call_change_nothing() -> None:
    asm = CdrAssembler()
    feed_all(asm, caller_start())
    feed_all(asm, [ev("BlindTransfer", 3.0, Linkedid="", Result="Fail", TransfereeLinkedid=L, Extension="9"),
                   ev("BlindTransfer", 3.0, Linkedid="", Result="Success", TransfereeLinkedid="other.1",
                      Extension="9")])
    assert asm.calls[L].transfers == [] and set(asm.calls) == {L}


def test_the_whispered_announcement_channel_is_no_call() -> None:
    uid = "1795375499.9"
    asm = CdrAssembler()
    out = feed_all(asm, [
        ev("Newchannel", 1.0, Linkedid=uid, Uniqueid=uid, Channel="Local/1795375420.4@queue-announce-00000001;1",
           CallerIDNum="0"),
        ev("Newchannel", 1.0, Linkedid=uid, Uniqueid="1795375499.10",
           Channel="Local/1795375420.4@queue-announce-00000001;2"),
        ev("Newstate", 1.1, Linkedid=uid, Uniqueid=uid, ChannelState="6"),
        ev("Hangup", 5.0, Linkedid=uid, Uniqueid="1795375499.10", Cause="16"),
        ev("Hangup", 5.0, Linkedid=uid, Uniqueid=uid, Cause="16"),
    ])
    assert out == [] and asm.calls == {} and asm.internal == set()


def test_holds_are_legs_of_their_own() -> None:
    agent = "1795375421.1001"
    events = [
        *caller_start(),
        *agent_leg(agent, 2.01),
        ev("AgentConnect", 2.4, Uniqueid=L, DestUniqueid=agent, Queue="acme-sales", MemberName="1001",
           DestChannel="PJSIP/acme-1001-0000000a", HoldTime="0"),
        # the agent puts the caller on hold twice; the second hold lasts until the caller hangs up
        ev("Hold", 10.0, Uniqueid=L, Channel="PJSIP/carrier-sim-00000004", MusicClass="default"),
        ev("Hold", 10.5, Uniqueid=L, Channel="PJSIP/carrier-sim-00000004"),  # repeated: one hold
        ev("Unhold", 25.0, Uniqueid=L, Channel="PJSIP/carrier-sim-00000004"),
        ev("Hold", 40.0, Uniqueid=L, Channel="PJSIP/carrier-sim-00000004"),
        ev("Hangup", 50.0, Uniqueid=L, Cause="16"),
        ev("Hangup", 50.1, Uniqueid=agent, Cause="16"),
    ]
    records = feed_all(CdrAssembler(), events)
    assert len(records) == 1
    holds = [leg for leg in records[0].legs if leg["role"] == "hold"]
    assert [(h["uniqueid"], h["started_at"][11:19], h["ended_at"][11:19]) for h in holds] == [
        (L, "12:00:10", "12:00:25"), (L, "12:00:40", "12:00:50")]
    assert [leg["role"] for leg in records[0].legs] == ["caller", "agent", "hold", "hold"]


def test_a_registering_trunks_call_takes_its_did_from_the_event_its_context_sends() -> None:
    """The channel is made on the registered user (acme-in); the DID was in To (CCTrunkDid)."""
    events = [
        ev("Newchannel", 0.0, Uniqueid=L, Channel="PJSIP/carrier-r-00000001", CallerIDNum="+12125550199",
           Context="from-trunk-carrier-r", Exten="acme-in"),
        ev("UserEvent", 0.01, Uniqueid=L, UserEvent="CCTrunkDid", Did="5551999"),
        ev("UserEvent", 0.02, Uniqueid="1795375421.77", UserEvent="CCTrunkDid", Did="9999"),  # another leg's
        ev("Newstate", 0.5, Uniqueid=L, ChannelState="6"),
        ev("Hangup", 3.0, Uniqueid=L, Cause="16"),
    ]
    (record,) = feed_all(CdrAssembler(), events)
    assert record.did == "5551999"
    # A number of its own in the request URI: that is the DID.
    to_did = ev("Newchannel", 0.0, Uniqueid=L, Channel="PJSIP/carrier-r-00000002", CallerIDNum="+12125550199",
                Context="from-trunk-carrier-r", Exten="5551000")
    (plain,) = feed_all(CdrAssembler(), [to_did, *events[3:]])
    assert plain.did == "5551000"
