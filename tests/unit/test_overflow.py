import math

import pytest

from middleware.routing.overflow import OverflowAction as A
from middleware.routing.overflow import OverflowRule, decide

RULE = OverflowRule("backup", join_wait_s=30, leave_wait_s=5)


def test_joins_when_the_wait_crosses_the_rule_and_not_before() -> None:
    assert decide(RULE, active=False, expected_wait_s=29.9, callers_waiting=2) is A.STAY
    assert decide(RULE, active=False, expected_wait_s=30, callers_waiting=2) is A.JOIN


def test_leaves_only_when_load_has_subsided() -> None:
    assert decide(RULE, active=True, expected_wait_s=20, callers_waiting=1) is A.STAY  # hysteresis
    assert decide(RULE, active=True, expected_wait_s=4, callers_waiting=1) is A.STAY  # someone still waits
    assert decide(RULE, active=True, expected_wait_s=4, callers_waiting=0) is A.LEAVE
    assert decide(RULE, active=True, expected_wait_s=math.inf, callers_waiting=0) is A.LEAVE


def test_thresholds_must_leave_room() -> None:
    with pytest.raises(ValueError):
        OverflowRule("backup", join_wait_s=10, leave_wait_s=10)
