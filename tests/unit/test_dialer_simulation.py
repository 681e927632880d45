"""The dialer simulator's world, floor and baselines (bench/dialer_*.py): what its comparison rests on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench import dialer_policies as policies
from bench import dialer_world as world
from bench.dialer_floor import Carry, Floor
from bench.dialer_sim import Job, settings_for, simulate
from middleware.dialer import observed

SHORT = replace(world.FLAT, name="short", day_s=1800.0)


def test_every_policy_meets_the_same_customers() -> None:
    """Common random numbers: the k-th lead of a day is the same customer whenever and by whomever it is
    dialed, and other leads, days and seeds are other customers."""
    a = world.lead(11, 3, 42, 60.0, world.SCENARIOS["hard"])
    assert world.lead(11, 3, 42, 60.0, world.SCENARIOS["hard"]) == a
    assert len({world.lead(11, 3, k, 60.0, world.FLAT).answer_u for k in range(200)}) == 200
    assert world.lead(12, 3, 42, 60.0, world.FLAT) != world.lead(11, 3, 42, 60.0, world.FLAT)
    assert world.lead(11, 4, 42, 60.0, world.FLAT) != world.lead(11, 3, 42, 60.0, world.FLAT)


def test_the_answer_rate_follows_the_hour_and_the_list() -> None:
    curve = world.SCENARIOS["curve"]
    morning, evening = (world.answer_probability(0.3, curve, h * world.HOUR + 1) for h in (0, 7))
    assert morning != evening
    day_mean = sum(world.answer_probability(0.3, world.FLAT, h * world.HOUR) for h in range(8)) / 8
    assert day_mean == pytest.approx(0.3)
    machines = world.SCENARIOS["amd"]
    assert world.answer_probability(0.3, machines, 0.0) == pytest.approx(0.4)  # a quarter of answers are machines


def test_progressive_never_abandons_and_every_count_returns_to_zero() -> None:
    """One call per ready agent: a person always finds the agent, except for calls placed for agents
    whose shift then ended before the call was answered."""
    carry = Carry()
    floor = Floor(policies.Progressive(), 5, 0.3, 60.0, SHORT, 11, 0, carry)
    day = floor.run()
    assert day.people > 10 and 0 < day.talk_s < day.working_s
    assert all(t > SHORT.day_s for t in floor.drop_times), floor.drop_times
    assert (floor.ringing, floor.screening, floor.waiting, floor.talking) == (0, 0, 0, 0)
    assert (floor.ready, floor.incall, floor.wrapup, floor.calls) == (0, 0, 0, {})
    assert carry.counts == [(floor.live, len(floor.drop_times), 0)] and len(carry.recent) == day.calls


def test_over_dialing_abandons_and_the_regulator_counts_people_only() -> None:
    hard = replace(world.SCENARIOS["amd"], day_s=1800.0)
    floor = Floor(policies.Ratio(4.0), 5, 0.3, 60.0, hard, 11, 0, Carry())
    day = floor.run()
    assert day.dropped > 0.1 * day.people
    # production's own count: connected and abandoned outcomes (machines AMD let through are among them)
    assert floor.abandoned > 0 and floor.machines > 0


def test_agents_take_their_breaks_after_the_call_in_hand() -> None:
    staff = world.SCENARIOS["staff"]
    shifts = world.shifts(11, 0, 6, staff)
    assert {s.start for s in shifts} == {0.0, 1800.0, 3600.0} and all(len(s.breaks) == 3 for s in shifts)
    floor = Floor(policies.Progressive(), 6, 0.3, 60.0, staff, 11, 0, Carry())
    day = floor.run()
    planned = sum(s.working_s() for s in shifts)
    assert planned * 0.95 < day.working_s < planned * 1.05  # breaks and shifts kept (a call may run over)


class _Floor:
    """A floor as a baseline sees it, set by hand."""

    def __init__(self, **values: float) -> None:
        self.now = 0.0
        self.ready = self.incall = self.wrapup = self.ringing = self.screening = self.waiting = self.talking = 0
        self.inbound_waiting = 0
        self.minute = (0, 0)
        self.day = (0, 0, 0)
        self.__dict__.update(values)

    def last_minute(self) -> tuple[int, int]:
        return self.minute

    def today(self) -> tuple[int, int, int]:
        return self.day


def test_vicidial_places_round_level_times_active_agents_minus_calls_in_progress() -> None:
    floor = _Floor(ready=2, incall=6, wrapup=4, ringing=3, talking=6)
    # active = ready + in call (8, not the 4 in wrap-up); 2.5 x 8 = 20, minus 9 in progress
    assert policies.vicidial_calls(2.5, floor) == 11  # type: ignore[arg-type]
    assert policies.vicidial_calls(1.0, floor) == 0  # type: ignore[arg-type]


def _adapted(level: float, **floor: object) -> float:
    """The level after one adaptation of a team of 10 with nobody ready and nobody waiting."""
    adapt = policies.Adapt(diff_target=0.0, max_level=4.0, drop_limit=0.03)
    adapt.level = level
    for second in range(15):
        adapt.sample(_Floor(incall=10, now=float(second)))  # type: ignore[arg-type]
    adapt.place(_Floor(incall=10, now=15.0, **floor))  # type: ignore[arg-type]
    return adapt.level


def test_adapt_average_raises_on_idle_agents_and_halves_on_drops() -> None:
    adapt = policies.Adapt(diff_target=0.0, max_level=4.0, drop_limit=0.03)
    idle = _Floor(ready=5, incall=5)
    for second in range(15):
        idle.now = float(second)
        adapt.sample(idle)  # type: ignore[arg-type]
    idle.now = 15.0
    adapt.place(idle)  # type: ignore[arg-type]
    assert adapt.level == pytest.approx(1.5)  # 1 x (1 + (5 - 0 + 0) / 10)
    # the one-minute rule: more than 20 calls placed and over half of them dropped halves the level
    assert _adapted(3.0, minute=(30, 16)) == pytest.approx(1.5)
    assert _adapted(3.0, minute=(20, 16)) == pytest.approx(3.0)  # 20 calls are not "more than 20"
    # the daily rule: drops over answers above the limit, once the day has more than 50 calls placed
    assert _adapted(3.0, day=(50, 40, 5)) == pytest.approx(3.0)
    assert _adapted(3.0, day=(200, 60, 5)) == pytest.approx(1.5)
    assert _adapted(3.0, day=(200, 60, 1)) == pytest.approx(3.0)
    capped = policies.Adapt(diff_target=0.0, max_level=2.0, drop_limit=0.03)
    capped.level = 1.9
    for second in range(15):
        capped.sample(_Floor(ready=10, now=float(second)))  # type: ignore[arg-type]
    capped.place(_Floor(ready=10, now=15.0))  # type: ignore[arg-type]
    assert capped.level == 2.0


def test_ours_is_the_production_controller_with_the_campaigns_settings() -> None:
    settings = settings_for(world.SCENARIOS["amd"], 20)
    assert settings.max_ratio == 4.0 and settings.abandon_target == 0.03
    assert 0.02 < settings.amd_false_positive < 0.05  # people among the machine verdicts
    ours = policies.make("ours", (), settings)
    assert isinstance(ours, policies.Ours) and isinstance(ours.learning, observed.Learning)


def test_a_short_run_reports_occupancy_and_abandonment() -> None:
    run = simulate(Job("ratio", (1.5,), 5, 0.3, 60.0, "flat", 11, 1))
    assert run.name == "ratio 1.5" and 0 < run.occupancy < 1 and run.worst_window == run.worst_day >= 0
