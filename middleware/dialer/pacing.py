"""How many customers to dial now: the pacing core shared by the live dialer and bench/dialer_sim.py.

Pure: a snapshot of the campaign's agents and calls in flight, the statistics learned so far and the
abandonment budget in; a number of calls out. Preview and progressive are modes of the same core
(one call per agent who is free and has none coming); predictive dials ahead on the agents expected
to come free while the calls ring, as far as the abandonment budget allows.

The model, per decision: X = live answers that will need an agent (humans already waiting, plus each
ringing call's chance of still becoming a live answer given how long it has rung, plus the new calls);
Y = agents free by then (the ready ones, plus each busy agent's chance of finishing within the time a
new call takes to ring and be screened, from the learned handle-time distribution). Expected
abandoned = E[max(0, X - Y)] under a normal approximation; the largest number of new calls is taken
whose expected abandonment, over the expected live answers, stays within the rate the budget allows.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

Mode = Literal["preview", "progressive", "predictive"]


def mode_of(text: str) -> Mode:
    """A campaign's stored mode, as pacing knows it (ValueError for anything else)."""
    for mode in MODES:
        if text == mode:
            return mode
    raise ValueError(f"unknown dialing mode {text!r}")
MODES: tuple[Mode, ...] = ("preview", "progressive", "predictive")


@dataclass(frozen=True)
class AgentsNow:
    ready: int                          # idle, waiting for a campaign call
    busy_elapsed: tuple[float, ...] = ()  # seconds into the current call + wrap-up of each busy agent


@dataclass(frozen=True)
class CallsNow:
    ringing_elapsed: tuple[float, ...] = ()  # seconds each unanswered call has rung
    screening: int = 0                        # answered, AMD still deciding
    waiting: int = 0                          # live answers waiting for an agent right now


@dataclass(frozen=True)
class Budget:
    """Live answers and abandoned calls of the campaign in the rolling 30 days and today."""
    target: float = 0.03
    answered_window: int = 0
    abandoned_window: int = 0
    answered_today: int = 0
    abandoned_today: int = 0


@dataclass(frozen=True)
class Limits:
    max_lines: int = 50      # calls in flight at most
    max_ratio: float = 4.0   # calls in flight per logged-in agent at most


# The model counts answers against free agents at a few instants only and sees only part of the
# abandonment that happens, more or less of it by team size and answer rate (bench/dialer_sim.py): its
# marginal threshold is scaled by a gain that each live answer's fate calibrates online.
INITIAL_GAIN = 0.4
MIN_GAIN, MAX_GAIN = 0.005, 20.0
MARGIN = 0.85  # pacing aims at this share of the campaign's abandonment target
# How far one live answer's fate moves the gain. At 0.003 an abandoned call cut the gain by 11%; at 100
# agents that is every half minute, and the gain's noise cost 3 points of occupancy (bench/dialer_sim.py:
# 80.9% -> 84.0% flat world, 7 days, 3 seeds, with the longer horizons below; 20 and 5 agents unchanged).
CALIBRATION_STEP = 0.001


def calibration_target(target: float) -> float:
    """The share of live answers the gain's calibration lets be abandoned, for a campaign's target."""
    return target * MARGIN


class Samples:
    """The last ``size`` observations, kept sorted for quantile look-ups."""

    def __init__(self, size: int = 500) -> None:
        self._order: deque[float] = deque()
        self._sorted: list[float] = []
        self._size = size
        self.total = 0.0

    def add(self, value: float) -> None:
        value = max(0.0, float(value))
        self._order.append(value)
        bisect.insort(self._sorted, value)
        self.total += value
        if len(self._order) > self._size:
            old = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
            self.total -= old

    def load(self, values: list[float]) -> None:
        """Start over from these observations, oldest first (as ``add`` of each, sorted once)."""
        kept = [max(0.0, float(v)) for v in values[-self._size:]]
        self._order = deque(kept)
        self._sorted = sorted(kept)
        self.total = sum(kept)

    def __len__(self) -> int:
        return len(self._sorted)

    def mean(self, default: float) -> float:
        return self.total / len(self._sorted) if self._sorted else default

    def survival(self, t: float) -> float:
        """Share of the observations greater than ``t``."""
        n = len(self._sorted)
        return (n - bisect.bisect_right(self._sorted, t)) / n if n else 1.0

    def greater(self, t: float) -> int:
        return len(self._sorted) - bisect.bisect_right(self._sorted, t)


class Learned:
    """Per-campaign statistics, learned online from finished attempts and finished calls.

    ``live``: live (human) answers over attempts; ``ring_live`` / ``ring_other``: how long calls rang
    before a live answer / before ending any other way (ring-out, busy, machine); ``screen``: answer to
    the AMD verdict; ``handle``: talk + wrap-up of a connected call. Old attempts fade (``memory``)."""

    def __init__(self, *, memory: int = 2000, prior_handle_s: float = 120.0, prior_ring_s: float = 12.0) -> None:
        self.live = 0.0
        self.attempts = 0.0
        self._decay = 1.0 - 1.0 / memory
        self.ring_live = Samples(400)
        self.ring_other = Samples(400)
        self.screen = Samples(200)
        self.handle = Samples(400)
        self.prior_handle_s = prior_handle_s
        self.prior_ring_s = prior_ring_s
        self.gain = INITIAL_GAIN

    def outcome(self, abandoned: bool, target: float, step: float = CALIBRATION_STEP, weight: float = 1.0) -> None:
        """A live answer reached an agent or was abandoned: the calibration of the model's marginal
        threshold moves so that, in the long run, the share abandoned settles at ``target`` (every
        answer put through raises it a little, every abandoned one lowers it a lot). ``weight``: the
        share of a person this outcome stands for (an estimated AMD false positive)."""
        self.gain *= math.exp(weight * step * (target - (1.0 if abandoned else 0.0)) / target)
        self.gain = min(MAX_GAIN, max(MIN_GAIN, self.gain))

    def count_attempt(self, live: bool) -> None:
        self.live = self.live * self._decay + (1.0 if live else 0.0)
        self.attempts = self.attempts * self._decay + 1.0

    def attempt(self, *, live: bool, ring_s: float, screen_s: float | None = None) -> None:
        self.count_attempt(live)
        (self.ring_live if live else self.ring_other).add(ring_s)
        if screen_s is not None:
            self.screen.add(screen_s)

    def handled(self, seconds: float) -> None:
        self.handle.add(seconds)

    def live_rate(self) -> float:
        """A cautious (high) estimate of the live-answer rate: over-estimating it dials fewer calls.
        Beta(1, 1) prior, mean plus one standard deviation; 1.0 while nothing is known."""
        a, b = self.live + 1.0, self.attempts - self.live + 1.0
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
        return min(1.0, mean + sd)

    def live_given_ringing(self, p: float, elapsed: float) -> float:
        """Chance a call that has rung ``elapsed`` s without an answer still becomes a live answer."""
        if elapsed <= 0 or (not self.ring_live and not self.ring_other):
            return p
        s_live = self.ring_live.survival(elapsed) if self.ring_live else 1.0
        s_other = self.ring_other.survival(elapsed) if self.ring_other else 1.0
        num = p * s_live
        den = num + (1.0 - p) * s_other
        return num / den if den > 0 else 0.0

    def live_within(self, p: float, elapsed: float, within: float) -> float:
        """Chance a call that has rung ``elapsed`` s becomes a live answer in the next ``within`` s."""
        if within <= 0:
            return 0.0
        if not self.ring_live:
            return self.live_given_ringing(p, elapsed)  # nothing known of ring times: it may answer any moment
        s_live = self.ring_live.survival(elapsed)
        s_other = self.ring_other.survival(elapsed) if self.ring_other else 1.0
        den = p * s_live + (1.0 - p) * s_other
        if den <= 0:
            return 0.0
        return p * (s_live - self.ring_live.survival(elapsed + within)) / den

    def free_within(self, elapsed: float, horizon: float) -> float:
        """Chance a busy agent ``elapsed`` s into a call has finished it (and its wrap-up) ``horizon`` s later."""
        alive = self.handle.greater(elapsed)
        if alive >= 5:
            return 1.0 - self.handle.greater(elapsed + horizon) / alive
        mean = self.handle.mean(self.prior_handle_s) if len(self.handle) >= 5 else self.prior_handle_s
        return 1.0 - math.exp(-horizon / max(mean, 1.0))  # no data this far out: a memoryless guess

    def horizon(self) -> float:
        """From launch to needing an agent: the ring of a live answer plus the AMD screening."""
        ring = self.ring_live.mean(self.prior_ring_s) if self.ring_live else self.prior_ring_s
        return ring + self.screen.mean(0.0)


def allowed_rate(budget: Budget, ahead: float = 300.0, margin: float = MARGIN) -> float:
    """The abandonment rate the next ``ahead`` live answers may have so that both the 30-day window
    and today end at ``margin`` x target: above it while the campaign is under, below while over,
    zero once that many answers cannot bring it back. At most twice the target."""
    target = budget.target * margin
    rate = 2.0 * target
    for answered, abandoned, spread in ((budget.answered_window, budget.abandoned_window, True),
                                        (budget.answered_today, budget.abandoned_today, False)):
        # A busy campaign spreads a correction of its 30-day window over more answers; today's is made
        # within the next ``ahead`` answers, or the day could end over the target (Ofcom counts each day).
        k = max(ahead, answered / 2) if spread else ahead
        rate = min(rate, (target * (answered + k) - abandoned) / k)
    return max(0.0, rate)


def _normal_shortfall(mean: float, var: float) -> float:
    """E[max(0, D)] for D ~ Normal(mean, var)."""
    if var <= 1e-12:
        return max(0.0, mean)
    sd = math.sqrt(var)
    z = mean / sd
    return sd * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + mean * 0.5 * (1.0 + math.erf(z / math.sqrt(2)))


def count_pmf(mean: float, var: float, upto: int) -> list[float]:
    """P(K = 0..upto) for a sum of independent yes/no chances with this mean and variance: a binomial
    with the same two moments (a Poisson when the chances are all small)."""
    if mean <= 1e-12:
        return [1.0] + [0.0] * upto
    p = 1.0 - var / mean if var < mean else 0.0
    if p < 0.02:  # Poisson
        pmf = [math.exp(-mean)]
        for k in range(1, upto + 1):
            pmf.append(pmf[-1] * mean / k)
        return pmf
    n = max(1, round(mean / p))
    p = min(1.0, mean / n)
    if p >= 1.0:
        return [1.0 if k == n else 0.0 for k in range(upto + 1)]
    pmf = [(1.0 - p) ** n]
    ratio = p / (1.0 - p)
    for k in range(1, upto + 1):
        pmf.append(pmf[-1] * (n - k + 1) / k * ratio if k <= n else 0.0)
    return pmf


class FreeAgents:
    """Y = ``y_min`` sure agents + a count of the given mean and variance: what E[max(0, x - Y)] is for
    each x, worked out once and reused for every X it is compared with."""

    def __init__(self, y_min: int, y_mean: float, y_var: float) -> None:
        self.y_min, self.mean, self.var = y_min, y_mean, y_var
        self._short = [0.0] * (y_min + 1)  # E[max(0, x - Y)] for x = 0, 1, ...
        self._below = 0.0
        self._pmf: list[float] = []

    def short(self, upto: int) -> list[float]:
        if len(self._short) <= upto:
            need = upto - self.y_min
            if len(self._pmf) < need:
                self._pmf = count_pmf(self.mean - self.y_min, self.var, max(need, 2 * len(self._pmf)))
            for x in range(len(self._short), upto + 1):
                self._below += self._pmf[x - 1 - self.y_min]  # P(Y <= x - 1)
                self._short.append(self._short[-1] + self._below)
        return self._short


def expected_shortfall(x_mean: float, x_var: float, free: FreeAgents) -> float:
    """E[max(0, X - Y)] for X, Y independent counts: X of the given moments, Y the free agents. Exact
    sums over moment-matched binomials: a normal approximation would put Y below its minimum and see
    shortfalls where none can be. Far from both bounds (large teams) the normal approximation is as
    good and much cheaper, and is used."""
    if x_mean > 4.0 * math.sqrt(x_var) + 10 and free.mean - free.y_min > 4.0 * math.sqrt(free.var) + 10:
        return _normal_shortfall(x_mean - free.mean, x_var + free.var)
    upto = int(x_mean + 6.0 * math.sqrt(x_var) + 6)
    if upto <= free.y_min:
        return 0.0
    px = count_pmf(x_mean, x_var, upto)
    short = free.short(upto)
    return sum(px[x] * short[x] for x in range(free.y_min + 1, upto + 1))


@dataclass(frozen=True)
class Decision:
    launch: int
    reason: str
    expected_abandon_rate: float = 0.0


def one_per_free_agent(agents: AgentsNow, calls: CallsNow) -> int:
    """Progressive (and preview): a call for each ready agent who has none coming."""
    return max(0, agents.ready - len(calls.ringing_elapsed) - calls.screening - calls.waiting)


# When live answers are counted against free agents: up to the ring time of slow answers (a call
# answered 20-26 s after launch still needs an agent).
HORIZONS_S: tuple[float, ...] = (1.0, 4.0, 8.0, 14.0, 20.0, 26.0)
# Dial ahead only once this many attempts and live answers tell the answer rate: the first attempts to
# finish are the quick ones (busy lines, quick answers), so a rate learned from a few undercounts ring-outs.
MIN_ATTEMPTS = 100
MIN_LIVE = 20
GRACE_S = 2.0  # a live answer may wait this long for an agent (the 2-second rule)


def _rounded(values: tuple[float, ...], step: float) -> dict[float, int]:
    counts: dict[float, int] = {}
    for v in values:
        key = round(v / step) * step
        counts[key] = counts.get(key, 0) + 1
    return counts


def decide(mode: Mode, agents: AgentsNow, calls: CallsNow, learned: Learned, budget: Budget,
           limits: Limits = Limits()) -> Decision:
    logged_in = agents.ready + len(agents.busy_elapsed)
    in_flight = len(calls.ringing_elapsed) + calls.screening + calls.waiting
    cap = min(limits.max_lines - in_flight, int(limits.max_ratio * logged_in) - in_flight)
    if logged_in == 0 or cap <= 0:
        return Decision(0, "no agents" if logged_in == 0 else "line limit")
    progressive = min(cap, one_per_free_agent(agents, calls))
    if mode != "predictive":
        return Decision(progressive, mode)
    if learned.attempts < MIN_ATTEMPTS or learned.live < MIN_LIVE:
        return Decision(progressive, "answer rate not known yet: progressive")
    rate = allowed_rate(budget)
    if rate <= 0.0:
        return Decision(progressive, "abandonment budget spent: progressive")
    p = learned.live_rate()
    screen = learned.screen.mean(0.0)
    ringing = _rounded(calls.ringing_elapsed, 0.5)
    busy = _rounded(agents.busy_elapsed, 1.0)
    # Live answers expected in the end (the denominator of the rate) from the calls already placed.
    total_now = float(calls.waiting) + calls.screening * p + sum(
        k * learned.live_given_ringing(p, e) for e, k in ringing.items())
    # Per horizon t: live answers needing an agent by t, and agents free by t + the grace.
    per_t = []
    for t in HORIZONS_S:
        xm = float(calls.waiting) + (calls.screening * p if t >= screen / 2 else 0.0)
        xv = calls.screening * p * (1 - p) if t >= screen / 2 else 0.0
        for e, k in ringing.items():
            q = learned.live_within(p, e, t - screen)
            xm += k * q
            xv += k * q * (1 - q)
        ym, yv = float(agents.ready), 0.0
        for e, k in busy.items():
            f = learned.free_within(e, t + GRACE_S)
            ym += k * f
            yv += k * f * (1 - f)
        per_t.append((xm, xv, FreeAgents(agents.ready, ym, yv), learned.live_within(p, 0.0, t - screen)))
    memo: dict[int, float] = {}

    def shortfall(n: int) -> float:
        if n not in memo:
            memo[n] = max(expected_shortfall(xm + n * a, xv + n * a * (1 - a), free) for xm, xv, free, a in per_t)
        return memo[n]

    # Launch while the last call added would be abandoned (expected abandons it adds per live answer
    # it brings) no more often than the marginal rate the budget allows.
    threshold = rate * learned.gain

    def too_many(n: int) -> bool:  # would the (n+1)-th call be one too many? (grows with n: convex)
        return p <= 0 or (shortfall(n + 1) - shortfall(n)) / p > threshold

    # The answer n: the first n from ``progressive`` on where one more is too many (or ``cap``). Usually a
    # few calls past progressive: galloping there, then halving, costs a handful of evaluations.
    lo, step = progressive, 1
    while lo < cap and not too_many(min(cap, lo + step - 1)):
        lo, step = min(cap, lo + step), step * 2
    hi = min(cap, lo + step - 1)
    while lo < hi:
        mid = (lo + hi) // 2
        if too_many(mid):
            hi = mid
        else:
            lo = mid + 1
    n = lo
    before = shortfall(n)
    total = total_now + n * p
    if n <= progressive:
        return Decision(progressive, "progressive floor", before / total if total > 0 else 0.0)
    return Decision(n, "predictive", before / total if total > 0 else 0.0)
