"""The dialing policies bench/dialer_sim.py compares: ours (the production controller, exactly as the live
dialer runs it) and the usual baselines, each with the settings an operator would tune.

- ``ours``: middleware/dialer/observed.py's controller every second (the live dialer's tick): the
  statistics rebuilt every 30 s from the latest 2,000 finished attempts and this node's finished attempts
  folded in between, the campaign's abandonment target, its line and ratio caps (max_ratio 4, the
  shipped default) and AMD false-positive estimate, the 30-day and daily counts.
- ``progressive``: one call per ready agent with none coming (the production progressive mode).
- ``ratio``: VICIdial's RATIO dialing at a fixed level.
- ``adapt``: VICIdial's ADAPT_AVERAGE as its adapt script does it: every 15 s the level is multiplied by
  (1 + (avg ready - avg waiting + diff_target) / avg agents) over the last 15 s (intensity 0), clamped
  to [1, max level]; halved when the last minute had more than 20 calls placed and over half of them
  dropped, and when the day has more than 50 calls placed and its drops over answers exceed the
  campaign's drop limit (adaptive_dropped_percentage: VICIdial rides that limit, so an operator who must
  stay under 3% sets it lower, and the sweep does too).

The VICIdial policies place calls every 2.5 s: round(level x active agents) minus the calls in progress
(ringing, being screened, waiting or talking), counting as active the agents ready or on a call, not the
ones in wrap-up or paused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from middleware.dialer import observed, pacing


class Floor(Protocol):
    """What a policy can see of the simulated campaign at a placement instant."""
    now: float
    ready: int          # agents ready for a campaign call
    incall: int         # agents on a call (campaign or inbound)
    wrapup: int         # agents in wrap-up
    ringing: int
    screening: int
    waiting: int        # people answered, waiting for an agent
    talking: int        # campaign calls with an agent

    inbound_joined: list[float]  # when each inbound caller so far arrived

    @property
    def inbound_waiting(self) -> int: ...       # inbound callers waiting for these agents

    def agent_rows(self) -> Iterable[tuple[str, float]]: ...
    def flight_rows(self) -> Iterable[tuple[float, bool, bool]]: ...
    def counts(self) -> observed.AbandonCounts: ...
    def recent_attempts(self) -> list[tuple[str, float | None, float | None, float | None]]: ...
    def today(self) -> tuple[int, int, int]: ...             # (calls placed, live answers, dropped) today
    def last_minute(self) -> tuple[int, int]: ...             # (calls placed, dropped) in the last 60 s


class Policy(Protocol):
    name: str
    cadence_s: float

    def place(self, floor: Floor) -> int: ...
    def finished(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None: ...
    def sample(self, floor: Floor) -> None: ...  # once a second


class Ours:
    cadence_s = 1.0

    def __init__(self, settings: observed.CampaignPacing, name: str = "ours") -> None:
        self.name = name
        self.settings = settings
        self.learning = observed.Learning(settings.wrapup_s, settings.abandon_target, settings.amd_false_positive)
        self.inbound: observed.InboundArrivals | None = None
        self._inbound_seen = 0
        self._floor: Floor | None = None  # the day being simulated (each day's clock starts at 0)

    def place(self, floor: Floor) -> int:
        if self.learning.due(floor.now):
            self.learning.rebuild(floor.recent_attempts(), floor.now)
        learned = self.learning.learned
        assert learned is not None
        if self.inbound is None or floor is not self._floor:  # a new day: yesterday's callers are long gone
            self.inbound, self._inbound_seen, self._floor = observed.InboundArrivals(floor.now), 0, floor
        for at in floor.inbound_joined[self._inbound_seen:]:  # as the service's QueueCallerJoin events
            self.inbound.joined("inbound", at)
        self._inbound_seen = len(floor.inbound_joined)
        agents = observed.agents_now(floor.agent_rows(), observed.mean_talk_s(learned, self.settings.wrapup_s),
                                     floor.inbound_waiting,
                                     observed.inbound_expected(self.inbound.rate(("inbound",), floor.now), learned))
        calls = observed.calls_now(floor.flight_rows())
        return observed.decide(self.settings, learned, agents, calls, floor.counts()).launch

    def finished(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None:
        self.learning.fold(outcome, ring_s, screen_s, talk_s)

    def sample(self, floor: Floor) -> None:
        pass


class Progressive:
    cadence_s = 1.0
    name = "progressive"

    def place(self, floor: Floor) -> int:
        return pacing.one_per_free_agent(pacing.AgentsNow(floor.ready),
                                         pacing.CallsNow((0.0,) * floor.ringing, floor.screening, floor.waiting))

    def finished(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None:
        pass

    def sample(self, floor: Floor) -> None:
        pass


def vicidial_calls(level: float, floor: Floor) -> int:
    active = floor.ready + floor.incall
    in_progress = floor.ringing + floor.screening + floor.waiting + floor.talking
    return max(0, round(level * active) - in_progress)


class Ratio:
    cadence_s = 2.5

    def __init__(self, level: float) -> None:
        self.level = level
        self.name = f"ratio {level:g}"

    def place(self, floor: Floor) -> int:
        return vicidial_calls(self.level, floor)

    def finished(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None:
        pass

    def sample(self, floor: Floor) -> None:
        pass


@dataclass
class _Averages:
    ready: float = 0.0
    waiting: float = 0.0
    n: int = 0


class Adapt:
    cadence_s = 2.5
    ADAPT_EVERY_S = 15.0

    def __init__(self, diff_target: float, max_level: float, drop_limit: float = 0.03) -> None:
        self.diff_target, self.max_level, self.drop_limit = diff_target, max_level, drop_limit
        self.name = f"adapt {diff_target:+g}/{max_level:g}/{drop_limit:.1%}"
        self.level = 1.0
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=15)  # (ready, waiting, agents) per second
        self._next_adapt = self.ADAPT_EVERY_S

    def sample(self, floor: Floor) -> None:
        self._samples.append((floor.ready, floor.waiting, floor.ready + floor.incall + floor.wrapup))

    def place(self, floor: Floor) -> int:
        if floor.now >= self._next_adapt:
            self._next_adapt = floor.now + self.ADAPT_EVERY_S
            self._adapt(floor)
        return vicidial_calls(self.level, floor)

    def _adapt(self, floor: Floor) -> None:
        n = len(self._samples)
        if n:
            ready = sum(s[0] for s in self._samples) / n
            waiting = sum(s[1] for s in self._samples) / n
            agents = sum(s[2] for s in self._samples) / n
            differential = ready - waiting + self.diff_target
            if differential and agents:
                self.level *= 1.0 + differential / agents
            self.level = min(self.max_level, max(1.0, self.level))
        calls_min, dropped_min = floor.last_minute()
        if calls_min > 20 and dropped_min > 0.5 * calls_min:
            self.level /= 2
        calls, answered, dropped = floor.today()
        if calls > 50 and dropped / max(1, answered) > self.drop_limit:
            self.level /= 2
        self.level = max(1.0, self.level)

    def finished(self, outcome: str, ring_s: float | None, screen_s: float | None, talk_s: float | None) -> None:
        pass


RATIO_LEVELS = (1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0, 2.5, 3.0)
ADAPT_DIFFS = (0.0, -1.0, -2.0, -4.0)
ADAPT_MAX_LEVELS = (2.0, 4.0)  # 4: ours' max_ratio, the shipped default
ADAPT_DROP_LIMITS = (0.03, 0.02)
QUICK_RATIO_LEVELS = (1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 2.0)
QUICK_ADAPT = ((0.0, 4.0, 0.03), (0.0, 4.0, 0.02), (-2.0, 4.0, 0.02), (-2.0, 2.0, 0.02))


def baselines(quick: bool, ratio_levels: tuple[float, ...] | None = None) -> list[tuple[str, tuple[float, ...]]]:
    """(family, parameters) of every baseline setting swept; ``ratio_levels`` replaces the ratio sweep."""
    levels = ratio_levels or (QUICK_RATIO_LEVELS if quick else RATIO_LEVELS)
    adapt = (list(QUICK_ADAPT) if quick
             else [(d, m, x) for d in ADAPT_DIFFS for m in ADAPT_MAX_LEVELS for x in ADAPT_DROP_LIMITS])
    return [("progressive", ())] + [("ratio", (lv,)) for lv in levels] + [("adapt", p) for p in adapt]


def make(family: str, params: tuple[float, ...], settings: observed.CampaignPacing) -> Policy:
    if family == "ours":
        if params:  # the frontier: ours aiming at another abandonment rate
            return Ours(replace(settings, abandon_target=params[0]), f"ours@{params[0]:.0%}")
        return Ours(settings)
    if family == "progressive":
        return Progressive()
    if family == "ratio":
        return Ratio(params[0])
    if family == "adapt":
        return Adapt(*params)
    raise ValueError(f"unknown policy {family!r}")
