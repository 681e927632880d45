import pytest

from middleware.agents.state import AgentEvent as E
from middleware.agents.state import AgentState as S
from middleware.agents.state import InvalidTransition, next_state


def test_a_working_shift() -> None:
    state = S.LOGGED_OUT
    for event, expected in [(E.LOGIN, S.AVAILABLE), (E.RING, S.RINGING), (E.ANSWER, S.ON_CALL),
                            (E.HANGUP, S.WRAP_UP), (E.PAUSE, S.PAUSED), (E.UNPAUSE, S.AVAILABLE),
                            (E.LOGOUT, S.LOGGED_OUT)]:
        state = next_state(state, event)
        assert state is expected


@pytest.mark.parametrize(("state", "event"), [(S.LOGGED_OUT, E.PAUSE), (S.ON_CALL, E.LOGOUT),
                                              (S.AVAILABLE, E.LOGIN), (S.LOGGED_OUT, E.RING)])
def test_invalid_transitions(state: S, event: E) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {event.value} while {state.value}"):
        next_state(state, event)
