"""The rules of a callback, pure: where it re-enters its queue, how often an unanswered customer is
tried again, which 'dialing' callbacks were lost, and reading what the dialplan passes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

MAX_ATTEMPTS = 3  # an unanswered customer is tried this often in all
RETRY_AFTER_S = 60.0  # ... this long apart
# "I'm sorry, that feature is not available on this line": played when the dialing policy or the rate
# limits refuse to call a caller back on the number they called from.
REFUSED_PROMPTS = ("im-sorry", "feature-not-avail-line")
CHANNEL_CONTEXT = "callback-queue"  # the Local channel that waits in the queue for the callback


def place_in_queue(joined_at: float, waiting_joined_at: Iterable[float]) -> int:
    """Queue position (1 = next) for a caller who first joined at ``joined_at``: behind everyone
    still waiting who joined earlier, ahead of everyone who joined later."""
    return 1 + sum(1 for t in waiting_joined_at if t < joined_at)


def status_after_call(talked: bool, attempts: int, max_attempts: int = MAX_ATTEMPTS) -> str:
    """A callback's status once its call ended: done, pending (tried again later) or failed."""
    if talked:
        return "done"
    return "pending" if attempts < max_attempts else "failed"


def local_channel(callback_id: int) -> str:
    return f"Local/{callback_id}@{CHANNEL_CONTEXT}/n"


def task_name(callback_id: int) -> str:
    return f"callback-{callback_id}"


def lost(dialing: Iterable[int], placing: set[str], live_channels: Iterable[str]) -> list[int]:
    """Callbacks 'dialing' in PostgreSQL with neither an Originate still being placed here nor a
    channel in Asterisk: their end was never seen."""
    live = list(live_channels)
    return [i for i in dialing if task_name(i) not in placing
            and not any(ch.startswith(f"Local/{i}@{CHANNEL_CONTEXT}") for ch in live)]


def joined_at_of(epoch: str) -> datetime | None:
    """${EPOCH} from the dialplan, set as the caller joined the queue; None if absent or garbled."""
    try:
        value = float(epoch)
    except ValueError:
        return None
    return datetime.fromtimestamp(value, UTC) if 1e9 < value < 1e10 else None


def did_of(text: str) -> str:
    """The DID the caller called, as the dialplan passes it: digits and '+' only."""
    return re.sub(r"[^+0-9]", "", text)[:20]
