"""A campaign's live figures (``campaign status``, the API, the wallboard): dial rate, agents by state,
today's and the 30 days' live answers and abandonment, occupancy today, leads by status. Pure: the
counts come from PostgreSQL, the arithmetic is here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from middleware.reports import kpis


@dataclass(frozen=True)
class CampaignCounts:
    code: str
    mode: str
    status: str
    abandon_target: float
    dial_rate_per_min: int
    agent_states: Sequence[str]
    live_30d: int
    abandoned_30d: int
    live_today: int
    abandoned_today: int
    outcomes_today: dict[str, int]
    leads: dict[str, int]


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def occupancy(spans: Sequence[kpis.StateSpan]) -> float | None:
    """Time on calls over time logged in."""
    on_call = sum(s.seconds for s in spans if s.state == "on_call")
    logged_in = sum(s.seconds for s in spans if s.state in kpis.LOGGED_IN)
    return round(on_call / logged_in, 4) if logged_in else None


def campaign_figures(c: CampaignCounts, history: list[tuple[Any, ...]], now: datetime) -> dict[str, Any]:
    """The figures, with occupancy from the campaign agents' state ``history`` since midnight."""
    by_state: dict[str, int] = {}
    for state in c.agent_states:
        by_state[state] = by_state.get(state, 0) + 1
    return {
        "campaign": c.code, "mode": c.mode, "status": c.status,
        "dial_rate_per_min": c.dial_rate_per_min,
        "agents": by_state,
        "today": {"outcomes": c.outcomes_today, "live_answers": c.live_today,
                  "abandoned": c.abandoned_today, "abandon_rate": rate(c.abandoned_today, c.live_today)},
        "last_30_days": {"live_answers": c.live_30d, "abandoned": c.abandoned_30d,
                         "abandon_rate": rate(c.abandoned_30d, c.live_30d)},
        "abandon_target": c.abandon_target,
        "occupancy_today": occupancy(kpis.spans_from_history(history, now)),
        "leads": c.leads,
    }
