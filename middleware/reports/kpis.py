"""The numbers a call center is run by, from call records and agent state history. Pure.

Definitions (one place, so that every report says the same thing):
- offered: calls that reached a queue; answered: an agent connected; abandoned: the caller hung up
  in the queue (``short`` abandons, within ``short_abandon_s``, are counted apart).
- ASA: mean wait of answered calls. Longest wait: over answered and abandoned calls.
- AHT: mean talk of answered calls plus the mean after-call work (the agent's wrap-up that
  followed the call, from the state history).
- Service level: answered within the threshold / (offered - short abandons).
- First-call resolution: answered calls whose number did not call again within the window.
- Occupancy: time on calls and in wrap-up / time available, ringing, on calls or in wrap-up.
  Utilisation: the same busy time / all logged-in time (paused included).
- Transfer rate: answered calls passed on by a transfer / answered calls.
- CSAT: mean of the post-call survey answers (1-5) and how many callers answered.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

BUSY = frozenset({"on_call", "wrap_up"})
STAFFED = frozenset({"available", "ringing", "on_call", "wrap_up"})
LOGGED_IN = STAFFED | {"paused"}


@dataclass(frozen=True)
class CallFact:
    linkedid: str
    caller_number: str
    queue: str | None
    agent: str | None
    started_at: datetime
    ended_at: datetime
    wait_s: float | None
    talk_s: float | None
    disposition: str
    transfers: int = 0
    campaign: str | None = None
    csat: int | None = None  # the caller's post-call survey answer, 1-5


@dataclass(frozen=True)
class StateSpan:
    agent: str
    state: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Kpis:
    group: str
    offered: int
    answered: int
    abandoned: int
    abandoned_after_short: int
    asa_s: float | None
    aht_s: float | None
    service_level: float | None
    longest_wait_s: float | None
    fcr: float | None
    occupancy: float | None
    utilisation: float | None
    transfer_rate: float | None
    csat_avg: float | None = None
    csat_responses: int = 0


def spans_from_history(history: Sequence[tuple[str, str, datetime]], until: datetime) -> list[StateSpan]:
    """(agent, state, since) rows in time order per agent -> spans; the last one runs until ``until``."""
    by_agent: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for agent, state, since in history:
        by_agent[agent].append((state, since))
    spans = []
    for agent, rows in by_agent.items():
        rows.sort(key=lambda r: r[1])
        for (state, start), nxt in zip(rows, [*rows[1:], (None, until)], strict=True):
            end = min(nxt[1], until)
            if end > start:
                spans.append(StateSpan(agent, state, start, end))
    return spans


def clip(spans: Iterable[StateSpan], start: datetime, end: datetime) -> list[StateSpan]:
    out = []
    for s in spans:
        a, b = max(s.start, start), min(s.end, end)
        if b > a:
            out.append(StateSpan(s.agent, s.state, a, b))
    return out


def after_call_work(call: CallFact, spans_by_agent: dict[str, list[StateSpan]], slack_s: float = 3.0) -> float:
    """The wrap-up the agent went into when this call ended (0 if none)."""
    if call.agent is None:
        return 0.0
    for s in spans_by_agent.get(call.agent, []):
        if s.state == "wrap_up" and abs((s.start - call.ended_at).total_seconds()) <= slack_s:
            return s.seconds
    return 0.0


def repeat_callers(calls: Sequence[CallFact], window: timedelta) -> set[str]:
    """Linkedids of calls followed by another call from the same number within ``window``."""
    by_number: dict[str, list[CallFact]] = defaultdict(list)
    for c in calls:
        if c.caller_number:
            by_number[c.caller_number].append(c)
    repeated = set()
    for group in by_number.values():
        group.sort(key=lambda c: c.started_at)
        for this, nxt in itertools.pairwise(group):
            if nxt.started_at - this.started_at <= window:
                repeated.add(this.linkedid)
    return repeated


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _ratio(top: float, bottom: float) -> float | None:
    return round(top / bottom, 3) if bottom > 0 else None


def compute(group: str, calls: Sequence[CallFact], spans: Sequence[StateSpan], *, all_calls: Sequence[CallFact],
            service_level_s: float = 20.0, short_abandon_s: float = 5.0,
            fcr_window: timedelta = timedelta(hours=24)) -> Kpis:
    """KPIs of ``calls`` (one group) with ``spans`` the agent time that belongs to it. ``all_calls``
    (every call of the tenant, also after the period) decides whether a caller called again."""
    queued = [c for c in calls if c.queue is not None]
    answered = [c for c in queued if c.disposition == "answered"]
    abandoned = [c for c in queued if c.disposition == "abandoned"]
    short = [c for c in abandoned if (c.wait_s or 0.0) <= short_abandon_s]
    by_agent: dict[str, list[StateSpan]] = defaultdict(list)
    for s in spans:
        by_agent[s.agent].append(s)
    handle = [(c.talk_s or 0.0) + after_call_work(c, by_agent) for c in answered]
    within = sum(1 for c in answered if (c.wait_s or 0.0) <= service_level_s)
    waits = [c.wait_s for c in answered + abandoned if c.wait_s is not None]
    repeated = repeat_callers(all_calls, fcr_window)
    busy = sum(s.seconds for s in spans if s.state in BUSY)
    staffed = sum(s.seconds for s in spans if s.state in STAFFED)
    logged_in = sum(s.seconds for s in spans if s.state in LOGGED_IN)
    return Kpis(
        group=group,
        offered=len(queued),
        answered=len(answered),
        abandoned=len(abandoned),
        abandoned_after_short=len(abandoned) - len(short),
        asa_s=_mean([c.wait_s for c in answered if c.wait_s is not None]),
        aht_s=_mean(handle),
        service_level=_ratio(within, len(queued) - len(short)),
        longest_wait_s=round(max(waits), 1) if waits else None,
        fcr=_ratio(sum(1 for c in answered if c.linkedid not in repeated), len(answered)),
        occupancy=_ratio(busy, staffed),
        utilisation=_ratio(busy, logged_in),
        transfer_rate=_ratio(sum(1 for c in answered if c.transfers), len(answered)),
        csat_avg=round(sum(scores) / len(scores), 2) if (scores := [c.csat for c in answered if c.csat]) else None,
        csat_responses=len(scores),
    )


GROUPINGS: dict[str, Callable[[CallFact], str | None]] = {
    "queue": lambda c: c.queue,
    "agent": lambda c: c.agent,
    "campaign": lambda c: c.campaign,
    "hour": lambda c: f"{c.started_at:%Y-%m-%d %H}:00",
}


def report(calls: Sequence[CallFact], spans: Sequence[StateSpan], by: str, start: datetime, end: datetime, *,
           service_level_s: float = 20.0, short_abandon_s: float = 5.0,
           fcr_window: timedelta = timedelta(hours=24)) -> list[Kpis]:
    """One row per group of the calls started in [start, end), plus a "total" row."""
    key = GROUPINGS[by]
    period = [c for c in calls if start <= c.started_at < end]
    clipped = clip(spans, start, end)
    groups: dict[str, list[CallFact]] = defaultdict(list)
    for c in period:
        k = key(c)
        if k is not None:
            groups[k].append(c)
    rows = []
    for name in sorted(groups):
        if by == "agent":
            own = [s for s in clipped if s.agent == name]
        elif by == "hour":
            hour = datetime.strptime(name, "%Y-%m-%d %H:00").replace(tzinfo=start.tzinfo)
            own = clip(clipped, hour, hour + timedelta(hours=1))
        else:
            agents = {c.agent for c in groups[name] if c.agent}
            own = [s for s in clipped if s.agent in agents]
        rows.append(compute(name, groups[name], own, all_calls=calls, service_level_s=service_level_s,
                            short_abandon_s=short_abandon_s, fcr_window=fcr_window))
    rows.append(compute("total", period, clipped, all_calls=calls, service_level_s=service_level_s,
                        short_abandon_s=short_abandon_s, fcr_window=fcr_window))
    return rows
