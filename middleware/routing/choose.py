"""Routing decisions the middleware makes itself. Pure; bench/routing.py times them at 1,000 agents.

``best_agent``: which free agent takes a call the middleware connects itself (the outbound dialer's
answered customer): the most proficient in the queue's skill, then the one idle longest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    code: str
    endpoint: str
    proficiency: int  # in the queue's skill; 0 for a queue without one
    idle_since: datetime


def best_agent(candidates: Iterable[Candidate], exclude: frozenset[str] = frozenset()) -> Candidate | None:
    best: Candidate | None = None
    for c in candidates:
        if c.code in exclude:
            continue
        if best is None or (c.proficiency, best.idle_since) > (best.proficiency, c.idle_since):
            best = c
    return best


def assign(calls: int, candidates: list[Candidate]) -> list[Candidate]:
    """The agents for the next ``calls`` waiting calls, best first, each agent at most once."""
    ranked = sorted(candidates, key=lambda c: (-c.proficiency, c.idle_since))
    return ranked[:calls]
