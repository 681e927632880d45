"""Predictive dialing, simulated: the production controller against tuned baselines, day after day.

Each run is one policy on one cell (agents, live-answer rate, mean talk time), one scenario and one
seed, for ``--days`` days (bench/dialer_floor.py simulates a day, bench/dialer_world.py draws its
customers and agents: every policy meets the same customers, see there). Baselines are swept over their
settings (bench/dialer_policies.py); for each cell and scenario the best setting of each baseline family
that keeps every 30-day window and every day (Ofcom) at or under 3% in every seed is the one ours is
compared with.

Prints per cell and scenario: talk occupancy (talk / agents' working time: logged in, not on a break)
mean +- spread (min..max over seeds), the worst 30-day window and the worst day over all seeds, for ours
and each family's best compliant setting, and the ratio ours / best compliant baseline; then the targets:
ours <= 3% in every window and day of every run, ours >= every best compliant baseline, and >= 85%
occupancy at 20+ agents and 30% live answers in the flat world.

    .venv/bin/python bench/dialer_sim.py --quick            # a few minutes on 2 cores
    .venv/bin/python bench/dialer_sim.py [--days 30] [--seeds 5] [--agents 5,20,100] [--scenarios flat,hard]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dialer_policies as policies
from bench import dialer_world as world
from bench.dialer_floor import Carry, Day, Floor
from middleware.dialer.observed import CampaignPacing

TARGET = 0.03


@dataclass(frozen=True)
class Job:
    family: str
    params: tuple[float, ...]
    agents: int
    live_rate: float
    talk_s: float
    scenario: str
    seed: int
    days: int

    @property
    def cell(self) -> tuple[int, float, float, str]:
        return self.agents, self.live_rate, self.talk_s, self.scenario


@dataclass(frozen=True)
class Run:
    job: Job
    name: str
    occupancy: float
    worst_window: float
    worst_day: float
    calls: int
    seconds: float


def settings_for(scenario: world.Scenario, agents: int) -> CampaignPacing:
    """The campaign as an operator would set it up: the shipped ratio cap, lines enough for it, the
    scenario's wrap-up and, where AMD errs, its measured false-positive share."""
    people, machines = 1.0 - scenario.machine_share, scenario.machine_share
    false_positives = people * scenario.amd_fp
    verdicts = machines * (1.0 - scenario.amd_fn) + false_positives
    return CampaignPacing("predictive", TARGET, max_lines=4 * agents, max_ratio=4.0, wrapup_s=scenario.wrap_mean_s,
                          amd_false_positive=round(false_positives / verdicts, 4) if false_positives else 0.0)


def simulate(job: Job) -> Run:
    started = time.perf_counter()
    scenario = world.SCENARIOS[job.scenario]
    policy = policies.make(job.family, job.params, settings_for(scenario, job.agents))
    carry = Carry()
    days: list[Day] = []
    for day in range(job.days):
        days.append(Floor(policy, job.agents, job.live_rate, job.talk_s, scenario, job.seed, day, carry).run())

    def rate(rows: list[Day]) -> float:
        people = sum(d.people for d in rows)
        return sum(d.dropped for d in rows) / people if people else 0.0

    worst_window = max(rate(days[max(0, d - 29):d + 1]) for d in range(len(days)))
    occupancy = sum(d.talk_s for d in days) / max(1.0, sum(d.working_s for d in days))
    return Run(job, policy.name, occupancy, worst_window, max(rate([d]) for d in days),
               sum(d.calls for d in days), time.perf_counter() - started)


@dataclass(frozen=True)
class Setting:
    """One policy setting over all seeds of a cell."""
    name: str
    occupancy: list[float]
    worst_window: float
    worst_day: float

    @property
    def compliant(self) -> bool:
        return self.worst_window <= TARGET and self.worst_day <= TARGET

    @property
    def mean(self) -> float:
        return statistics.fmean(self.occupancy)

    def text(self) -> str:
        lo, hi = min(self.occupancy), max(self.occupancy)
        return (f"{self.name:<13} {self.mean:6.1%} ({lo:5.1%}..{hi:5.1%})  window {self.worst_window:5.2%}  "
                f"day {self.worst_day:5.2%}{'' if self.compliant else '  NOT COMPLIANT'}")


def settings_of(runs: list[Run]) -> Setting:
    return Setting(runs[0].name, [r.occupancy for r in runs], max(r.worst_window for r in runs),
                   max(r.worst_day for r in runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 days, 3 seeds, 20 agents at 30%% live, 60 and 240 s talk, a coarse sweep")
    parser.add_argument("--days", type=int)
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--first-seed", type=int, default=11)
    parser.add_argument("--agents")
    parser.add_argument("--rates")
    parser.add_argument("--talk")
    parser.add_argument("--scenarios", help=f"comma-separated, or all ({', '.join(world.SCENARIOS)})")
    parser.add_argument("--frontier", default="", metavar="TARGETS",
                        help="also run ours aiming at these abandonment rates (e.g. 0.05,0.1): the occupancy a "
                             "cell can reach at each, to show where a target is out of reach")
    parser.add_argument("--ratios", metavar="LEVELS", help="the fixed-ratio levels to sweep (e.g. 1.55,1.6,1.65)")
    parser.add_argument("--baselines", metavar="FAMILIES", default="progressive,ratio,adapt",
                        help="the baseline families to run (ours always runs)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    quick = args.quick
    days = args.days or (3 if quick else 30)
    seeds = range(args.first_seed, args.first_seed + (args.seeds or (3 if quick else 5)))
    agents = [int(a) for a in (args.agents or ("20" if quick else "5,20,100")).split(",")]
    rates = [float(r) for r in (args.rates or ("0.3" if quick else "0.1,0.3,0.6")).split(",")]
    talks = [float(t) for t in (args.talk or "60,240").split(",")]
    names = list(world.SCENARIOS) if args.scenarios == "all" else (args.scenarios or "flat,hard").split(",")
    if unknown := [n for n in names if n not in world.SCENARIOS]:
        parser.error(f"unknown scenario {', '.join(unknown)} (known: {', '.join(world.SCENARIOS)})")
    frontier = [("ours", (float(x),)) for x in args.frontier.split(",") if x]
    levels = tuple(float(x) for x in args.ratios.split(",")) if args.ratios else None
    wanted = set(args.baselines.split(","))
    if strangers := wanted - {"progressive", "ratio", "adapt"}:
        parser.error(f"unknown baseline family {', '.join(sorted(strangers))} (known: progressive, ratio, adapt)")
    families = [("ours", ()), *frontier, *(b for b in policies.baselines(quick, levels) if b[0] in wanted)]
    jobs = [Job(f, p, a, r, t, s, seed, days) for a in agents for r in rates for t in talks for s in names
            for seed in seeds for f, p in families]
    jobs.sort(key=lambda j: -j.agents / (j.live_rate * j.talk_s))  # the long runs first
    started = time.perf_counter()
    runs: dict[tuple[int, float, float, str], dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(simulate, job) for job in jobs]
        for n, done in enumerate(as_completed(futures), 1):
            r = done.result()
            runs[r.job.cell][r.name].append(r)
            print(f"[{time.perf_counter() - started:6.0f} s {n}/{len(jobs)}] {r.job.scenario} {r.job.agents} agents "
                  f"{r.job.live_rate:.0%} live {r.job.talk_s:.0f} s seed {r.job.seed} {r.name}: occupancy "
                  f"{r.occupancy:.1%}, worst window {r.worst_window:.2%}, worst day {r.worst_day:.2%} "
                  f"({r.seconds:.0f} s)", file=sys.stderr, flush=True)
    print(f"{days} days per run, seeds {seeds.start}-{seeds.stop - 1}; abandonment target {TARGET:.0%} of the people "
          f"who answered (no agent within 2 s, hung up in silence, or hung up on by AMD), every 30-day window "
          f"and every day")
    failures: list[str] = []
    ratios: list[float] = []
    for cell in sorted(runs):
        a, live, t, s = cell
        by_name = {name: settings_of(rs) for name, rs in runs[cell].items()}
        ours = by_name.pop("ours")
        print(f"\n{s}: {a} agents, {live:.0%} live, {t:.0f} s talk")
        print(f"  {ours.text()}")
        for name in sorted(n for n in by_name if n.startswith("ours@")):
            point = by_name.pop(name)
            print(f"  frontier {name:<8} {point.mean:6.1%} at worst window {point.worst_window:5.2%}, "
                  f"worst day {point.worst_day:5.2%}")
        best_any: Setting | None = None
        for family in ("progressive", "ratio", "adapt"):
            candidates = [x for name, x in by_name.items() if name.split()[0] == family]
            compliant = [x for x in candidates if x.compliant]
            if not compliant:
                print(f"  {family:<13} no setting within 3% (of {len(candidates)})")
                continue
            best = max(compliant, key=lambda x: x.mean)
            print(f"  {best.text()}   (best of {len(compliant)} compliant / {len(candidates)})")
            if best_any is None or best.mean > best_any.mean:
                best_any = best
        where = f"{s}, {a} agents, {live:.0%} live, {t:.0f} s talk"
        if not ours.compliant:
            failures.append(f"{where}: ours abandons {ours.worst_window:.2%} (window), {ours.worst_day:.2%} (day)")
        if best_any is not None:
            ratio = ours.mean / best_any.mean
            ratios.append(ratio)
            print(f"  ours / best compliant baseline ({best_any.name}): {ratio:.3f}")
            if ours.compliant and ratio < 1.0:
                failures.append(f"{where}: {best_any.name} keeps agents busier "
                                f"({best_any.mean:.1%} vs {ours.mean:.1%})")
        if s == "flat" and a >= 20 and live == 0.3 and ours.mean < 0.85:
            failures.append(f"{where}: ours {ours.mean:.1%} < 85%")
    if ratios:
        print(f"\nours / best compliant baseline: {min(ratios):.3f} to {max(ratios):.3f} "
              f"(geometric mean {math.exp(statistics.fmean(map(math.log, ratios))):.3f}) over {len(ratios)} cells")
    print(f"simulated in {time.perf_counter() - started:.0f} s")
    for f in failures:
        print("TARGET MISSED:", f)
    if not failures:
        print("targets met: ours within 3% in every run, window and day, and at or above every tuned baseline")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
