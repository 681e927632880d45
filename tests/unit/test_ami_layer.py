"""The typed AMI layer: QueueStatus and QueueSummary replies parsed once, Originate built with its
variables checked, membership made idempotent."""

from __future__ import annotations

import pytest

from middleware.ami import actions, members, queries
from middleware.ami.client import AmiActionFailed

# A QueueStatus reply as the client returns it (lower-cased headers), recorded from Asterisk 22.
QUEUE_STATUS = [
    {"response": "Success", "eventlist": "start", "message": "Queue status will follow"},
    {"event": "QueueParams", "queue": "acme-sales", "max": "0", "strategy": "fewestcalls", "calls": "2"},
    {"event": "QueueMember", "queue": "acme-sales", "name": "1002", "location": "PJSIP/agent-1002",
     "status": "2", "paused": "0", "incall": "1"},
    {"event": "QueueMember", "queue": "acme-sales", "name": "1003", "location": "PJSIP/agent-1003",
     "status": "1", "paused": "1", "incall": "0"},
    {"event": "QueueEntry", "queue": "acme-sales", "position": "1", "channel": "PJSIP/carrier-sim-00000004",
     "uniqueid": "1795385026.9", "wait": "42"},
    {"event": "QueueEntry", "queue": "acme-sales", "position": "2", "channel": "PJSIP/carrier-sim-00000006",
     "uniqueid": "1795385030.12", "wait": "7"},
    {"event": "QueueParams", "queue": "acme-support", "calls": "0"},
    {"event": "QueueStatusComplete", "eventlist": "Complete", "listitems": "6"},
]


def test_queue_status_is_parsed_into_entries_members_and_every_queue() -> None:
    status = queries.queue_status_of(QUEUE_STATUS)
    assert status.queues == ("acme-sales", "acme-support")
    assert [(e.position, e.uniqueid, e.wait_s) for e in status.waiting("acme-sales")] == [
        (1, "1795385026.9", 42.0), (2, "1795385030.12", 7.0)]
    assert status.waiting("acme-support") == ()
    assert [(m.name, m.paused, m.in_call) for m in status.members] == [("1002", False, True), ("1003", True, False)]


def test_garbled_numbers_in_a_reply_do_not_raise() -> None:
    status = queries.queue_status_of([{"event": "QueueEntry", "queue": "q", "position": "x", "wait": ""}])
    assert status.entries[0].position == 1 and status.entries[0].wait_s == 0.0
    assert queries.waiting_per_queue_of([{"event": "QueueSummary", "queue": "q", "callers": "?"},
                                         {"event": "QueueSummary", "queue": "r", "callers": "3"}]) == {"q": 0, "r": 3}


def test_originate_carries_checked_variables() -> None:
    action = actions.originate("PJSIP/+12125550100@carrier-sim", context="dialer", timeout_s=30,
                               caller_id="Acme <5551000>", channel_id="dial-7",
                               variables={"CC_ATTEMPT": 7, "__CC_TENANT": "acme"})
    assert action == {"Action": "Originate", "Channel": "PJSIP/+12125550100@carrier-sim", "Async": "true",
                      "ChannelId": "dial-7", "Context": "dialer", "Exten": "s", "Priority": "1",
                      "Timeout": "30000", "CallerID": "Acme <5551000>",
                      "Variable": "CC_ATTEMPT=7,__CC_TENANT=acme"}


@pytest.mark.parametrize("variables", [{"CC_NAME": "Ann, the boss"}, {"CC_NAME": "Ann\r\nVariable: X=1"},
                                       {"CC NAME": "x"}, {"X=Y": "1"}, {"": "1"}])
def test_originate_refuses_variables_that_would_set_others(variables: dict[str, str]) -> None:
    with pytest.raises(actions.InvalidVariable):
        actions.originate("Local/1@callback-queue/n", context="callback-out", variables=variables)


def test_originate_goes_to_a_context_or_an_application() -> None:
    with pytest.raises(actions.InvalidVariable):
        actions.originate("Local/1@x", context="c", application="ChanSpy")
    assert actions.whisper("1.2", "PJSIP/a-1")["Application"] == "ChanSpy"


class Ami:
    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.sent: list[str] = []

    async def action(self, fields: dict[str, str], **kw: object) -> list[dict[str, str]]:
        self.sent.append(fields["Action"])
        error = self.errors.pop(0) if self.errors else ""
        if error:
            raise AmiActionFailed(f"{fields['Action']}: {error}")
        return [{"response": "Success"}]


async def test_membership_already_there_or_already_gone_is_the_wanted_state() -> None:
    ami = Ami("Unable to add interface: Already there")
    assert await members.ensure_member(ami, "q", "PJSIP/a", "1001", penalty=2, paused=True) is False  # type: ignore[arg-type]
    assert ami.sent == ["QueueAdd", "QueuePenalty", "QueuePause"]  # refreshed to what is wanted
    ami = Ami("Unable to add interface: Already there")
    assert await members.ensure_member(ami, "q", "PJSIP/a", "1001", refresh=False) is False  # type: ignore[arg-type]
    assert ami.sent == ["QueueAdd"]
    for text in ("Unable to remove interface: Not there", "Unable to remove interface from queue: No such queue"):
        assert await members.ensure_removed(Ami(text), "q", "PJSIP/a") is False  # type: ignore[arg-type]
    with pytest.raises(AmiActionFailed):
        await members.ensure_member(Ami("Out of memory"), "q", "PJSIP/a", "1001")  # type: ignore[arg-type]
