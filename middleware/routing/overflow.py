"""Overflow: when a queue's expected wait crosses its rule, another team joins it; when the wait falls
back below the (lower) leave threshold, that team leaves. Two thresholds, so the team does not
flap in and out around one number. Pure."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class OverflowAction(enum.StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    STAY = "stay"


@dataclass(frozen=True)
class OverflowRule:
    team: str
    join_wait_s: int  # the overflow team joins when the next caller would wait this long or more
    leave_wait_s: int  # ... and leaves once the expected wait is back at or below this

    def __post_init__(self) -> None:
        if self.leave_wait_s >= self.join_wait_s:
            raise ValueError("the leave threshold must be below the join threshold")


def decide(rule: OverflowRule, active: bool, expected_wait_s: float, callers_waiting: int) -> OverflowAction:
    if not active and expected_wait_s >= rule.join_wait_s:
        return OverflowAction.JOIN
    if active and callers_waiting == 0 and (expected_wait_s <= rule.leave_wait_s or math.isinf(expected_wait_s)):
        return OverflowAction.LEAVE
    return OverflowAction.STAY
