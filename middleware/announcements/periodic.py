"""Periodic position and wait announcements to callers waiting in a queue: who is due one. Pure.

app_queue can only announce its own running-average hold time, so the middleware announces ours. A
caller whose last announcement is ``every_s`` old gets it whispered into their channel (ChanSpy with
the w option, from a Local channel whose other half plays it over FastAGI). They never leave the
queue, so their place, the agents being rung and a skills queue's widening all go on; the whisper is
hung up as soon as an agent answers. (Taking the caller out with QueueWithdrawCaller and putting them
back was tried first: for the ~8 s of the announcement an agent who came free took the next caller.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# An Asterisk uniqueid ("1795385026.2", no systemname set) becomes the whispering Local channel's exten.
SAFE_UNIQUEID = re.compile(r"\A[0-9]+\.[0-9]+\Z")
WHISPER_CONTEXT = "queue-announce"


@dataclass(frozen=True)
class WaitingCaller:
    uniqueid: str
    channel: str
    position: int
    joined_at: float  # when the caller joined the queue (epoch seconds)


def due(callers: Iterable[WaitingCaller], last_announced: dict[str, float], every_s: int, now: float,
        min_gap_s: float = 10.0) -> list[WaitingCaller]:
    """Callers whose last announcement (or their joining, announced by the IVR) is ``every_s`` old.
    Nobody is announced twice within ``min_gap_s``, however short the interval."""
    if every_s <= 0:
        return []
    out = []
    for c in callers:
        since = now - last_announced.get(c.uniqueid, c.joined_at)
        if since >= max(every_s, min_gap_s):
            out.append(c)
    return out


def whisper_channel_pattern(uniqueid: str) -> str:
    """A regex naming the Local channels of ``uniqueid``'s announcement (for AMI Hangup)."""
    return f"^Local/{re.escape(uniqueid)}@{WHISPER_CONTEXT}-"
