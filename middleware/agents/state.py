"""The agent state machine: a transition table and one function, ``next_state``."""

from __future__ import annotations

import enum

from middleware.errors import Invalid


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentEvent(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    RING = "ring"
    RING_TIMEOUT = "ring_timeout"
    ANSWER = "answer"
    HANGUP = "hangup"
    WRAP_UP_DONE = "wrap_up_done"


class InvalidTransition(Invalid):
    """The event makes no sense in the agent's current state."""

    def __init__(self, state: AgentState, event: AgentEvent) -> None:
        super().__init__(f"cannot {event.value} while {state.value}")
        self.state = state
        self.event = event


S, E = AgentState, AgentEvent
TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (S.LOGGED_OUT, E.LOGIN): S.AVAILABLE,
    (S.AVAILABLE, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
    (S.RINGING, E.LOGOUT): S.LOGGED_OUT,
    (S.AVAILABLE, E.PAUSE): S.PAUSED,
    (S.WRAP_UP, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.PAUSE): S.PAUSED,  # a new reason
    (S.PAUSED, E.UNPAUSE): S.AVAILABLE,
    (S.AVAILABLE, E.RING): S.RINGING,
    (S.RINGING, E.RING_TIMEOUT): S.AVAILABLE,
    (S.RINGING, E.ANSWER): S.ON_CALL,
    (S.AVAILABLE, E.ANSWER): S.ON_CALL,  # persistent sessions bridge without ringing
    (S.ON_CALL, E.HANGUP): S.WRAP_UP,
    (S.WRAP_UP, E.WRAP_UP_DONE): S.AVAILABLE,
    (S.RINGING, E.PAUSE): S.PAUSED,
}


def next_state(state: AgentState, event: AgentEvent) -> AgentState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None
