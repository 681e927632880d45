"""The first call end to end: carrier -> DID -> FastAGI IVR (RFC 2833 digit) -> queue -> agent phone."""

from __future__ import annotations

from middleware.runtime.demo_tenant import AGENTS, DID
from tests.integration.conftest import call_record, wait_until

CAROL = AGENTS[2]  # 1003, member of acme-support only
CALLER = "12125550199"
BUSINESS_HOURS = "2026-11-23T12:00:00-05:00"  # a Monday noon in New York: the flow's schedule is open


async def test_caller_presses_2_and_the_support_agent_answers(agent_on_duty, sipp) -> None:
    service, phone = await agent_on_duty(CAROL, 7200, clock=BUSINESS_HOURS)

    # The greeting ends ~2.3 s after the answer; the menu is listening from then on.
    caller = await sipp.call(DID, digits="2", caller=CALLER, port=8200, dtmf_after_ms=3000, hold_ms=3200)
    assert await caller.wait(60) == 0, caller.errors()

    call = await wait_until(lambda: call_record(service, CALLER), 20, "the call record")
    # What the IVR heard.
    assert call["ivr_digits"] == "2"
    menu_steps = [step for step in call["ivr_path"] if step["node"] == "main_menu"]
    assert menu_steps == [{"node": "main_menu", "input": "2", "outcome": "chose 2"}]
    assert call["ivr_outcome"] == "queue acme-support" and call["reason"] == "support"
    # Who answered, from the phone's own point of view.
    answered = phone.connected_calls()
    assert len(answered) == 1 and answered[0]["caller"] == CALLER
    phone_talk_s = (answered[0]["ended_ms"] - answered[0]["connected_ms"]) / 1000
    # The record.
    assert call["tenant"] == "acme" and call["did"] == DID and call["caller_number"] == CALLER
    assert call["queue"] == "acme-support" and call["agent_code"] == CAROL.code
    assert call["disposition"] == "answered" and call["ended_by"] == "caller"
    assert call["agent_channel"].startswith(f"PJSIP/{CAROL.endpoint}-")
    assert call["started_at"] < call["answered_at"] < call["queue_entered_at"] < call["connected_at"] < call["ended_at"]
    assert 0 <= float(call["wait_s"]) < 3
    assert abs(float(call["talk_s"]) - phone_talk_s) < 1.0
    assert 2.0 < float(call["talk_s"]) < 4.5
    assert float(call["duration_s"]) >= float(call["wait_s"]) + float(call["talk_s"])
    assert {leg["role"] for leg in call["legs"]} == {"caller", "agent"}
    assert call["ivr_fallback"] is False
    assert call["queue_position"] == 1 and float(call["estimated_wait_s"]) == 0.0  # Carol was free


async def test_dialplan_falls_back_to_the_plain_queue_when_the_ivr_is_down(agent_on_duty, sipp) -> None:
    # No FastAGI server: only the AMI side of the middleware runs.
    service, phone = await agent_on_duty(CAROL, 7210, only=frozenset({"ami"}))

    # The caller presses 1 (sales), but with no IVR the DID's fallback queue, acme-support, takes the call.
    caller = await sipp.call(DID, digits="1", caller=CALLER, port=8210, dtmf_after_ms=1000, hold_ms=3000)
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, CALLER), 20, "the call record")
    assert call["queue"] == "acme-support" and call["agent_code"] == CAROL.code
    assert call["disposition"] == "answered" and call["ivr_digits"] == "" and call["ivr_path"] == []
    assert call["ivr_fallback"] is True
    assert len(phone.connected_calls()) == 1
