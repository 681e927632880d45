"""One simulated day of a predictive campaign: the event simulation bench/dialer_sim.py runs per policy.

A discrete-event simulation on a simulated clock. Calls are placed by the policy (bench/dialer_policies.py)
at its cadence; each call's fate is its lead's (bench/dialer_world.py): rings, answers (a person or a
machine) or not, AMD listens and decides (and may err), a person waits at most 2 s for an agent (or less,
if impatient) or is abandoned, talks, and the agent wraps up. Agents keep their shifts and breaks (a break
starts when the call in hand ends); inbound callers take the first free agent (inbound priority).

What the production controller is shown is what the live dialer reads from PostgreSQL: the agents'
states and how long they have been in them, the attempts in flight (answered? known to be live?), the
finished attempts (outcome, ring, screening and talk time) and the abandonment counts it keeps
(connected and abandoned outcomes, machine verdicts). What the regulator counts is kept apart: every
person who answered, and every one of them who reached no agent within 2 s, hung up on the silence or
was hung up on by AMD.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

from bench import dialer_world as world
from bench.dialer_policies import Policy
from middleware.dialer import compliance, observed

CONNECT_WITHIN_S = 2.0
TICK_S = 0.5

# event kinds
RING_END, VERDICT, DEADLINE, HANGUP, TALK_END, FREE, SHIFT_START, BREAK_START, BREAK_END, SHIFT_END, \
    INBOUND, INBOUND_GIVEUP = range(12)

WORKING = ("available", "on_call", "wrap_up")


@dataclass
class Agent:
    shift: world.Shift
    state: str = "out"          # out | available | on_call | wrap_up | paused
    since: float = 0.0
    break_due: bool = False
    leave_due: bool = False


@dataclass
class Call:
    lead: world.Lead
    launched: float
    answers: bool = False       # a person or a machine will answer
    person: bool = False
    answered: bool = False      # the carrier answered (AMD listening)
    live: bool = False          # AMD said a person (or erred on a machine): needs an agent
    done: bool = False
    ring_s: float | None = None
    connected_at: float | None = None


@dataclass
class Day:
    """What a day adds up to, for the regulator and for the report."""
    people: int = 0             # people who answered
    dropped: int = 0            # of them: no agent within 2 s, hung up in silence, or hung up on by AMD
    talk_s: float = 0.0         # agents talking to people (campaign and inbound)
    working_s: float = 0.0      # agents logged in and not on a break
    calls: int = 0


@dataclass
class Carry:
    """What a campaign carries from day to day: the production counts per day and its recent attempts."""
    counts: list[tuple[int, int, int]] = field(default_factory=list)   # (live, abandoned, machines) per day
    recent: deque[tuple[str, float | None, float | None, float | None]] = field(
        default_factory=lambda: deque(maxlen=observed.RECENT_ATTEMPTS))


class Floor:
    """The campaign floor for one day (implements dialer_policies.Floor)."""

    def __init__(self, policy: Policy, agents: int, live_rate: float, talk_mean: float, scenario: world.Scenario,
                 seed: int, day: int, carry: Carry) -> None:
        self.policy, self.live_rate, self.talk_mean = policy, live_rate, talk_mean
        self.scenario, self.seed, self.day, self.carry = scenario, seed, day, carry
        self.events: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self.now = 0.0
        self.agents = [Agent(s) for s in world.shifts(seed, day, agents, scenario)]
        self.available: list[int] = []
        self.calls: dict[int, Call] = {}
        self.waiting_q: deque[int] = deque()
        self.inbound_q: deque[int] = deque()
        self.inbound = world.inbound_calls(seed, day, agents, scenario)
        self._inbound_waiting: set[int] = set()
        self.inbound_joined: list[float] = []  # when each inbound caller arrived (their queue's QueueCallerJoin)
        self.ready = self.incall = self.wrapup = 0
        self.ringing = self.screening = self.waiting = self.talking = 0
        self.next_lead = 0
        self.result = Day()
        self.live = self.abandoned = self.machines = 0   # production's counts today
        self._placed: deque[float] = deque()   # when calls were placed, and dropped, in the last minute
        self._dropped: deque[float] = deque()
        self.drop_times: list[float] = []
        self._agent_call: dict[int, int] = {}  # agent -> the call it is on (inbound: -1 - caller)
        for i, agent in enumerate(self.agents):
            self._push(agent.shift.start, SHIFT_START, i)
            for j, (start, _end) in enumerate(agent.shift.breaks):
                self._push(start, BREAK_START, i * 16 + j)
            self._push(agent.shift.end, SHIFT_END, i)
        for n, (at, _talk, _patience) in enumerate(self.inbound):
            self._push(at, INBOUND, n)

    # -- what policies see --

    @property
    def inbound_waiting(self) -> int:
        return len(self._inbound_waiting)

    def agent_rows(self) -> list[tuple[str, float]]:
        return [(a.state, self.now - a.since) for a in self.agents if a.state in WORKING]

    def flight_rows(self) -> list[tuple[float, bool, bool]]:
        return [(self.now - c.launched, c.answered, c.live) for c in self.calls.values()
                if c.connected_at is None]

    def counts(self) -> observed.AbandonCounts:
        window = self.carry.counts[-29:]
        return observed.AbandonCounts(
            sum(c[0] for c in window) + self.live, sum(c[1] for c in window) + self.abandoned,
            self.live, self.abandoned, sum(c[2] for c in window) + self.machines, self.machines)

    def recent_attempts(self) -> list[tuple[str, float | None, float | None, float | None]]:
        return list(self.carry.recent)

    def today(self) -> tuple[int, int, int]:
        return self.result.calls, self.live, self.abandoned

    def last_minute(self) -> tuple[int, int]:
        while self._placed and self._placed[0] < self.now - 60:
            self._placed.popleft()
        while self._dropped and self._dropped[0] < self.now - 60:
            self._dropped.popleft()
        return len(self._placed), len(self._dropped)

    # -- the day --

    def run(self) -> Day:
        next_place = 0.0
        next_sample = 0.0
        tick = 0.0
        end = self.scenario.day_s
        while True:
            while self.events and self.events[0][0] <= tick:
                self.now, _, kind, ident = heapq.heappop(self.events)
                self._handle(kind, ident)
            if tick >= end and not self.events:
                break
            self.now = tick
            if tick < end:
                if tick >= next_sample:
                    next_sample += 1.0
                    self.policy.sample(self)
                if tick >= next_place:
                    next_place += self.policy.cadence_s
                    if self.ready + self.incall + self.wrapup:
                        self._launch(self.policy.place(self))
            tick += TICK_S
        for agent in self.agents:
            self._set(agent, "out")
        self.carry.counts.append((self.live, self.abandoned, self.machines))
        return self.result

    def _push(self, at: float, kind: int, ident: int) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, self._seq, kind, ident))

    def _set(self, agent: Agent, state: str) -> None:
        if agent.state in WORKING:
            self.result.working_s += self.now - agent.since
        for name, counter in (("available", "ready"), ("on_call", "incall"), ("wrap_up", "wrapup")):
            if agent.state == name:
                setattr(self, counter, getattr(self, counter) - 1)
            if state == name:
                setattr(self, counter, getattr(self, counter) + 1)
        agent.state, agent.since = state, self.now

    def _launch(self, n: int) -> None:
        s = self.scenario
        for _ in range(n):
            k = self.next_lead
            self.next_lead += 1
            lead = world.lead(self.seed, self.day, k, self.talk_mean, s)
            call = Call(lead, self.now)
            self.calls[k] = call
            self.ringing += 1
            self.result.calls += 1
            self._placed.append(self.now)
            answers = lead.answer_u < world.answer_probability(self.live_rate, s, self.now)
            call.answers = answers
            if answers:
                after = lead.ring_s
                call.person = not lead.machine
            else:
                after = lead.busy_s if lead.busy else world.RING_TIMEOUT_S
            self._push(self.now + s.latency_s + after, RING_END, k)

    def _finish(self, k: int, outcome: str, screen_s: float | None = None, talk_s: float | None = None) -> None:
        call = self.calls.pop(k)
        call.done = True
        self.carry.recent.append((outcome, call.ring_s, screen_s, talk_s))
        self.policy.finished(outcome, call.ring_s, screen_s, talk_s)
        if outcome in observed.LIVE_OUTCOMES:
            self.live += 1
            self.abandoned += outcome == compliance.ABANDONED
            if outcome == compliance.ABANDONED:
                self._dropped.append(self.now)
                self.drop_times.append(self.now)
        elif outcome == compliance.MACHINE:
            self.machines += 1

    def _handle(self, kind: int, ident: int) -> None:
        call: Call | None
        if kind == RING_END:
            call = self.calls[ident]
            self.ringing -= 1
            call.ring_s = self.now - call.launched
            if not call.answers:
                self._finish(ident, compliance.BUSY if call.lead.busy else compliance.NO_ANSWER)
                return
            call.answered = True
            self.screening += 1
            if call.person:
                self.result.people += 1
                if call.lead.hangs_up_in_amd:
                    self._push(self.now + call.lead.screen_s * 0.8, HANGUP, ident)
            self._push(self.now + call.lead.screen_s, VERDICT, ident)
        elif kind == VERDICT:
            call = self.calls.get(ident)
            if call is None:
                return  # hung up while AMD listened
            self.screening -= 1
            says_machine = (not call.person) != call.lead.amd_wrong
            if says_machine:
                if call.person:
                    self.result.dropped += 1  # AMD hung up on a person
                self._finish(ident, compliance.MACHINE)
                return
            call.live = True
            if not self._connect_next(ident):
                self.waiting += 1
                self.waiting_q.append(ident)
                self._push(self.now + CONNECT_WITHIN_S, DEADLINE, ident)
                if call.person and call.lead.patience_s < CONNECT_WITHIN_S:
                    self._push(self.now + call.lead.patience_s, HANGUP, ident)
        elif kind in (DEADLINE, HANGUP):
            call = self.calls.get(ident)
            if call is None or call.connected_at is not None:
                return
            if call.live:
                self.waiting -= 1
            else:
                self.screening -= 1
            if call.person:
                self.result.dropped += 1
            self._finish(ident, compliance.ABANDONED, screen_s=call.lead.screen_s if call.live else None)
        elif kind == TALK_END:
            agent = self.agents[ident]
            self._set(agent, "wrap_up")
            wrap = self.scenario.wrap_mean_s
            k = self._agent_call.pop(ident, None)
            if k is not None and k >= 0:
                talked = self.calls[k]
                self.talking -= 1
                assert talked.connected_at is not None
                wrap = talked.lead.wrap_s
                self._finish(k, compliance.CONNECTED, talked.lead.screen_s, self.now - talked.connected_at)
            self._push(self.now + wrap, FREE, ident)
        elif kind == FREE:
            self._free(ident)
        elif kind == SHIFT_START:
            self._set(self.agents[ident], "available")
            self.available.append(ident)
            self._take_work(ident)
        elif kind == BREAK_START:
            i = ident // 16
            agent = self.agents[i]
            if agent.state == "available":
                self._pause(i)
            elif agent.state != "out":
                agent.break_due = True
        elif kind == BREAK_END:
            agent = self.agents[ident]
            if agent.state == "paused" and not agent.leave_due:
                self._set(agent, "available")
                self.available.append(ident)
                self._take_work(ident)
        elif kind == SHIFT_END:
            agent = self.agents[ident]
            if agent.state in ("available", "paused"):
                if agent.state == "available":
                    self.available.remove(ident)
                self._set(agent, "out")
            else:
                agent.leave_due = True
        elif kind == INBOUND:
            self.inbound_joined.append(self.now)
            if not self._give_inbound(ident):
                self._inbound_waiting.add(ident)
                self.inbound_q.append(ident)
                self._push(self.now + self.inbound[ident][2], INBOUND_GIVEUP, ident)
        elif kind == INBOUND_GIVEUP:
            self._inbound_waiting.discard(ident)

    def _pause(self, i: int) -> None:
        agent = self.agents[i]
        self.available.remove(i)
        self._set(agent, "paused")
        agent.break_due = False
        until = next((b for a, b in agent.shift.breaks if a <= self.now < b), self.now)
        self._push(until, BREAK_END, i)

    def _free(self, i: int) -> None:
        agent = self.agents[i]
        if agent.leave_due:
            self._set(agent, "out")
            return
        self._set(agent, "available")
        self.available.append(i)
        if agent.break_due:
            self._pause(i)
            return
        self._take_work(i)

    def _take_work(self, i: int) -> None:
        """A free agent takes an inbound caller first, then the longest-waiting live answer."""
        while self.inbound_q:
            n = self.inbound_q.popleft()
            if n in self._inbound_waiting:
                self._inbound_waiting.discard(n)
                self._talk(i, -1 - n, self.inbound[n][1])
                return
        while self.waiting_q:
            k = self.waiting_q.popleft()
            call = self.calls.get(k)
            if call is not None and call.connected_at is None:
                self.waiting -= 1
                self._connect(i, k)
                return

    def _connect_next(self, k: int) -> bool:
        if not self.available:
            return False
        self._connect(self.available[-1], k)
        return True

    def _give_inbound(self, n: int) -> bool:
        if not self.available:
            return False
        self._talk(self.available[-1], -1 - n, self.inbound[n][1])
        return True

    def _connect(self, i: int, k: int) -> None:
        call = self.calls[k]
        call.connected_at = self.now
        self.talking += 1
        self._talk(i, k, call.lead.talk_s)
        if not call.person:
            self.result.talk_s -= call.lead.talk_s  # a machine AMD let through: the agent's time, wasted

    def _talk(self, i: int, k: int, seconds: float) -> None:
        self.available.remove(i)
        self._set(self.agents[i], "on_call")
        self._agent_call[i] = k
        self.result.talk_s += seconds
        self._push(self.now + seconds, TALK_END, i)
