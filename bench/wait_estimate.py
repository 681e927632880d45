"""Wait-estimate accuracy: ours against Asterisk's running holdtime average and the Erlang C mean.

A seeded simulation of one FIFO queue: Poisson arrivals, log-normal handle times (mean 180 s),
5 to 100 agents at about 90% occupancy. Every arriving caller gets three estimates, then the
simulation tells how long they really waited. Prints the mean absolute error (seconds) of each and
the ratios against ours. Estimators see only what a live system sees: the queue, which agents are
busy and for how long, the running average of finished handle times or waits.

    .venv/bin/python bench/wait_estimate.py [--callers 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.routing.wait_estimate import QueueSnapshot, asterisk_holdtime, erlang_c_wait, estimate_wait

MEAN_HANDLE_S = 180.0
SIGMA = 0.6


def simulate(agents: int, occupancy: float, callers: int, rng: random.Random) -> dict[str, float]:
    mu = math.log(MEAN_HANDLE_S) - SIGMA**2 / 2  # log-normal with the wanted mean
    arrival_rate = occupancy * agents / MEAN_HANDLE_S
    free_at: list[float] = [0.0] * agents  # per agent: when the current call ends
    started: list[float] = [0.0] * agents
    waiting: deque[tuple[int, float]] = deque()  # (caller id, arrival time)
    events: list[tuple[float, int, int]] = []  # (time, kind 0=agent free 1=arrival, id)
    estimates: dict[int, tuple[float, float, float]] = {}
    errors = {"ours": 0.0, "asterisk": 0.0, "erlang_c": 0.0}
    counted = 0
    aht_sum, aht_n = MEAN_HANDLE_S, 1  # running average handle time, as statistics would give it
    holdtime = 0.0  # app_queue's running average of completed waits
    erlang = erlang_c_wait(agents, arrival_rate, MEAN_HANDLE_S)
    t = 0.0
    for cid in range(callers):
        t += rng.expovariate(arrival_rate)
        heapq.heappush(events, (t, 1, cid))
    idle = set(range(agents))

    def serve(now: float, caller: int, arrived: float, agent: int) -> None:
        nonlocal holdtime, counted
        handle = rng.lognormvariate(mu, SIGMA)
        idle.discard(agent)
        started[agent], free_at[agent] = now, now + handle
        heapq.heappush(events, (now + handle, 0, agent))
        wait = now - arrived
        holdtime = asterisk_holdtime(holdtime, wait)
        if caller >= callers // 10:  # skip the warm-up tenth
            ours, asterisk, erl = estimates.pop(caller)
            errors["ours"] += abs(ours - wait)
            errors["asterisk"] += abs(asterisk - wait)
            errors["erlang_c"] += abs(erl - wait)
            counted += 1
        else:
            estimates.pop(caller, None)

    while events:
        now, kind, ident = heapq.heappop(events)
        if kind == 1:
            position = len(waiting) + 1
            busy = [now - started[a] for a in range(agents) if a not in idle]
            ours = estimate_wait(QueueSnapshot(position, len(idle), busy, aht_sum / aht_n))
            # app_queue announces its running average hold time, whatever the caller's position.
            estimates[ident] = (ours if math.isfinite(ours) else 0.0, holdtime,
                                erlang if math.isfinite(erlang) else 0.0)
            if idle and not waiting:
                serve(now, ident, now, min(idle))
            else:
                waiting.append((ident, now))
        else:
            aht_sum += now - started[ident]
            aht_n += 1
            idle.add(ident)
            if waiting:
                caller, arrived = waiting.popleft()
                serve(now, caller, arrived, ident)
    return {k: v / counted for k, v in errors.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--occupancy", type=float, default=0.9)
    args = parser.parse_args()
    print(f"Mean absolute error of the wait estimate, seconds ({args.callers} callers per run, "
          f"{args.occupancy:.0%} occupancy, log-normal handle times, mean {MEAN_HANDLE_S:.0f} s)")
    print(f"{'agents':>6}  {'ours':>8}  {'asterisk':>9}  {'erlang C':>9}  {'asterisk/ours':>13}  {'erlangC/ours':>12}")
    worst = 0.0
    for agents in (5, 10, 20, 50, 100):
        e = simulate(agents, args.occupancy, args.callers, random.Random(args.seed + agents))
        ratio_a, ratio_e = e["asterisk"] / e["ours"], e["erlang_c"] / e["ours"]
        worst = max(worst, 1 / ratio_a)
        print(f"{agents:>6}  {e['ours']:>8.1f}  {e['asterisk']:>9.1f}  {e['erlang_c']:>9.1f}  {ratio_a:>13.2f}  "
              f"{ratio_e:>12.2f}")
    print(f"ours is the most accurate where both ratios exceed 1 (worst ours/asterisk error: {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
