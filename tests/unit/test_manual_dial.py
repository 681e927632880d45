"""An agent's own outside call: the number keyed in, and what the agent's permission allows."""

from __future__ import annotations

import pytest

from middleware.dialing.manual import check_permission, keyed_number
from middleware.dialing.policy import DialingPolicy, NumberRefused, judge

POLICY = DialingPolicy("US", countries=frozenset({"GB"}))


def test_the_dial_prefix_is_dropped_and_e164_kept() -> None:
    assert keyed_number("92125550100") == "2125550100"
    assert keyed_number("+442079460000") == "+442079460000"
    assert judge(keyed_number("92125550100"), POLICY).e164 == "+12125550100"


@pytest.mark.parametrize(("permission", "number", "allowed"), [
    ("international", "+442079460000", True),
    ("national", "+12125550100", True),
    ("national", "+442079460000", False),
    ("none", "+12125550100", False),
])
def test_the_agents_permission_decides_after_the_policy(permission: str, number: str, allowed: bool) -> None:
    destination = judge(number, POLICY)
    if allowed:
        check_permission(permission, destination, "US")
    else:
        with pytest.raises(NumberRefused) as refused:
            check_permission(permission, destination, "US")
        assert refused.value.reason == "permission"
