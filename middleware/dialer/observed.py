"""What the dialer observes, as pacing's inputs, and the controller that turns it into a decision.

Pure: the campaign's agents, its calls in flight, its abandonment counts and its finished attempts in
(as seconds and counts: the service reads them from PostgreSQL, bench/dialer_sim.py from its simulated
world); pacing's dataclasses and a decision out. The live dialer and the simulator run this same code,
so what the benchmark measures is what production does.
"""

from __future__ import annotations

import math
import zoneinfo
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from middleware.dialer import compliance, pacing

BUSY_STATES = ("on_call", "ringing")
LIVE_OUTCOMES = (compliance.CONNECTED, compliance.ABANDONED)
LEARNED_FOR_S = 30.0  # a campaign's statistics are rebuilt from all nodes' attempts this often
RECENT_ATTEMPTS = 2000  # ... from this many of its latest finished attempts
INBOUND_WINDOW_S = 300.0  # the inbound arrival rate that takes blended agents: over this long
MIN_RATE_SPAN_S = 60.0  # ... or over at least this long, just after a start


@dataclass(frozen=True)
class CampaignPacing:
    """The campaign settings pacing uses."""
    mode: pacing.Mode
    abandon_target: float = 0.03
    max_lines: int = 50
    max_ratio: float = 4.0
    wrapup_s: float = 5.0
    amd_false_positive: float = 0.0  # share of the machine verdicts the operator estimates were people


@dataclass(frozen=True)
class AbandonCounts:
    """Live answers, abandoned calls and machine verdicts of the campaign over 30 days and today."""
    live_window: int = 0
    abandoned_window: int = 0
    live_today: int = 0
    abandoned_today: int = 0
    machines_window: int = 0
    machines_today: int = 0


def agents_now(rows: Iterable[tuple[str, float]], mean_talk_s: float, inbound_waiting: int = 0,
               inbound_expected: float = 0.0) -> pacing.AgentsNow:
    """The campaign's agents as pacing sees them, from (state, seconds in that state). Inbound keeps
    priority: the callers waiting in the agents' inbound queues, and those expected to join them before
    a call dialled now could reach an agent (``inbound_expected``, rounded up), will take the first
    agents to come free, so as many ready agents are not ours."""
    ready = 0
    busy: list[float] = []
    for state, elapsed in rows:
        elapsed = max(0.0, elapsed)
        if state == "available":
            ready += 1
        elif state in BUSY_STATES:
            busy.append(elapsed)
        elif state == "wrap_up":
            busy.append(mean_talk_s + elapsed)
    taken = min(ready, inbound_waiting + math.ceil(max(0.0, inbound_expected) - 1e-9))
    return pacing.AgentsNow(ready - taken, tuple(busy) + (0.0,) * taken)


def inbound_expected(rate_per_s: float, learned: pacing.Learned) -> float:
    """Inbound callers expected to join within the time a call dialled now takes to need an agent
    (its ring and screening, learned) and the 2 s it may then wait."""
    return rate_per_s * (learned.horizon() + pacing.GRACE_S)


class InboundArrivals:
    """When callers joined each queue, over the last INBOUND_WINDOW_S: the rate at which the inbound
    queues of blended agents take them (the service feeds it QueueCallerJoin, the simulator its callers)."""

    def __init__(self, started_s: float, window_s: float = INBOUND_WINDOW_S) -> None:
        self._started_s = started_s
        self._window_s = window_s
        self._joins: dict[str, deque[float]] = {}

    def joined(self, queue: str, at_s: float) -> None:
        joins = self._joins.setdefault(queue, deque())
        joins.append(at_s)
        while joins and joins[0] < at_s - self._window_s:
            joins.popleft()

    def rate(self, queues: Iterable[str], now_s: float) -> float:
        """Callers per second joining any of ``queues`` lately."""
        since = now_s - self._window_s
        count = sum(sum(1 for t in self._joins.get(q, ()) if t >= since) for q in queues)
        span = min(self._window_s, max(MIN_RATE_SPAN_S, now_s - self._started_s))
        return count / span


def calls_now(rows: Iterable[tuple[float, bool, bool]]) -> pacing.CallsNow:
    """In-flight attempts as pacing sees them, from (seconds since launch, answered, known to be live)."""
    ringing: list[float] = []
    screening = waiting = 0
    for since_launch, answered, live in rows:
        if not answered:
            ringing.append(max(0.0, since_launch))
        elif not live:
            screening += 1
        else:
            waiting += 1
    return pacing.CallsNow(tuple(ringing), screening, waiting)


def budget_of(settings: CampaignPacing, counts: AbandonCounts) -> pacing.Budget:
    """The abandonment budget: the calls a regulator counts as abandoned are the live answers no agent
    took in time plus the people AMD took for a machine and hung up on (Ofcom counts an estimate of
    them, the FTC each one). Those are estimated from the machine verdicts at the operator's measured
    rate, at the upper end of what chance makes of that rate (plus two standard deviations of a
    Poisson count): on a day AMD errs more often than on average, pacing cannot see it happen."""
    fp = settings.amd_false_positive

    def people_hung_up_on(machines: int) -> int:
        expected = fp * machines
        return round(expected + 2.0 * math.sqrt(expected)) if expected > 0 else 0

    window, today = people_hung_up_on(counts.machines_window), people_hung_up_on(counts.machines_today)
    return pacing.Budget(settings.abandon_target, counts.live_window + window, counts.abandoned_window + window,
                         counts.live_today + today, counts.abandoned_today + today)


def decide(settings: CampaignPacing, learned: pacing.Learned, agents: pacing.AgentsNow, calls: pacing.CallsNow,
           counts: AbandonCounts, trunk_room: int | None = None) -> pacing.Decision:
    """The live dialer's decision for one campaign, this second. ``trunk_room``: the calls its trunk may
    still take (its channel cap less every call on it, in or out; None: no cap)."""
    lines = settings.max_lines
    if trunk_room is not None:
        lines = min(lines, len(calls.ringing_elapsed) + calls.screening + calls.waiting + max(0, trunk_room))
    return pacing.decide(settings.mode, agents, calls, learned, budget_of(settings, counts),
                         pacing.Limits(lines, settings.max_ratio))


def mean_talk_s(learned: pacing.Learned, wrapup_s: float) -> float:
    return max(0.0, learned.handle.mean(learned.prior_handle_s) - wrapup_s)


def learn(learned: pacing.Learned, outcome: str, ring_s: float | None, screen_s: float | None,
          talk_s: float | None, wrapup_s: float, target: float, amd_false_positive: float = 0.0) -> None:
    """Fold one finished attempt into the statistics (``target``: the campaign's abandonment target; a
    machine verdict stands for ``amd_false_positive`` of a person hung up on, as the budget counts it)."""
    if ring_s is not None:
        learned.attempt(live=outcome in LIVE_OUTCOMES, ring_s=float(ring_s),
                        screen_s=None if screen_s is None else float(screen_s))
    _learn_outcome(learned, outcome, pacing.calibration_target(target), amd_false_positive)
    if talk_s is not None:
        learned.handled(float(talk_s) + wrapup_s)


def _learn_outcome(learned: pacing.Learned, outcome: str, calibration: float, amd_false_positive: float) -> None:
    if outcome in LIVE_OUTCOMES:
        learned.outcome(abandoned=outcome == compliance.ABANDONED, target=calibration)
    elif outcome == compliance.MACHINE and amd_false_positive > 0:
        learned.outcome(abandoned=True, target=calibration, weight=amd_false_positive)


def learned_from(rows: Iterable[tuple[Any, ...]], wrapup_s: float, target: float, amd_false_positive: float = 0.0,
                 gain: float | None = None) -> pacing.Learned:
    """The statistics of a campaign's recent attempts, (outcome, ring_s, screen_s, talk_s) rows oldest
    first: the same as folding each one in with learn(), in one pass (the samples sorted once). With a
    ``gain``, the calibration carries on from it instead of being replayed from these attempts."""
    learned = pacing.Learned()
    ring_live: list[float] = []
    ring_other: list[float] = []
    screen: list[float] = []
    handle: list[float] = []
    calibration = pacing.calibration_target(target)
    for outcome, ring_s, screen_s, talk_s in rows:
        live = outcome in LIVE_OUTCOMES
        if ring_s is not None:
            learned.count_attempt(live)
            (ring_live if live else ring_other).append(float(ring_s))
            if screen_s is not None:
                screen.append(float(screen_s))
        if gain is None:
            _learn_outcome(learned, outcome, calibration, amd_false_positive)
        if talk_s is not None:
            handle.append(float(talk_s) + wrapup_s)
    learned.ring_live.load(ring_live)
    learned.ring_other.load(ring_other)
    learned.screen.load(screen)
    learned.handle.load(handle)
    if gain is not None:
        learned.gain = min(pacing.MAX_GAIN, max(pacing.MIN_GAIN, gain))
    return learned


class Learning:
    """A campaign's statistics as the live dialer keeps them: rebuilt from the latest RECENT_ATTEMPTS
    finished attempts (all nodes') every LEARNED_FOR_S, and this node's own attempts folded in as they
    finish in between. The calibration gain is not rebuilt: it integrates every outcome for as long as
    the campaign runs (replayed from a window it would settle wherever that window's abandonment put it,
    above the target in some worlds), carried on from ``gain`` (the last one stored) on a new node.
    Times are seconds on any clock that only goes forward."""

    def __init__(self, wrapup_s: float, target: float, amd_false_positive: float = 0.0,
                 gain: float | None = None) -> None:
        self.wrapup_s = wrapup_s
        self.target = target
        self.amd_false_positive = amd_false_positive
        self.learned: pacing.Learned | None = None
        self.built_at = -math.inf
        self._gain = pacing.INITIAL_GAIN if gain is None else gain

    @property
    def gain(self) -> float:
        return self.learned.gain if self.learned is not None else self._gain

    def due(self, now_s: float) -> bool:
        return self.learned is None or not 0 <= now_s - self.built_at < LEARNED_FOR_S

    def rebuild(self, rows: Iterable[tuple[Any, ...]], now_s: float) -> pacing.Learned:
        self.learned = learned_from(rows, self.wrapup_s, self.target, self.amd_false_positive, gain=self.gain)
        self.built_at = now_s
        return self.learned

    def fold(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None:
        if self.learned is not None:
            learn(self.learned, outcome, ring_s, screen_s, talk_s, self.wrapup_s, self.target,
                  self.amd_false_positive)


def day_start(now: datetime, zone: str) -> datetime:
    """The start of ``now``'s day where the tenant is (its local midnight, an aware instant): a
    campaign's "today" for the daily abandonment rule."""
    return now.astimezone(zoneinfo.ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
