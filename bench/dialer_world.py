"""The simulated world of bench/dialer_sim.py: customers, agents and inbound callers, the same for every
dialing policy.

Common random numbers: everything about a lead (does it answer, a person or a machine, how long it rings,
how long AMD listens and whether it errs, how long the talk and the wrap-up take, how patient the person
is) is drawn from the lead's own stream, keyed by (seed, day, lead number), so the k-th lead of the day is
the same customer whichever policy dials it and whenever. What depends on the hour (the answer rate
curve, the list being dialed) is applied to the lead's own uniform draw at the moment it is dialed.
Agents' shifts and breaks and the inbound callers come from streams keyed by (seed, day) alone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

HOUR = 3600.0
RING_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Scenario:
    name: str
    day_s: float = 8 * HOUR
    hourly: tuple[float, ...] = (1.0,)           # answer-rate multiplier per hour of the day (cycled)
    lists: tuple[tuple[float, float], ...] = ((0.0, 1.0),)  # (from hour, answer multiplier): the list dialed
    machine_share: float = 0.0                   # share of answered calls that are machines
    amd_fp: float = 0.0                          # people AMD takes for machines (hung up on: abandoned)
    amd_fn: float = 0.0                          # machines AMD passes as people (an agent hears them)
    wrap_sigma: float = 0.0                      # log-normal spread of the wrap-up (0: constant)
    wrap_mean_s: float = 5.0
    breaks: bool = False                         # two 15-min breaks and a 30-min lunch, staggered
    shifts: bool = False                         # three shifts starting 30 min apart
    patience_s: float = math.inf                 # mean patience of a person waiting for an agent after AMD
    amd_hangup: float = 0.0                      # people who hang up on the silence while AMD listens
    latency_s: float = 0.0                       # from the decision to the call leaving the trunk
    inbound: bool = False                        # inbound bursts taking blended agents away (priority)

    def answer_multiplier(self, t: float) -> float:
        hour = int(t // HOUR)
        listed = 1.0
        for start, mult in self.lists:
            if t >= start * HOUR:
                listed = mult
        return self.hourly[hour % len(self.hourly)] * listed


# A daily curve of contact rates of the published shape (low mid-morning and after lunch, best late
# afternoon and early evening), normalised to a mean of 1 over the 9 hours of the shifted day.
_CURVE = (0.75, 0.85, 0.95, 0.8, 0.9, 1.0, 1.15, 1.3, 1.3)
CURVE = tuple(c * len(_CURVE) / sum(_CURVE) for c in _CURVE)

FLAT = Scenario("flat")
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    FLAT,
    Scenario("curve", hourly=CURVE, lists=((0.0, 1.25), (4.0, 0.75))),
    Scenario("amd", machine_share=0.25, amd_fp=0.01, amd_fn=0.10),
    Scenario("staff", day_s=9 * HOUR, breaks=True, shifts=True, wrap_sigma=0.6, wrap_mean_s=12.0),
    Scenario("impatient", patience_s=6.0, amd_hangup=0.005, latency_s=0.3),
    Scenario("blended", inbound=True),
)}
SCENARIOS["hard"] = replace(FLAT, name="hard", day_s=9 * HOUR, hourly=CURVE, lists=((0.0, 1.25), (4.5, 0.75)),
                            machine_share=0.25, amd_fp=0.01, amd_fn=0.10, wrap_sigma=0.6, wrap_mean_s=12.0,
                            breaks=True, shifts=True, patience_s=6.0, amd_hangup=0.005, latency_s=0.3,
                            inbound=True)


@dataclass(frozen=True)
class Lead:
    answer_u: float      # answers if below the answer probability at the time it is dialed
    machine: bool        # an answered call is a machine
    ring_s: float        # ring time to an answer
    busy: bool           # an unanswered call is busy (else it rings out)
    busy_s: float
    screen_s: float      # AMD listening time to its verdict
    amd_wrong: bool      # AMD errs on it (a person taken for a machine, or a machine passed as a person)
    talk_s: float
    wrap_s: float
    patience_s: float    # a person waiting for an agent after AMD's verdict hangs up after this long
    hangs_up_in_amd: bool  # a person who hangs up on the silence while AMD listens


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def lead(seed: int, day: int, k: int, talk_mean: float, scenario: Scenario) -> Lead:
    """The k-th lead of the day: the same whichever policy dials it."""
    rng = random.Random((seed << 44) ^ (day << 30) ^ k)
    answer_u, machine_u, busy_u, wrong_u, amd_u = rng.random(), rng.random(), rng.random(), rng.random(), rng.random()
    ring = min(RING_TIMEOUT_S - 0.5, max(1.0, _lognormal(rng, 8.0, 0.5)))
    busy_s = max(0.5, _lognormal(rng, 3.0, 0.5))
    human_screen, machine_screen = 1.5 + rng.random(), 3.0 + 2.0 * rng.random()
    talk = _lognormal(rng, talk_mean, 0.7)
    wrap_draw = (_lognormal(rng, scenario.wrap_mean_s, scenario.wrap_sigma) if scenario.wrap_sigma
                 else scenario.wrap_mean_s)
    patience = rng.expovariate(1.0 / scenario.patience_s) if math.isfinite(scenario.patience_s) else math.inf
    machine = machine_u < scenario.machine_share
    wrong = wrong_u < (scenario.amd_fn if machine else scenario.amd_fp)
    return Lead(answer_u, machine, ring, busy_u < 0.25, busy_s, machine_screen if machine else human_screen, wrong,
                8.0 if machine else talk, wrap_draw, patience, not machine and amd_u < scenario.amd_hangup)


def answer_probability(live_rate: float, scenario: Scenario, t: float) -> float:
    """A dialed call is answered (by a person or a machine) with this probability at time ``t``; people
    answer ``live_rate`` of the calls on average over the day."""
    return min(0.95, live_rate / (1.0 - scenario.machine_share) * scenario.answer_multiplier(t))


@dataclass(frozen=True)
class Shift:
    start: float
    end: float
    breaks: tuple[tuple[float, float], ...]  # (from, until): not taking calls (from the end of the call in hand)

    def working_s(self) -> float:
        return self.end - self.start - sum(b - a for a, b in self.breaks)


def shifts(seed: int, day: int, agents: int, scenario: Scenario) -> list[Shift]:
    rng = random.Random((seed << 44) ^ (day << 30) ^ 0x3FFFFFFF)
    out = []
    for i in range(agents):
        start = (i % 3) * 0.5 * HOUR if scenario.shifts else 0.0
        end = min(scenario.day_s, start + 8 * HOUR)
        breaks: list[tuple[float, float]] = []
        if scenario.breaks:
            for at, length in ((2.0, 0.25), (4.0, 0.5), (6.5, 0.25)):
                b = start + (at + rng.uniform(-0.4, 0.4)) * HOUR
                breaks.append((b, b + length * HOUR))
        out.append(Shift(start, end, tuple(breaks)))
    return out


def inbound_calls(seed: int, day: int, agents: int, scenario: Scenario) -> list[tuple[float, float, float]]:
    """(arrival, talk, patience) of the day's inbound callers: three 20-minute bursts in which calls
    arrive at a rate that would keep about a third of the agents busy."""
    if not scenario.inbound:
        return []
    rng = random.Random((seed << 44) ^ (day << 30) ^ 0x2FFFFFFF)
    talk_mean = 180.0
    rate = agents / 3.0 / talk_mean
    out = []
    for burst_h in (1.5, 4.5, 7.0):
        t, end = burst_h * HOUR, (burst_h + 1 / 3) * HOUR
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                break
            out.append((t, _lognormal(rng, talk_mean, 0.6), rng.expovariate(1 / 90.0)))
    return out
