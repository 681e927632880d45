"""What the dialer observes, as pacing's inputs: the campaign's agents, its calls in flight and what
its finished attempts taught (pure: rows in, pacing's dataclasses out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from middleware.dialer import compliance, pacing

BUSY_STATES = ("on_call", "ringing")


def agents_now(rows: list[tuple[str, str, datetime]], now: datetime, mean_talk_s: float,
               inbound_waiting: int = 0) -> pacing.AgentsNow:
    """The campaign's agents as pacing sees them. Callers waiting in the agents' inbound queues will
    take the first agents to come free (inbound keeps priority), so as many ready agents are not ours."""
    ready = 0
    busy: list[float] = []
    for _code, state, since in rows:
        elapsed = max(0.0, (now - since).total_seconds())
        if state == "available":
            ready += 1
        elif state in BUSY_STATES:
            busy.append(elapsed)
        elif state == "wrap_up":
            busy.append(mean_talk_s + elapsed)
    taken = min(ready, inbound_waiting)
    return pacing.AgentsNow(ready - taken, tuple(busy) + (0.0,) * taken)


def calls_now(rows: list[tuple[Any, ...]], now: datetime) -> pacing.CallsNow:
    """In-flight attempts (launched, answered, live) as pacing sees them."""
    ringing: list[float] = []
    screening = waiting = 0
    for launched, answered, live in rows:
        if answered is None:
            ringing.append(max(0.0, (now - launched).total_seconds()))
        elif live is None:
            screening += 1
        else:
            waiting += 1
    return pacing.CallsNow(tuple(ringing), screening, waiting)


def learn(learned: pacing.Learned, outcome: str, ring_s: float | None, screen_s: float | None,
          talk_s: float | None, wrapup_s: float) -> None:
    """Fold one finished attempt into the statistics (the one place they are updated)."""
    live = outcome in (compliance.CONNECTED, compliance.ABANDONED)
    if ring_s is not None:
        learned.attempt(live=live, ring_s=float(ring_s), screen_s=None if screen_s is None else float(screen_s))
    if live:
        learned.outcome(abandoned=outcome == compliance.ABANDONED)
    if talk_s is not None:
        learned.handled(float(talk_s) + wrapup_s)


def learned_from(rows: list[tuple[Any, ...]], wrapup_s: float) -> pacing.Learned:
    """The statistics of a campaign's recent attempts: (outcome, ring_s, screen_s, talk_s) rows."""
    learned = pacing.Learned()
    for outcome, ring_s, screen_s, talk_s in rows:
        learn(learned, outcome, ring_s, screen_s, talk_s, wrapup_s)
    return learned
