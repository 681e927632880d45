"""Assemble one CallRecord per linkedid from AMI events (Newchannel, Queue*, Agent*, Hangup, CEL).

Pure: events in, finished records out. Time comes from each event's Timestamp header. A call is
finished when its last channel hangs up. CEL's LINKEDID_END can reach AMI before that channel's
Hangup event, so it only marks the call as ending; ``expire`` closes such a call if the Hangup never
comes. A ringall queue rings many members, but the call stays one record: rings are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from middleware.pbx_events import AmiEvent


@dataclass
class Leg:
    uniqueid: str
    channel: str
    role: str  # caller | agent | other
    started_at: datetime
    ended_at: datetime | None = None
    cause: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "uniqueid": self.uniqueid,
            "channel": self.channel,
            "role": self.role,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "cause": self.cause,
        }


@dataclass
class CallInProgress:
    linkedid: str
    started_at: datetime
    caller_number: str = ""
    caller_name: str = ""
    did: str = ""
    answered_at: datetime | None = None
    queue: str = ""
    queue_entered_at: datetime | None = None
    queue_left_at: datetime | None = None
    abandoned: bool = False
    ring_attempts: int = 0
    agent_code: str = ""
    agent_channel: str = ""
    connected_at: datetime | None = None
    completed_at: datetime | None = None
    reported_talk_s: float | None = None
    ended_by: str = ""
    hangup_cause: int | None = None
    legs: dict[str, Leg] = field(default_factory=dict)
    open_legs: set[str] = field(default_factory=set)
    linkedid_ended_at: datetime | None = None  # CEL LINKEDID_END seen (may precede the last Hangup)
    ivr_fallback: bool = False  # the dialplan routed without the IVR (middleware down or failing)
    callback_requested: bool = False  # left the queue pressing 1, to be called back
    transfers: list[dict[str, object]] = field(default_factory=list)
    on_hold: dict[str, str] = field(default_factory=dict)  # channel uniqueid -> key of its open hold leg
    seen_start: bool = False  # the Newchannel of the call's first channel (uniqueid == linkedid) was seen


@dataclass(frozen=True)
class CallRecord:
    linkedid: str
    did: str
    caller_number: str
    caller_name: str
    started_at: datetime
    answered_at: datetime | None
    queue: str | None
    queue_entered_at: datetime | None
    agent_code: str | None
    agent_channel: str | None
    connected_at: datetime | None
    ended_at: datetime
    wait_s: float | None
    talk_s: float | None
    duration_s: float
    ring_attempts: int
    disposition: str
    hangup_cause: int | None
    ended_by: str | None
    legs: tuple[dict[str, object], ...]
    ivr_fallback: bool = False
    transfers: tuple[dict[str, object], ...] = ()
    # False when the record cannot be the whole call: its first channel was never seen (the middleware
    # started mid-call) or its end never came (an Asterisk restart); `cdr reconcile` repairs it.
    complete: bool = True


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round(max(0.0, (later - earlier).total_seconds()), 3)


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def disposition_of(call: CallInProgress) -> str:
    """answered | callback_requested | abandoned | queue_timeout | ivr_hangup | unanswered."""
    if call.connected_at is not None:
        return "answered"
    if call.callback_requested:
        return "callback_requested"
    if call.abandoned:
        return "abandoned"
    if call.queue_entered_at is not None:
        return "queue_timeout"
    if call.answered_at is not None:
        return "ivr_hangup"
    return "unanswered"


def finish(call: CallInProgress, ended_at: datetime, ended: bool = True) -> CallRecord:
    """The record of a call; ``ended`` False when it is closed without Asterisk having ended it."""
    if call.connected_at is not None:
        wait = _seconds(call.connected_at, call.queue_entered_at)
    else:
        wait = _seconds(call.queue_left_at or ended_at, call.queue_entered_at)
    talk = None
    if call.connected_at is not None:
        talk = _seconds(call.completed_at or ended_at, call.connected_at)
        if talk is None and call.reported_talk_s is not None:
            talk = call.reported_talk_s
    return CallRecord(
        linkedid=call.linkedid,
        did=call.did,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        started_at=call.started_at,
        answered_at=call.answered_at,
        queue=call.queue or None,
        queue_entered_at=call.queue_entered_at,
        agent_code=call.agent_code or None,
        agent_channel=call.agent_channel or None,
        connected_at=call.connected_at,
        ended_at=ended_at,
        wait_s=wait,
        talk_s=talk,
        duration_s=_seconds(ended_at, call.started_at) or 0.0,
        ring_attempts=call.ring_attempts,
        disposition=disposition_of(call),
        hangup_cause=call.hangup_cause,
        ended_by=call.ended_by or None,
        legs=tuple(leg.as_json() for leg in sorted(call.legs.values(), key=lambda leg: leg.started_at)),
        ivr_fallback=call.ivr_fallback,
        transfers=tuple(call.transfers),
        complete=ended and call.seen_start,
    )


# -- one function per event: mutate the call in progress --

def _on_newchannel(call: CallInProgress, ev: AmiEvent) -> None:
    if ev.uniqueid in call.legs:
        return
    is_caller = ev.uniqueid == call.linkedid
    call.legs[ev.uniqueid] = Leg(ev.uniqueid, ev.get("channel"), "caller" if is_caller else "other", ev.at)
    call.open_legs.add(ev.uniqueid)
    if is_caller:
        call.seen_start = True
        call.started_at = min(call.started_at, ev.at)
        call.caller_number = ev.get("calleridnum")
        call.caller_name = ev.get("calleridname")
        if ev.get("context") == "from-trunk" or ev.get("context").startswith("from-trunk-"):
            call.did = ev.get("exten")  # (a registering trunk's CCTrunkDid event corrects it)


def _on_newstate(call: CallInProgress, ev: AmiEvent) -> None:
    if ev.uniqueid == call.linkedid and ev.get("channelstate") == "6" and call.answered_at is None:
        call.answered_at = ev.at


def _on_queue_caller_join(call: CallInProgress, ev: AmiEvent) -> None:
    if call.queue_entered_at is not None:
        return  # a later queue (a transfer): the record keeps the first; the transfer notes the second
    call.queue = ev.get("queue")
    call.queue_entered_at = ev.at


def _on_agent_called(call: CallInProgress, ev: AmiEvent) -> None:
    call.ring_attempts += 1
    dest = ev.get("destuniqueid")
    if dest in call.legs:
        call.legs[dest].role = "agent"


def _on_agent_connect(call: CallInProgress, ev: AmiEvent) -> None:
    dest = ev.get("destuniqueid")
    if dest in call.legs:
        call.legs[dest].role = "agent"
    agent = ev.get("membername") or ev.get("interface")
    if call.connected_at is not None:
        # Answered again after a transfer to another queue: the first agent and queue keep the call
        # (ASA, AHT); the transfer learns who took it.
        pending = [t for t in call.transfers if not t.get("answered_by")]
        if pending:
            pending[-1].update(answered_by=agent, queue=ev.get("queue"), wait_s=_int(ev.get("holdtime")))
        return
    call.connected_at = ev.at
    call.agent_code = agent
    call.agent_channel = ev.get("destchannel")
    call.queue = ev.get("queue") or call.queue


def _on_transfer(call: CallInProgress, ev: AmiEvent) -> None:
    """BlindTransfer (## or a SIP REFER) and AttendedTransfer (*2): who passed the caller on, to what."""
    if ev.get("result") != "Success":
        return
    if ev.name == "BlindTransfer":
        by, target = ev.get("transfererchannel"), ev.get("extension")
    else:
        by = ev.get("origtransfererchannel")
        target = ev.get("transfertargetchannel") or ev.get("secondtransfererchannel")
    call.transfers.append({"kind": "blind" if ev.name == "BlindTransfer" else "attended",
                           "at": ev.at.isoformat(), "by": by, "target": target})


def _on_agent_complete(call: CallInProgress, ev: AmiEvent) -> None:
    if call.completed_at is not None:
        pending = [t for t in call.transfers if t.get("answered_by") and "talk_s" not in t]
        if pending:
            pending[-1]["talk_s"] = _int(ev.get("talktime"))
        return
    call.completed_at = ev.at
    talk = _int(ev.get("talktime"))
    call.reported_talk_s = float(talk) if talk is not None else None
    call.ended_by = ev.get("reason")


def _on_queue_caller_abandon(call: CallInProgress, ev: AmiEvent) -> None:
    call.abandoned = True
    call.queue_left_at = ev.at


def _on_queue_caller_leave(call: CallInProgress, ev: AmiEvent) -> None:
    call.queue_left_at = call.queue_left_at or ev.at


def _on_hold(call: CallInProgress, ev: AmiEvent) -> None:
    """A party put on hold (a desk phone's hold key, a SIP re-INVITE sendonly): a leg of role "hold"
    from Hold to Unhold (or to that channel's hang-up), named after the channel held."""
    if ev.uniqueid in call.on_hold:
        return
    key = f"{ev.uniqueid}#hold{sum(1 for leg in call.legs.values() if leg.role == 'hold') + 1}"
    call.legs[key] = Leg(ev.uniqueid, ev.get("channel"), "hold", ev.at)
    call.on_hold[ev.uniqueid] = key


def _on_unhold(call: CallInProgress, ev: AmiEvent) -> None:
    key = call.on_hold.pop(ev.uniqueid, None)
    if key is not None:
        call.legs[key].ended_at = ev.at


def _on_hangup(call: CallInProgress, ev: AmiEvent) -> None:
    _on_unhold(call, ev)  # hung up while held: the hold ends there
    leg = call.legs.get(ev.uniqueid)
    if leg is not None:
        leg.ended_at = ev.at
        leg.cause = _int(ev.get("cause"))
    call.open_legs.discard(ev.uniqueid)
    if ev.uniqueid == call.linkedid:
        call.hangup_cause = _int(ev.get("cause"))


def _on_user_event(call: CallInProgress, ev: AmiEvent) -> None:
    if ev.get("userevent") == "CCFallback":
        call.ivr_fallback = True
    elif ev.get("userevent") == "CCCallbackRequested":
        call.callback_requested = True
    elif ev.get("userevent") == "CCTrunkDid" and ev.uniqueid == call.linkedid:
        # A registering trunk's call arrives at the registered user; its DID was in To.
        call.did = ev.get("did")


HANDLERS: dict[str, Callable[[CallInProgress, AmiEvent], None]] = {
    "UserEvent": _on_user_event,
    "Newchannel": _on_newchannel,
    "Newstate": _on_newstate,
    "QueueCallerJoin": _on_queue_caller_join,
    "AgentCalled": _on_agent_called,
    "AgentConnect": _on_agent_connect,
    "AgentComplete": _on_agent_complete,
    "QueueCallerAbandon": _on_queue_caller_abandon,
    "QueueCallerLeave": _on_queue_caller_leave,
    "Hangup": _on_hangup,
    "Hold": _on_hold,
    "Unhold": _on_unhold,
    "BlindTransfer": _on_transfer,
    "AttendedTransfer": _on_transfer,
}

# Transfer events name the call by the channels' own linkedid headers, not "Linkedid".
TRANSFER_LINKEDID = {"BlindTransfer": "transfereelinkedid", "AttendedTransfer": "origtransfererlinkedid"}


# Channels the middleware makes for its own purposes, never a call: the periodic announcement whispered
# to a waiting caller (Local/<uniqueid>@queue-announce-...).
INTERNAL_CHANNEL_MARKS = ("@queue-announce-",)


def is_internal(channel: str) -> bool:
    return channel.startswith("Local/") and any(mark in channel for mark in INTERNAL_CHANNEL_MARKS)


class CdrAssembler:
    """Holds the calls in progress; ``feed`` returns the records an event completes."""

    CLOSED_KEPT_S = 60.0  # how long a closed linkedid's late events are recognised (and dropped)

    def __init__(self) -> None:
        self.calls: dict[str, CallInProgress] = {}
        self.internal: set[str] = set()  # linkedids of internal channels (no record)
        # Closed calls, oldest first: app_queue's AgentComplete or QueueCallerLeave can reach AMI after
        # the last Hangup, and must not open a second, empty call of the same linkedid.
        self.closed: dict[str, datetime] = {}

    def feed(self, ev: AmiEvent) -> list[CallRecord]:
        if self.closed and ev.linkedid in self.closed:  # (CEL's LinkedID header too: keys are lower-cased)
            return []
        if ev.name == "CEL":
            if ev.get("eventname") == "LINKEDID_END":
                call = self.calls.get(ev.get("linkedid"))
                if call is not None:
                    call.linkedid_ended_at = ev.at
                    if not call.open_legs:
                        return self._close(call.linkedid, ev.at)
            return []
        handler = HANDLERS.get(ev.name)
        linkedid = ev.get(TRANSFER_LINKEDID[ev.name]) if ev.name in TRANSFER_LINKEDID else ev.linkedid
        if handler is None or not linkedid:
            return []
        if linkedid in self.internal:
            if ev.name == "Hangup" and ev.uniqueid == linkedid:
                self.internal.discard(linkedid)
            return []
        call = self.calls.get(linkedid)
        if call is None:
            if ev.name == "Hangup" or ev.name in TRANSFER_LINKEDID:
                return []
            if ev.name == "Newchannel" and is_internal(ev.get("channel")):
                self.internal.add(linkedid)
                return []  # the end of a call we never saw begin (or already closed)
            call = self.calls[linkedid] = CallInProgress(linkedid=linkedid, started_at=ev.at)
        handler(call, ev)
        if ev.name == "Hangup" and not call.open_legs:
            return self._close(linkedid, ev.at)
        return []

    def expire(self, now: datetime, grace_s: float = 5.0, max_age_s: float | None = None) -> list[CallRecord]:
        """Close calls Asterisk said ended (LINKEDID_END) more than grace_s ago whose last Hangup never
        came, and calls older than ``max_age_s`` whose end will never come (Asterisk restarted under
        them): those are written with what is known, marked incomplete."""
        ended = [c for c in self.calls.values()
                 if c.linkedid_ended_at is not None and (now - c.linkedid_ended_at).total_seconds() > grace_s]
        out = [r for c in ended for r in self._close(c.linkedid, c.linkedid_ended_at or now)]
        if max_age_s is not None:
            lost = [c for c in self.calls.values() if (now - c.started_at).total_seconds() > max_age_s]
            out += [r for c in lost for r in self._close(c.linkedid, now, ended=False)]
        self._forget_closed(now)
        return out

    def _forget_closed(self, now: datetime) -> None:
        for linkedid, at in list(self.closed.items()):  # oldest first: stop at the first one still kept
            if (now - at).total_seconds() <= self.CLOSED_KEPT_S:
                break
            del self.closed[linkedid]

    def _close(self, linkedid: str, at: datetime, ended: bool = True) -> list[CallRecord]:
        call = self.calls.pop(linkedid, None)
        if call is None:
            return []
        self.closed[linkedid] = at
        return [finish(call, at, ended)]
