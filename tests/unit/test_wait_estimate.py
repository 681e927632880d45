import math

import pytest

from middleware.routing.wait_estimate import (
    QueueSnapshot,
    asterisk_holdtime,
    erlang_c_wait,
    estimate_wait,
    spoken,
)


def test_a_free_agent_means_no_wait() -> None:
    assert estimate_wait(QueueSnapshot(position=2, free_agents=2, busy_elapsed_s=[30], aht_s=180)) == 0.0


def test_next_caller_waits_for_the_first_busy_agent_to_finish() -> None:
    s = QueueSnapshot(position=1, free_agents=0, busy_elapsed_s=[170, 60], aht_s=180)
    assert estimate_wait(s) == 18.0  # the 170 s call is not "about to end": the floor is 10% of AHT


def test_later_positions_wait_for_later_agents_and_second_rounds() -> None:
    s = QueueSnapshot(position=3, free_agents=0, busy_elapsed_s=[120, 60], aht_s=180)
    # agents free at 60 and 120; the third caller takes the first agent's second round: 60 + 180
    assert estimate_wait(s) == 240.0


def test_nobody_staffed_is_infinite_and_position_is_checked() -> None:
    assert estimate_wait(QueueSnapshot(1, 0, [], 180)) == math.inf
    with pytest.raises(ValueError):
        estimate_wait(QueueSnapshot(0, 1, [], 180))


def test_reference_estimators() -> None:
    assert asterisk_holdtime(40, 80) == 50
    assert erlang_c_wait(2, 1 / 60, 180) == math.inf  # load 3 > 2 agents
    # 5 agents, 100 calls/h, 2.4 min AHT: load 4; the textbook Erlang C wait is ~ 80 s
    assert 60 < erlang_c_wait(5, 100 / 3600, 144) < 100


def test_spoken_wait() -> None:
    assert spoken(20) == (0, "less-than-a-minute")
    assert spoken(61) == (2, "minutes")
