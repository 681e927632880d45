"""Routing decision time: 1,000 agents, 200 waiting calls.

For each waiting call, the placement decision the middleware makes when it connects a call itself (the
outbound dialer bridging an answered customer; callbacks now wait in their queue): the best free
agent of the call's skill, most proficient then longest idle, no agent twice. Also the penalty each
member gets in a skills queue. Prints p50/p99 per decision against a baseline in the same run (a
plain sort of all agents per call). Target: p99 < 1 ms.

    .venv/bin/python bench/routing.py [--agents 1000] [--calls 200] [--rounds 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.routing.choose import Candidate, best_agent
from middleware.routing.skills import member_penalty

SKILLS = ("billing", "sales", "support", "spanish", "french", "tech", "vip", "retention")


def world(agents: int, rng: random.Random) -> dict[str, list[Candidate]]:
    """Free agents per skill (as the query gives them), each with a proficiency and an idle time."""
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    by_skill: dict[str, list[Candidate]] = {s: [] for s in SKILLS}
    for i in range(agents):
        skills = rng.sample(SKILLS, rng.randint(1, 4))
        idle = now - timedelta(seconds=rng.randint(0, 3600))
        for s in skills:
            by_skill[s].append(Candidate(f"{1000 + i}", f"ep-{i}", rng.randint(1, 5), idle))
    return by_skill


def decide_all(by_skill: dict[str, list[Candidate]], calls: list[str]) -> list[float]:
    taken: set[str] = set()
    times = []
    for skill in calls:
        t0 = time.perf_counter()
        agent = best_agent(by_skill[skill], exclude=frozenset(taken))
        if agent is not None:
            taken.add(agent.code)
            member_penalty(skill, {skill: agent.proficiency})
        times.append(time.perf_counter() - t0)
    return times


def baseline_all(by_skill: dict[str, list[Candidate]], calls: list[str]) -> list[float]:
    taken: set[str] = set()
    times = []
    for skill in calls:
        t0 = time.perf_counter()
        ranked = sorted((c for c in by_skill[skill] if c.code not in taken),
                        key=lambda c: (-c.proficiency, c.idle_since))
        if ranked:
            taken.add(ranked[0].code)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(11)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.rounds):
        by_skill = world(args.agents, rng)
        calls = [rng.choice(SKILLS) for _ in range(args.calls)]
        ours += decide_all(by_skill, calls)
        base += baseline_all(by_skill, calls)

    def q(xs: list[float], p: int) -> float:
        return statistics.quantiles(xs, n=100)[p - 1] * 1000

    print(f"routing decisions: {args.agents} agents, {args.calls} waiting calls, {args.rounds} rounds")
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'ours':10} {q(ours, 50):>8.3f} {q(ours, 99):>8.3f}")
    print(f"{'sort':10} {q(base, 50):>8.3f} {q(base, 99):>8.3f}")
    ratio = q(base, 99) / q(ours, 99)
    ok = q(ours, 99) < 1.0
    print(f"baseline/ours at p99 = {ratio:.2f}; target p99 < 1 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
