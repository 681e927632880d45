"""Call records rebuilt from Asterisk's own CDR rows (cdr_pgsql), for calls the middleware never
recorded (it was down, or crashed with calls in progress). Pure: raw rows in, records out.

Asterisk writes one row per party pair: for a queue call, the caller's row whose application was
Queue and whose disposition is ANSWERED names the agent's channel and the talk time (billsec); a
ringall queue adds a NO ANSWER row per member rung. The rebuilt record has what those rows hold:
when, who called, the DID, the queue, the agent, talk and duration. The wait in the queue is not in
them (it is left empty).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from middleware.cdr.assembly import CallRecord
from middleware.pbx_events import endpoint_of_channel


@dataclass(frozen=True)
class RawCdr:
    linkedid: str
    uniqueid: str
    calldate: datetime
    src: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    duration: int
    billsec: int
    disposition: str
    did: str = ""
    queue: str = ""


def rebuild(rows: Iterable[RawCdr], agent_of: Callable[[str], str | None]) -> list[CallRecord]:
    by_call: dict[str, list[RawCdr]] = defaultdict(list)
    for r in rows:
        by_call[r.linkedid].append(r)
    return [_record(linkedid, sorted(group, key=lambda r: r.calldate), agent_of)
            for linkedid, group in sorted(by_call.items())]


def _record(linkedid: str, rows: list[RawCdr], agent_of: Callable[[str], str | None]) -> CallRecord:
    first = next((r for r in rows if r.uniqueid == linkedid), rows[0])
    started = min(r.calldate for r in rows)
    ended = max(r.calldate + timedelta(seconds=r.duration) for r in rows)
    answered = next((r for r in rows if r.lastapp == "Queue" and r.disposition == "ANSWERED" and r.dstchannel), None)
    queue = next((r.queue for r in rows if r.queue), "")
    did = next((r.did for r in rows if r.did), "")
    agent = agent_of(endpoint_of_channel(answered.dstchannel)) if answered else None
    if answered:
        disposition = "answered"
    elif queue:
        disposition = "abandoned"
    elif any(r.disposition == "ANSWERED" for r in rows):
        disposition = "ivr_hangup"
    else:
        disposition = "unanswered"
    connected = ended - timedelta(seconds=answered.billsec) if answered else None
    legs: tuple[dict[str, object], ...] = tuple(
        {"uniqueid": r.uniqueid, "channel": r.channel, "role": "caller" if r is first else "other",
         "started_at": r.calldate.isoformat(), "dstchannel": r.dstchannel, "disposition": r.disposition}
        for r in rows)
    return CallRecord(
        linkedid=linkedid, did=did, caller_number=first.src, caller_name="", started_at=started,
        answered_at=None, queue=queue or None, queue_entered_at=None, agent_code=agent,
        agent_channel=answered.dstchannel if answered else None, connected_at=connected, ended_at=ended,
        wait_s=None, talk_s=float(answered.billsec) if answered else None,
        duration_s=round((ended - started).total_seconds(), 3),
        ring_attempts=sum(1 for r in rows if r.lastapp == "Queue" and r.dstchannel),
        disposition=disposition, hangup_cause=None, ended_by="reconciled", legs=legs)
