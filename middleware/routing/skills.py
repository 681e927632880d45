"""Skills-based routing on app_queue's own machinery.

A queue may need one skill. Each member's penalty in it is 6 - proficiency (a 5 is penalty 1, a 1 is
penalty 5), so app_queue offers a call to the best available proficiency first. The queue's widening
steps become an app_queue penalty rule: at first only the best proficiency may take the call, and
each step lets a less proficient agent in once the caller has waited that long. Penalties start at 1
because app_queue reads a maximum penalty of 0 as "no limit". Agents without the skill are not
members of such a queue at all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from middleware.errors import Invalid

BEST = 5
WORST = 1
_STEP = re.compile(r"^\s*(\d+)\s*s?\s*:\s*([1-5])\s*$")


class InvalidSteps(Invalid):
    """Widening steps that cannot be applied."""


@dataclass(frozen=True)
class WidenStep:
    after_s: int  # seconds the caller has waited
    min_proficiency: int  # the least proficient agent allowed from then on


def penalty_for(proficiency: int) -> int:
    if not WORST <= proficiency <= BEST:
        raise ValueError(f"proficiency {proficiency} is not 1-5")
    return BEST + 1 - proficiency


def member_penalty(skill: str | None, skills: Mapping[str, int], default_penalty: int = 0) -> int | None:
    """The penalty an agent gets in a queue needing ``skill``; None: not a member (lacks the skill)."""
    if skill is None:
        return default_penalty
    if skill not in skills:
        return None
    return penalty_for(skills[skill])


def parse_steps(text: str) -> tuple[WidenStep, ...]:
    """``"0:5,15:4,30:3,60:1"`` -> steps; seconds strictly increasing, proficiency not increasing."""
    if not text.strip():
        return ()
    steps = []
    for part in text.split(","):
        m = _STEP.match(part)
        if m is None:
            raise InvalidSteps(f"{part.strip()!r} is not SECONDS:PROFICIENCY (proficiency 1-5)")
        steps.append(WidenStep(int(m.group(1)), int(m.group(2))))
    return check_steps(steps)


def check_steps(steps: Sequence[WidenStep]) -> tuple[WidenStep, ...]:
    for earlier, later in itertools.pairwise(steps):
        if later.after_s <= earlier.after_s:
            raise InvalidSteps("widening steps must come later and later")
        if later.min_proficiency > earlier.min_proficiency:
            raise InvalidSteps("a widening step cannot narrow the pool again")
    return tuple(steps)


def initial_max_penalty(steps: Sequence[WidenStep]) -> int | None:
    """QUEUE_MAX_PENALTY to set before Queue(): app_queue rings once before it applies any rule."""
    rule = penalty_rule(steps)
    return rule[0][1] if rule else None


def penalty_rule(steps: Sequence[WidenStep]) -> list[tuple[int, int]]:
    """(seconds, max penalty) lines for queuerules.conf; a rule always starts at 0 seconds."""
    lines = [(s.after_s, penalty_for(s.min_proficiency)) for s in steps]
    if lines and lines[0][0] != 0:
        lines.insert(0, (0, penalty_for(BEST)))
    return lines
