"""How long a caller will wait: from the queue's live state and handle-time statistics. Pure.

With free agents ahead of them a caller waits nothing. Otherwise the staffed agents finish calls at
about staffed / AHT per second, so the caller at position k (beyond the free agents) waits for
(k - free) of those completions. Callers ahead whose agent is already ringing are still "waiting" in
app_queue's count, but they are no longer ahead of anyone: they are left out. Measured in
bench/wait_estimate.py, this beat both a model of each busy agent's remaining time (the k-th agent
to come free) and Asterisk's running average at every pool size from 5 to 100 agents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSnapshot:
    position: int  # 1 = next to be answered
    free_agents: int  # logged in, not paused, not on a call, not in wrap-up
    busy_elapsed_s: Sequence[float]  # for each agent on a call (or wrapping up): seconds since it started
    aht_s: float  # average handle time (talk + wrap-up) of recent calls
    ringing_agents: int = 0  # agents ringing now: each is being offered one of the callers ahead


def callers_ahead(s: QueueSnapshot) -> int:
    """Callers ahead of this one that no agent is ringing for yet."""
    ahead = s.position - 1
    return ahead - min(s.ringing_agents, ahead)


def estimate_wait(s: QueueSnapshot) -> float:
    """Expected seconds until this caller is connected; inf when nobody staffs the queue."""
    if s.position < 1:
        raise ValueError("position starts at 1")
    staffed = s.free_agents + len(s.busy_elapsed_s)
    if staffed == 0:
        return math.inf
    position = callers_ahead(s) + 1
    if position <= s.free_agents:
        return 0.0
    return (position - s.free_agents) * s.aht_s / staffed


def asterisk_holdtime(previous_s: float, completed_wait_s: float) -> float:
    """app_queue's own running estimate: (3 * old + new) / 4 of completed waits (for comparison)."""
    return (3 * previous_s + completed_wait_s) / 4


def erlang_c_wait(agents: int, arrival_per_s: float, aht_s: float) -> float:
    """The Erlang C mean wait of an M/M/n queue (inf when the load reaches the agents)."""
    load = arrival_per_s * aht_s
    if agents <= load:
        return math.inf
    term, total = 1.0, 1.0
    for k in range(1, agents):
        term *= load / k
        total += term
    top = term * load / agents * agents / (agents - load)
    p_wait = top / (total + top)
    return p_wait * aht_s / (agents - load)


def announcement(position: int, seconds: float) -> list[tuple[str, str | int]]:
    """What a caller joining the queue hears, as (kind, value) steps: "file" prompts and "number"s.

    Position first ("you are next" / "there are N calls ahead"), then the wait in whole minutes, or
    "less than one minute"; nothing about the wait when nobody staffs the queue (no honest number)."""
    steps: list[tuple[str, str | int]] = []
    if position <= 1:
        steps.append(("file", "queue-youarenext"))
    else:
        steps += [("file", "queue-thereare"), ("number", position - 1), ("file", "queue-callswaiting")]
    if math.isinf(seconds):
        return steps
    if seconds < 60:
        steps += [("file", "queue-holdtime"), ("file", "queue-less-than"), ("number", 1), ("file", "queue-minute")]
    else:
        minutes = math.ceil(seconds / 60)
        steps += [("file", "queue-holdtime"), ("number", minutes), ("file", "queue-minutes")]
    return steps


@dataclass(frozen=True)
class Accuracy:
    """How announced estimates compared with the waits callers then had (answered calls only: an
    abandoned caller's real wait is unknown, it was cut short)."""

    calls: int
    mean_abs_error_s: float | None
    bias_s: float | None  # mean of (estimate - actual): > 0 means we tell callers too long a wait
    within_30s: float | None  # share of estimates within 30 s of the actual wait
    within_25pct: float | None  # share within 25 % of the actual wait (or 30 s for short waits)


def accuracy(pairs: Sequence[tuple[float, float]]) -> Accuracy:
    """``pairs`` = (estimated, actual) seconds per call."""
    if not pairs:
        return Accuracy(0, None, None, None, None)
    errors = [est - act for est, act in pairs]
    n = len(pairs)
    close = sum(1 for (est, act) in pairs if abs(est - act) <= max(30.0, 0.25 * act))
    return Accuracy(
        calls=n,
        mean_abs_error_s=round(sum(abs(e) for e in errors) / n, 1),
        bias_s=round(sum(errors) / n, 1),
        within_30s=round(sum(1 for e in errors if abs(e) <= 30) / n, 3),
        within_25pct=round(close / n, 3),
    )
