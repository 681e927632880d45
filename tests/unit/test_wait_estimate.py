import math

import pytest

from middleware.routing.wait_estimate import (
    QueueSnapshot,
    announcement,
    asterisk_holdtime,
    callers_ahead,
    erlang_c_wait,
    estimate_wait,
)


def test_a_free_agent_means_no_wait() -> None:
    assert estimate_wait(QueueSnapshot(position=2, free_agents=2, busy_elapsed_s=[30], aht_s=180)) == 0.0


def test_the_wait_grows_with_position_and_shrinks_with_staff() -> None:
    # two agents finish a 180 s call every 90 s between them
    assert estimate_wait(QueueSnapshot(position=1, free_agents=0, busy_elapsed_s=[170, 60], aht_s=180)) == 90.0
    assert estimate_wait(QueueSnapshot(position=3, free_agents=0, busy_elapsed_s=[120, 60], aht_s=180)) == 270.0
    # callers ahead use the free agent first
    assert estimate_wait(QueueSnapshot(position=3, free_agents=1, busy_elapsed_s=[10, 10, 10], aht_s=120)) == 60.0


def test_callers_ahead_whose_agent_rings_are_not_ahead() -> None:
    # Three calls arrive together: the first two ring agents while app_queue still counts them waiting,
    # so the third is "position 3" with one agent free. It waits nothing (it once heard "120 s").
    burst = QueueSnapshot(position=3, free_agents=1, busy_elapsed_s=[0, 0], aht_s=180, ringing_agents=2)
    assert callers_ahead(burst) == 0
    assert estimate_wait(burst) == 0.0
    # Ringing agents beyond the callers ahead (ringall rings several for one caller) discount nobody else.
    assert callers_ahead(QueueSnapshot(2, 0, [0, 0, 0], 180, ringing_agents=3)) == 0
    # One of three callers ahead is being offered: this caller waits for three completions, not four.
    assert estimate_wait(QueueSnapshot(4, 0, [0, 10, 20], 180, ringing_agents=1)) == 3 * 180 / 3


def test_nobody_staffed_is_infinite_and_position_is_checked() -> None:
    assert estimate_wait(QueueSnapshot(1, 0, [], 180)) == math.inf
    with pytest.raises(ValueError):
        estimate_wait(QueueSnapshot(0, 1, [], 180))


def test_reference_estimators() -> None:
    assert asterisk_holdtime(40, 80) == 50
    assert erlang_c_wait(2, 1 / 60, 180) == math.inf  # load 3 > 2 agents
    # 5 agents, 100 calls/h, 2.4 min AHT: load 4; the textbook Erlang C wait is ~ 80 s
    assert 60 < erlang_c_wait(5, 100 / 3600, 144) < 100


def test_announcement() -> None:
    assert announcement(1, 20) == [("file", "queue-youarenext"), ("file", "queue-holdtime"),
                                   ("file", "queue-less-than"), ("number", 1), ("file", "queue-minute")]
    assert announcement(3, 125) == [("file", "queue-thereare"), ("number", 2), ("file", "queue-callswaiting"),
                                    ("file", "queue-holdtime"), ("number", 3), ("file", "queue-minutes")]
    assert announcement(2, math.inf) == [("file", "queue-thereare"), ("number", 1), ("file", "queue-callswaiting")]


def test_accuracy_of_estimates_against_real_waits() -> None:
    from middleware.routing.wait_estimate import accuracy

    empty = accuracy([])
    assert empty.calls == 0 and empty.mean_abs_error_s is None
    a = accuracy([(60.0, 40.0), (30.0, 50.0), (100.0, 200.0), (10.0, 10.0)])
    assert a.calls == 4
    assert a.mean_abs_error_s == 35.0  # (20 + 20 + 100 + 0) / 4
    assert a.bias_s == -25.0  # (20 - 20 - 100 + 0) / 4: we told callers too short a wait
    assert a.within_30s == 0.75
    assert a.within_25pct == 0.75  # 100 vs 200 is off by half


def test_snapshot_counts_only_eligible_members_free_and_busy() -> None:
    from middleware.agents.state import AgentState
    from middleware.routing.service import DEFAULT_AHT_S, snapshot_of
    from middleware.store.queue_load import MemberGroup, QueueLoad

    load = QueueLoad((MemberGroup(AgentState.AVAILABLE, True, 3), MemberGroup(AgentState.AVAILABLE, False, 5),
                      MemberGroup(AgentState.ON_CALL, True, 2), MemberGroup(AgentState.WRAP_UP, True, 1),
                      MemberGroup(AgentState.PAUSED, True, 4), MemberGroup(AgentState.RINGING, True, 2),
                      MemberGroup(AgentState.RINGING, False, 7)), None)
    s = snapshot_of(load, 2)
    assert (s.position, s.free_agents, len(s.busy_elapsed_s), s.ringing_agents, s.aht_s) == (2, 3, 5, 2, DEFAULT_AHT_S)
    assert snapshot_of(QueueLoad((), 42.0), 1).aht_s == 42.0
