"""When a lead may be called, and again: calling windows, recycling rules, the 72-hour rule.

Pure functions of the lead, the campaign's rules and the instant; the hopper's SQL applies the same
rules when it claims leads, and the dialer checks each claimed lead again here before it dials.

A recycling rule (``retry_rules`` of a campaign) names an attempt's outcome, or an agent's disposition
that brings a lead back (callback, not interested), with ``after_s`` (how long the lead rests) and
``max`` (after this many calls ended that way the lead is given up). The campaign's ``max_attempts``
caps every lead's calls whatever the rules say; a list reset (``callcenter lists reset``) starts the
counts again.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from middleware.errors import Invalid

# Outcomes of one attempt.
CONNECTED = "connected"      # a live answer put through to an agent
ABANDONED = "abandoned"      # a live answer with no agent within 2 s (safe-harbor message played)
MACHINE = "machine"          # an answering machine (AMD)
NO_ANSWER = "no_answer"      # rang out
BUSY = "busy"
FAILED = "failed"            # congestion, unreachable, trunk down
OUTCOMES = (CONNECTED, ABANDONED, MACHINE, NO_ANSWER, BUSY, FAILED)

# Dispositions that may bring a lead back (the others are final: a sale, a wrong number, do-not-call).
CALLBACK = "callback"
DO_NOT_CALL = "do_not_call"
NOT_INTERESTED = "not_interested"
RECYCLED_DISPOSITIONS = (CALLBACK, NOT_INTERESTED)

ABANDON_QUIET = timedelta(hours=72)  # no new call to a number whose call was abandoned, this long
LEGAL_WINDOW = (time(8, 0), time(21, 0))

DEFAULT_RETRY: dict[str, dict[str, int]] = {
    NO_ANSWER: {"after_s": 4 * 3600, "max": 3},
    BUSY: {"after_s": 15 * 60, "max": 3},
    MACHINE: {"after_s": 6 * 3600, "max": 2},
    FAILED: {"after_s": 30 * 60, "max": 2},
    ABANDONED: {"after_s": int(ABANDON_QUIET.total_seconds()), "max": 2},
    CALLBACK: {"after_s": 24 * 3600, "max": 3},
}
RECYCLABLE = (*DEFAULT_RETRY, NOT_INTERESTED)  # not interested: not recycled unless a rule says so


class RuleError(Invalid):
    """A campaign setting that the law or the dialer cannot work with."""


def check_window(start: time, end: time) -> tuple[time, time]:
    if not (LEGAL_WINDOW[0] <= start < end <= LEGAL_WINDOW[1]):
        raise RuleError(f"calling window {start:%H:%M}-{end:%H:%M} must lie within "
                        f"{LEGAL_WINDOW[0]:%H:%M}-{LEGAL_WINDOW[1]:%H:%M} of the called party's time")
    return start, end


def check_retry_rules(rules: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Merge the given rules over the defaults; an abandoned call never comes back within 72 h."""
    merged = with_defaults({})
    for outcome, rule in rules.items():
        if outcome not in RECYCLABLE:
            raise RuleError(f"retry rule for {outcome!r}: the outcomes and dispositions that may be recycled "
                            f"are {', '.join(sorted(RECYCLABLE))}")
        if not isinstance(rule, dict) or set(rule) - {"after_s", "max"}:
            raise RuleError(f"retry rule for {outcome}: give after_s and/or max")
        for key, value in rule.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RuleError(f"retry rule for {outcome}: {key} must be a whole number >= 0")
        merged[outcome] = {**merged.get(outcome, {"after_s": 0, "max": 2}), **rule}  # (a new rule: one recycle)
    if merged[ABANDONED]["after_s"] < ABANDON_QUIET.total_seconds():
        raise RuleError("an abandoned call may not be retried within 72 hours")
    return merged


def with_defaults(rules: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """A campaign's stored rules over today's defaults (a campaign created before a default existed)."""
    return {k: dict(v) for k, v in DEFAULT_RETRY.items()} | {k: dict(v) for k, v in rules.items()}


def in_window(now: datetime, zone: str, start: time, end: time) -> bool:
    """Is it between ``start`` and ``end`` where the called party is?"""
    local = now.astimezone(zoneinfo.ZoneInfo(zone)).time()
    return start <= local < end


@dataclass(frozen=True)
class NextStep:
    status: str                  # ready (to be retried) | done | failed
    next_at: datetime | None


def recycled(kind: str, attempts: int, of_kind: int, max_attempts: int, rules: dict[str, dict[str, int]],
             now: datetime) -> datetime | None:
    """When a lead comes back after its ``attempts``-th call, the ``of_kind``-th to end as ``kind`` (an
    outcome or a disposition); None when it does not: no rule, the rule's max or the campaign's reached."""
    rule = rules.get(kind)
    if rule is None or attempts >= max_attempts or of_kind >= rule["max"]:
        return None
    wait = timedelta(seconds=rule["after_s"])
    if kind == ABANDONED:
        wait = max(wait, ABANDON_QUIET)
    return now + wait


def after_attempt(outcome: str, attempts: int, of_kind: int, max_attempts: int,
                  rules: dict[str, dict[str, int]], now: datetime) -> NextStep:
    """What becomes of a lead after its ``attempts``-th attempt, the ``of_kind``-th to end with
    ``outcome``. A connected call is done (its disposition may recycle it: outcomes.after_disposition)."""
    if outcome == CONNECTED:
        return NextStep("done", None)
    again = recycled(outcome, attempts, of_kind, max_attempts, rules, now)
    return NextStep("failed", None) if again is None else NextStep("ready", again)
