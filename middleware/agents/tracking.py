"""What Asterisk's queue events and member status mean for an agent's state. Pure.

AgentCalled rings the agent, AgentRingNoAnswer or an idle device (ringall: another agent answered)
ends the ringing, AgentConnect puts them on the call, AgentComplete starts wrap-up, and the clock
ends it. After a restart, ``reconcile`` rebuilds the state from QueueStatus so that no agent stays
in a state Asterisk does not show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from middleware.agents.state import AgentEvent, AgentState, InvalidTransition, next_state

QUEUE_EVENTS: dict[str, AgentEvent] = {
    "AgentCalled": AgentEvent.RING,
    "AgentRingNoAnswer": AgentEvent.RING_TIMEOUT,
    "AgentConnect": AgentEvent.ANSWER,
    "AgentComplete": AgentEvent.HANGUP,
}
# Asterisk device states (QueueMemberStatus/QueueMember "Status").
DEVICE_NOT_IN_USE = "1"
DEVICE_BUSY = frozenset({"2", "3", "8"})  # in use, busy, on hold
DEVICE_RINGING = frozenset({"6", "7"})


@dataclass(frozen=True)
class MemberStatus:
    """One QueueMember line of QueueStatus (or a QueueMemberStatus event)."""

    queue: str
    member_name: str
    status: str
    paused: bool
    in_call: bool


def after_queue_event(current: AgentState, event_name: str) -> AgentState | None:
    """The agent's next state for an Agent* queue event, or None if it changes nothing."""
    event = QUEUE_EVENTS.get(event_name)
    if event is None:
        return None
    try:
        new = next_state(current, event)
    except InvalidTransition:
        return None
    return None if new is current else new


def after_member_status(current: AgentState, status: str) -> AgentState | None:
    """A device that went idle ends a ring the agent did not answer (ringall, caller gone)."""
    if current is AgentState.RINGING and status == DEVICE_NOT_IN_USE:
        return AgentState.AVAILABLE
    return None


def moves(event_name: str, status: str = "") -> dict[AgentState, AgentState]:
    """Every (current -> next) an Agent*/QueueMemberStatus event makes; empty when it moves nobody
    (most QueueMemberStatus events), so the event costs no database round trip."""
    if event_name == "QueueMemberStatus":
        new = after_member_status(AgentState.RINGING, status)
        return {} if new is None else {AgentState.RINGING: new}
    if event_name not in QUEUE_EVENTS:
        return {}
    return {state: new for state in AgentState if (new := after_queue_event(state, event_name)) is not None}


def wrap_up_over(current: AgentState, wrap_up_until: datetime | None, now: datetime) -> bool:
    return current is AgentState.WRAP_UP and (wrap_up_until is None or wrap_up_until <= now)


def reconcile(stored: AgentState, members: Iterable[MemberStatus], wrap_up_until: datetime | None,
              now: datetime) -> AgentState:
    """The state an agent is really in, from what Asterisk shows of their queue memberships."""
    if stored is AgentState.LOGGED_OUT:
        return AgentState.LOGGED_OUT
    members = list(members)
    if any(m.in_call or m.status in DEVICE_BUSY for m in members):
        return AgentState.ON_CALL
    if any(m.status in DEVICE_RINGING for m in members):
        return AgentState.RINGING
    if stored is AgentState.WRAP_UP and wrap_up_until is not None and wrap_up_until > now:
        return AgentState.WRAP_UP
    if stored is AgentState.PAUSED or (members and all(m.paused for m in members)):
        return AgentState.PAUSED
    return AgentState.AVAILABLE
