"""One dial attempt from launch to hang-up, and the outcome it ends with (pure).

The dialer originates the customer's leg with a channel id of its own choosing (``dial-<attempt id>``),
so every AMI event of the call names the attempt by its Linkedid. The [dialer] dialplan reports its
stages with UserEvent CCDialer (answered, amd, live, abandoned); app_queue's AgentConnect says an agent
took the call; the Hangup of the customer's channel ends it. Abandonment is counted conservatively: a
live answer that never reached an agent is abandoned, whether the safe-harbor message played or the
customer hung up first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from middleware.dialer.compliance import ABANDONED, BUSY, CONNECTED, FAILED, MACHINE, NO_ANSWER

CHANNEL_PREFIX = "dial-"

# OriginateResponse Reason: the last control frame the customer's leg saw (Asterisk's AST_CONTROL_*).
_REASONS = {0: FAILED, 1: FAILED, 3: NO_ANSWER, 5: BUSY, 8: FAILED}


# Hang-up causes (Q.850) of a carrier that could not take the call: congestion (a 503), network out of
# order, temporary failure, switching congestion, resource unavailable. The next trunk of the route is
# tried. A busy line, no answer or an unknown number is the customer's, the same on every carrier.
FAILOVER_CAUSES = frozenset({34, 38, 41, 42, 47})


def channel_id(attempt_id: int, leg: int = 0) -> str:
    """The customer channel's uniqueid (and the call's linkedid): ``dial-42``, then ``dial-42-1``... for
    the next trunks of its route."""
    return f"{CHANNEL_PREFIX}{attempt_id}" + (f"-{leg}" if leg else "")


def attempt_of(linkedid: str) -> int | None:
    """The attempt a call belongs to, from its linkedid; None for calls the dialer did not make."""
    if not linkedid.startswith(CHANNEL_PREFIX):
        return None
    head, _, leg = linkedid[len(CHANNEL_PREFIX):].partition("-")
    return int(head) if head.isdigit() and (not leg or leg.isdigit()) else None


def unanswered_outcome(reason: int | None) -> str:
    """The outcome of an attempt whose customer never answered."""
    return _REASONS.get(reason if reason is not None else 0, FAILED)


@dataclass
class Attempt:
    id: int
    campaign: str
    lead_id: int
    number: str
    launched_at: datetime
    answered_at: datetime | None = None
    machine: bool = False
    amd_cause: str = ""
    live_at: datetime | None = None
    connected_at: datetime | None = None
    agent: str = ""
    wait_s: float | None = None
    safe_harbor: bool = False
    ended_at: datetime | None = None
    reason: int | None = None
    channel: str = ""  # the customer channel of the leg being dialled (channel_id)

    def stage(self, stage: str, at: datetime, status: str = "", cause: str = "") -> None:
        """A CCDialer UserEvent from the dialplan."""
        if stage == "answered" and self.answered_at is None:
            self.answered_at = at
        elif stage == "amd":
            self.machine = status == "MACHINE"
            self.amd_cause = f"{status} {cause}".strip()
        elif stage == "live" and self.live_at is None and not self.machine:
            self.live_at = at
        elif stage == "abandoned":
            self.safe_harbor = True

    def connect(self, agent: str, at: datetime, hold_s: float | None) -> None:
        if self.connected_at is None:
            self.connected_at = at
            self.agent = agent
            # From the dialplan's own instants; app_queue's HoldTime is in whole seconds.
            self.wait_s = (at - self.live_at).total_seconds() if self.live_at else hold_s

    @property
    def outcome(self) -> str:
        if self.answered_at is None:
            return unanswered_outcome(self.reason)
        if self.machine:
            return MACHINE
        if self.connected_at is not None:
            return CONNECTED
        return ABANDONED  # answered by a person (or hung up before AMD could tell) and no agent took it

    @property
    def ring_s(self) -> float | None:
        end = self.answered_at or self.ended_at
        return None if end is None else max(0.0, (end - self.launched_at).total_seconds())

    @property
    def screen_s(self) -> float | None:
        if self.answered_at is None or self.live_at is None:
            return None
        return max(0.0, (self.live_at - self.answered_at).total_seconds())

    @property
    def talk_s(self) -> float | None:
        if self.connected_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.connected_at).total_seconds())

    @property
    def live(self) -> bool:
        """Counts as a live answer (the denominator of the abandonment rate)."""
        return self.outcome in (CONNECTED, ABANDONED)
