"""Agent states from queue events, member status and reconciliation after a restart."""

from datetime import UTC, datetime, timedelta

from middleware.agents.state import AgentState as S
from middleware.agents.tracking import (
    MemberStatus,
    after_member_status,
    after_queue_event,
    reconcile,
    wrap_up_over,
)

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def member(status: str = "1", paused: bool = False, in_call: bool = False) -> MemberStatus:
    return MemberStatus("acme-support", "1003", status, paused, in_call)


def test_a_queue_call_rings_connects_and_wraps_up() -> None:
    state = S.AVAILABLE
    for event, expected in [("AgentCalled", S.RINGING), ("AgentConnect", S.ON_CALL), ("AgentComplete", S.WRAP_UP)]:
        new = after_queue_event(state, event)
        assert new is expected
        state = new
    assert wrap_up_over(state, NOW - timedelta(seconds=1), NOW)
    assert not wrap_up_over(state, NOW + timedelta(seconds=1), NOW)


def test_unanswered_ring_and_ringall_losers_go_back_to_available() -> None:
    assert after_queue_event(S.RINGING, "AgentRingNoAnswer") is S.AVAILABLE
    assert after_member_status(S.RINGING, "1") is S.AVAILABLE
    assert after_member_status(S.ON_CALL, "1") is None
    assert after_member_status(S.RINGING, "6") is None


def test_events_that_do_not_fit_change_nothing() -> None:
    assert after_queue_event(S.PAUSED, "AgentCalled") is None
    assert after_queue_event(S.AVAILABLE, "QueueCallerJoin") is None
    assert after_queue_event(S.LOGGED_OUT, "AgentComplete") is None


def test_reconcile_follows_what_asterisk_shows() -> None:
    assert reconcile(S.AVAILABLE, [member("2", in_call=True)], None, NOW) is S.ON_CALL
    assert reconcile(S.ON_CALL, [member("1")], None, NOW) is S.AVAILABLE  # the call ended while we were away
    assert reconcile(S.AVAILABLE, [member("6")], None, NOW) is S.RINGING
    assert reconcile(S.WRAP_UP, [member("1")], NOW + timedelta(seconds=3), NOW) is S.WRAP_UP
    assert reconcile(S.WRAP_UP, [member("1")], NOW - timedelta(seconds=3), NOW) is S.AVAILABLE
    assert reconcile(S.PAUSED, [member("1", paused=True)], None, NOW) is S.PAUSED
    assert reconcile(S.AVAILABLE, [member("1", paused=True)], None, NOW) is S.PAUSED
    assert reconcile(S.LOGGED_OUT, [member("2", in_call=True)], None, NOW) is S.LOGGED_OUT


def test_moves_are_worked_out_before_any_round_trip() -> None:
    from middleware.agents.tracking import moves

    assert moves("QueueMemberStatus", "2") == {}  # in use: moves nobody, no database work
    assert moves("QueueMemberStatus", "1") == {S.RINGING: S.AVAILABLE}
    assert moves("QueueCallerJoin") == {}
    assert moves("AgentConnect") == {s: after_queue_event(s, "AgentConnect") for s in S
                                     if after_queue_event(s, "AgentConnect") is not None}
    assert moves("AgentComplete")[S.ON_CALL] is S.WRAP_UP and S.LOGGED_OUT not in moves("AgentComplete")
