"""How long a caller will wait: from the queue's live state and handle-time statistics. Pure.

The caller at position k gets the k-th agent to come free. Free agents are free now; a busy agent is
expected free after what remains of an average handle time (never less than a floor: calls that run
long are not about to end); every agent that takes a call is busy again for one average handle time.
Popping agents from a heap of free-up times k times gives the k-th free-up: the estimate.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_REMAINING_FRACTION = 0.1


@dataclass(frozen=True)
class QueueSnapshot:
    position: int  # 1 = next to be answered
    free_agents: int  # logged in, not paused, not on a call, not in wrap-up
    busy_elapsed_s: Sequence[float]  # for each agent on a call (or wrapping up): seconds since it started
    aht_s: float  # average handle time (talk + wrap-up) of recent calls


def estimate_wait(s: QueueSnapshot) -> float:
    """Expected seconds until this caller is connected; inf when nobody staffs the queue."""
    if s.position < 1:
        raise ValueError("position starts at 1")
    staffed = s.free_agents + len(s.busy_elapsed_s)
    if staffed == 0:
        return math.inf
    if s.position <= s.free_agents:
        return 0.0
    floor = s.aht_s * MIN_REMAINING_FRACTION
    heap = [0.0] * s.free_agents + [max(s.aht_s - e, floor) for e in s.busy_elapsed_s]
    heapq.heapify(heap)
    t = 0.0
    for _ in range(s.position):
        t = heapq.heappop(heap)
        heapq.heappush(heap, t + s.aht_s)
    return t


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


def spoken(seconds: float) -> tuple[int, str]:
    """What to say: whole minutes (at least 1), or 'less than a minute'."""
    if seconds < 60:
        return 0, "less-than-a-minute"
    return math.ceil(seconds / 60), "minutes"
