"""What becomes of an attempt and its lead, beyond the campaign's retry rules (compliance.py): the
hang-up cause of an unanswered call, a call blocked at dial time, an attempt whose end was lost, and
the agents' dispositions. Pure: the dialer service applies these; the numbers are policy, named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from middleware.dialer.compliance import DO_NOT_CALL, NextStep, recycled

# Hangup cause (Q.850) of a customer's channel that never answered -> OriginateResponse-style reason
# (AST_CONTROL_*): user busy -> busy, no answer from user -> no answer, no circuit -> congestion.
_CAUSE_TO_REASON = {17: 5, 19: 3, 34: 8}

# A lead blocked at the last moment (its window closed, the campaign paused) is offered again this much later.
BLOCKED_RETRY = timedelta(minutes=15)
# An attempt whose end nobody saw (a restart, an outage) may have been an abandoned call: its lead waits
# as long as an abandoned call's would.
LOST_RETRY = timedelta(hours=72)
# Attempts older than this, still 'dialing', are another node's or a previous run's leftovers.
ORPHAN_AGE = timedelta(hours=6)
# The agents' disposition keys (*44<code> on the phone, or `callcenter lead disposition`).
DISPOSITIONS = {"1": "sale", "2": "not_interested", "3": "callback", "4": "wrong_number", "9": DO_NOT_CALL}
# A list reset leaves these leads alone: the customer bought, is not who the lead says, or said never again.
FINAL_DISPOSITIONS = ("sale", "wrong_number", DO_NOT_CALL)


def reason_of_hangup(cause: int) -> int:
    """The reason an unanswered attempt ended, from its channel's hang-up cause (0: failed)."""
    return _CAUSE_TO_REASON.get(cause, 0)


def after_blocked(on_dnc_list: bool, now: datetime) -> NextStep:
    """A lead not dialled after all: gone for good if its number is on a do-not-call list, else later."""
    return NextStep("dnc", None) if on_dnc_list else NextStep("ready", now + BLOCKED_RETRY)


@dataclass(frozen=True)
class LeadChange:
    """What a disposition does to its lead beyond recording it."""

    status: str | None  # the lead's new status (None: unchanged)
    next_at: datetime | None = None
    add_to_dnc: bool = False


def after_disposition(disposition: str, attempts: int, of_kind: int, max_attempts: int,
                      rules: dict[str, dict[str, int]], now: datetime) -> LeadChange:
    """A disposition given after the lead's ``attempts``-th call, the ``of_kind``-th time it was given:
    do-not-call ends the lead; a recycling rule for it (callback, not interested) brings it back."""
    if disposition == DO_NOT_CALL:
        return LeadChange("dnc", add_to_dnc=True)
    again = recycled(disposition, attempts, of_kind, max_attempts, rules, now)
    return LeadChange(None) if again is None else LeadChange("ready", again)
