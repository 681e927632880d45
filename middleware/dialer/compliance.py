"""When a lead may be called, and again: calling windows, retry rules, the 72-hour rule.

Pure functions of the lead, the campaign's rules and the instant; the hopper's SQL applies the same
rules when it claims leads, and the dialer checks each claimed lead again here before it dials.
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

ABANDON_QUIET = timedelta(hours=72)  # no new call to a number whose call was abandoned, this long
LEGAL_WINDOW = (time(8, 0), time(21, 0))

DEFAULT_RETRY: dict[str, dict[str, int]] = {
    NO_ANSWER: {"after_s": 4 * 3600, "max": 3},
    BUSY: {"after_s": 15 * 60, "max": 3},
    MACHINE: {"after_s": 6 * 3600, "max": 2},
    FAILED: {"after_s": 30 * 60, "max": 2},
    ABANDONED: {"after_s": int(ABANDON_QUIET.total_seconds()), "max": 2},
}


class RuleError(Invalid):
    """A campaign setting that the law or the dialer cannot work with."""


def check_window(start: time, end: time) -> tuple[time, time]:
    if not (LEGAL_WINDOW[0] <= start < end <= LEGAL_WINDOW[1]):
        raise RuleError(f"calling window {start:%H:%M}-{end:%H:%M} must lie within "
                        f"{LEGAL_WINDOW[0]:%H:%M}-{LEGAL_WINDOW[1]:%H:%M} of the called party's time")
    return start, end


def check_retry_rules(rules: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Merge the given rules over the defaults; an abandoned call never comes back within 72 h."""
    merged = {k: dict(v) for k, v in DEFAULT_RETRY.items()}
    for outcome, rule in rules.items():
        if outcome not in merged:
            raise RuleError(f"retry rule for {outcome!r}: outcomes that retry are {', '.join(sorted(merged))}")
        if not isinstance(rule, dict) or set(rule) - {"after_s", "max"}:
            raise RuleError(f"retry rule for {outcome}: give after_s and/or max")
        for key, value in rule.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RuleError(f"retry rule for {outcome}: {key} must be a whole number >= 0")
        merged[outcome].update(rule)
    if merged[ABANDONED]["after_s"] < ABANDON_QUIET.total_seconds():
        raise RuleError("an abandoned call may not be retried within 72 hours")
    return merged


def in_window(now: datetime, zone: str, start: time, end: time) -> bool:
    """Is it between ``start`` and ``end`` where the called party is?"""
    local = now.astimezone(zoneinfo.ZoneInfo(zone)).time()
    return start <= local < end


@dataclass(frozen=True)
class NextStep:
    status: str                  # ready (to be retried) | done | failed
    next_at: datetime | None


def after_attempt(outcome: str, attempts: int, max_attempts: int, rules: dict[str, dict[str, int]],
                  now: datetime, disposition: str | None = None) -> NextStep:
    """What becomes of a lead after its ``attempts``-th attempt ended with ``outcome``."""
    if outcome == CONNECTED:
        if disposition == "callback":
            return NextStep("ready", now + timedelta(hours=24)) if attempts < max_attempts else NextStep("done", None)
        return NextStep("done", None)
    rule = rules.get(outcome)
    if rule is None:
        return NextStep("failed", None)
    tries_of_this_kind_allowed = rule["max"]
    if attempts >= max_attempts or attempts >= tries_of_this_kind_allowed:
        return NextStep("failed", None)
    wait = timedelta(seconds=rule["after_s"])
    if outcome == ABANDONED:
        wait = max(wait, ABANDON_QUIET)
    return NextStep("ready", now + wait)
