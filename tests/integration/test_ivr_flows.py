"""IVR flows on real Asterisk with SIPp callers pressing RFC 2833 digits, down to the agent's screen pop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from middleware.ivr.facts import screen_pop
from middleware.runtime.demo_tenant import AGENTS, DID
from middleware.store import calls
from tests.integration.conftest import call_record, wait_until

CAROL = AGENTS[2]
FLOW = (Path(__file__).parent / "flows" / "test-ivr.yaml").read_text()
MONDAY_NOON = "2026-11-23T12:00:00-05:00"
SUNDAY_NOON = "2026-11-22T12:00:00-05:00"
KNOWN_CALLER = "12125550101"  # Dana Dawson's phone in the demo customers
EVAN_ACCOUNT = "79927398713"


@pytest.fixture
def ivr(agent_on_duty):  # type: ignore[no-untyped-def]
    """The test flow live on the demo DID, Carol logged in on a registered SIPp phone."""

    async def start(clock: str = MONDAY_NOON) -> tuple[Any, Any]:
        return await agent_on_duty(CAROL, 7300, flow_text=FLOW, clock=clock)

    return start


def nodes(call: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s["node"], s["input"], s["outcome"]) for s in call["ivr_path"]]


async def test_three_level_menu(ivr, sipp) -> None:
    service, phone = await ivr()
    caller = await sipp.call(DID, caller="12125550301", port=8300, hold_ms=3000,
                             presses=[(1500, "1"), (1200, "3"), (1200, "4")])
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, "12125550301"), 20, "the call record")
    assert nodes(call)[-5:] == [("level1", "1", "chose 1"), ("level2", "3", "chose 3"), ("level3", "4", "chose 4"),
                                ("deep", "", "set"), ("support_queue", "", "queue acme-support")]
    assert (call["reason"], call["skills"], call["priority"]) == ("deep", ["expert"], 7)
    assert call["ivr_digits"] == "134" and call["agent_code"] == CAROL.code and call["disposition"] == "answered"
    (invite,) = phone.invites()
    assert invite["X-CC-Reason"] == "deep" and invite["X-CC-Linkedid"] == call["linkedid"]


async def test_account_number_finds_the_customer_and_pops_on_the_agent_leg(ivr, sipp) -> None:
    service, phone = await ivr()
    events = service.events.subscribe()
    caller = await sipp.call(DID, caller="12125550302", port=8310, hold_ms=3000,
                             presses=[(1500, "2"), (1000, EVAN_ACCOUNT + "#")])
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, "12125550302"), 20, "the call record")
    assert ("account", EVAN_ACCOUNT, "account accepted") in nodes(call)
    assert call["customer_name"] == "Evan Ellis" and call["account"] == EVAN_ACCOUNT and call["reason"] == "billing"
    # On the agent's leg: the INVITE to Carol's phone carried the screen pop.
    (invite,) = phone.invites()
    assert invite["X-CC-Customer"] == "Evan Ellis" and invite["X-CC-Account"] == EVAN_ACCOUNT
    assert invite["X-CC-Reason"] == "billing" and invite["X-CC-Language"] == "en"
    # On the event stream: the screen pop for the agent who connected.
    pop = await asyncio.wait_for(events.get(), 5)
    while pop["kind"] != "screen_pop":  # call_arrived, call_queued, agent states come first
        pop = await asyncio.wait_for(events.get(), 5)
    assert pop["kind"] == "screen_pop" and pop["agent"] == CAROL.code and pop["linkedid"] == call["linkedid"]
    assert pop["customer"]["name"] == "Evan Ellis" and pop["account"] == EVAN_ACCOUNT and pop["skills"] == ["billing"]
    # Built from what the IVR stored, without reading it back: the same pop as from the call's row.
    async with service.pool.connection() as conn:
        row = await calls.get_call(conn, call["linkedid"])
    expected = json.loads(json.dumps(screen_pop(row, agent=pop["agent"], queue=pop["queue"]), default=str))
    assert {k: v for k, v in pop.items() if k not in ("kind", "at", "origin")} == expected


async def test_known_caller_id_and_an_invalid_digit_then_a_valid_one(ivr, sipp) -> None:
    service, phone = await ivr()
    caller = await sipp.call(DID, caller=KNOWN_CALLER, port=8320, hold_ms=3000, presses=[(1500, "9"), (1500, "5")])
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, KNOWN_CALLER), 20, "the call record")
    assert nodes(call)[1:4] == [("identify", "", "found customer 1"), ("level1", "9", "invalid"),
                                ("level1", "5", "chose 5")]
    assert call["customer_name"] == "Dana Dawson" and call["reason"] == "quick"
    assert phone.invites()[0]["X-CC-Customer"] == "Dana Dawson"


async def test_a_caller_who_presses_nothing_still_reaches_an_agent(ivr, sipp) -> None:
    service, _phone = await ivr()
    caller = await sipp.call(DID, caller="12125550303", port=8330, hold_ms=17000, presses=[])
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, "12125550303"), 20, "the call record")
    assert [n for n in nodes(call) if n[0] == "level1"] == [("level1", "timeout", "no input")] * 3
    assert call["reason"] == "no-choice" and call["agent_code"] == CAROL.code and call["disposition"] == "answered"


async def test_after_hours_the_caller_is_told_goodbye(ivr, sipp) -> None:
    service, phone = await ivr(clock=SUNDAY_NOON)
    caller = await sipp.call(DID, caller="12125550304", port=8340, hold_ms=8000, presses=[(1500, "1")])
    await caller.wait(60)  # Asterisk hangs up first: the caller's BYE meets a closed dialog
    call = await wait_until(lambda: call_record(service, "12125550304"), 20, "the call record")
    assert nodes(call) == [("hours", "", "closed"), ("after_hours", "", "hangup")]
    assert call["ivr_outcome"] == "hangup" and call["queue"] is None and call["disposition"] == "ivr_hangup"
    assert phone.invites() == []


async def test_a_caller_who_picks_spanish_hears_spanish_down_to_the_queue_announcement(agent_on_duty, sipp,
                                                                                       settings) -> None:
    """The demo flow in two languages: 9 at the main menu switches the channel to Spanish; the menu comes
    again in Spanish, and so does everything after it, the queue's position announcement included."""
    from middleware.agents.state import AgentEvent

    service, _phone = await agent_on_duty(CAROL, 7320, clock=MONDAY_NOON)  # the shipped acme-main flow
    await service.agents.apply(CAROL.code, AgentEvent.PAUSE, "coaching")  # nobody free: the caller is told
    full_log = settings.asterisk_root / "var" / "log" / "asterisk" / "full.log"
    since = (settings, full_log.stat().st_size)  # channel names repeat after a restart: this test's lines
    caller = await sipp.call(DID, caller="12125550399", port=8390, hold_ms=9000,
                             presses=[(3500, "9"), (3500, "2")])
    await wait_until(lambda: _played(since, "queue-youarenext"), 30,
                     "the position announcement")
    await service.agents.apply(CAROL.code, AgentEvent.UNPAUSE)
    assert await caller.wait(60) == 0, caller.errors()
    call = await wait_until(lambda: call_record(service, "12125550399"), 20, "the call record")
    assert call["language"] == "es" and call["queue"] == "acme-support" and call["agent_code"] == CAROL.code
    played = await _played(since, None)
    menus = [lang for name, lang in played if name == "dir-pls-enter"]
    assert menus[:2] == ["en", "es"], played  # the main menu, then again in Spanish
    after = played[played.index(("dir-pls-enter", "es")):]
    assert ("queue-youarenext", "es") in after and all(lang == "es" for _, lang in after), played


async def _played(since: tuple[Any, int], wanted: str | None) -> Any:
    """(prompt, language) of everything Asterisk played to this test's Spanish caller, from the part of
    its full log written since the test began: the carrier-side channel that heard Spanish."""
    settings, start = since
    with open(settings.asterisk_root / "var" / "log" / "asterisk" / "full.log", "rb") as f:
        f.seek(start)
        log = f.read().decode(errors="replace")
    lines = [line for line in log.splitlines() if "Playing '" in line and "<PJSIP/carrier-sim-" in line]
    spanish = [line.split("<", 1)[1].split(">", 1)[0] for line in lines if "(language 'es')" in line]
    if not spanish:
        return [] if wanted is None else False
    played = [(line.split("Playing '", 1)[1].split("'", 1)[0].rsplit(".", 1)[0],
               line.rsplit("(language '", 1)[1].split("'", 1)[0]) for line in lines if f"<{spanish[-1]}>" in line]
    return played if wanted is None else any(name == wanted for name, _ in played)
