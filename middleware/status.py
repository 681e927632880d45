"""What the service tells about itself: ``/healthz`` (a report from state, never from a query: cheap for
anyone to ask, and no server text leaks out) and ``/metrics`` (Prometheus samples). Both read the
parts the wiring built; neither changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from middleware.agi.server import FastAgiServer
from middleware.ami.client import AmiClient
from middleware.api.metrics import Sample, summary
from middleware.cdr.service import CdrService
from middleware.dialing.service import DialingGate
from middleware.dispatch import EventDispatch
from middleware.event_stream import EventStream
from middleware.health import DatabaseHealth
from middleware.security.service import SipGuard
from middleware.supervisor import Supervisor
from middleware.trunks.service import TrunkMonitor


@dataclass(frozen=True)
class Parts:
    """The running parts, as far as this process runs them (None: not started here)."""

    db: DatabaseHealth
    cdr: CdrService
    supervisor: Supervisor
    gate: DialingGate
    sip_guard: SipGuard
    dispatch: EventDispatch
    events: EventStream | None
    ami: AmiClient | None  # when this process consumes AMI
    agi: FastAgiServer | None  # when this process serves FastAGI
    trunks: TrunkMonitor | None = None  # when this process consumes AMI


def health(p: Parts) -> dict[str, Any]:
    db = p.db
    report: dict[str, Any] = {"database": {"ok": not db.down, "error": db.last_error if db.down else "",
                                           "down_since": db.down_since.isoformat() if db.down_since else None,
                                           "outages": db.outages}}
    if p.ami is not None:
        report["ami"] = {"ok": p.ami.connected, "events": p.ami.events_received, "logins": p.ami.logins}
    if p.agi is not None:
        report["agi"] = {"ok": True, "port": p.agi.port, "sessions": p.agi.sessions_served,
                         "rejected": p.agi.requests_rejected}
    cdr = p.cdr
    # Degraded when records wait in memory: the journal cannot be written (disk full, EACCES).
    report["cdr"] = {"ok": cdr.journal_ok and not cdr.unjournaled,
                     "written": cdr.records_written, "in_progress": len(cdr.assembler.calls),
                     "journal_backlog": cdr.journal.backlog() if cdr.journal else 0,
                     "in_memory": len(cdr.unjournaled), "lost": cdr.records_lost,
                     "journal_writable": cdr.journal_ok, "replayed": cdr.replayed}
    report["tasks"] = {"ok": True, "restarts": dict(p.supervisor.restarts)}
    return report


def metrics(p: Parts) -> list[Sample]:
    """Calls in progress, AGI sessions, AMI reconnects, event lag, backlog, refusals, restarts."""
    cdr = p.cdr
    out = [Sample("callcenter_up", "gauge", "1 while the service runs", 1),
           Sample("callcenter_calls_in_progress", "gauge", "calls being assembled from AMI events",
                  len(cdr.assembler.calls)),
           Sample("callcenter_call_records_written_total", "counter", "call records stored", cdr.records_written),
           Sample("callcenter_journal_backlog", "gauge",
                  "call records journalled while PostgreSQL was away, not yet replayed",
                  cdr.journal.backlog() if cdr.journal else 0),
           Sample("callcenter_records_in_memory", "gauge",
                  "call records neither PostgreSQL nor the journal could take yet", len(cdr.unjournaled)),
           Sample("callcenter_records_lost_total", "counter",
                  "call records dropped from a full in-memory backlog", cdr.records_lost),
           Sample("callcenter_database_down", "gauge", "1 while PostgreSQL does not answer", int(p.db.down))]
    if p.agi is not None:
        agi = p.agi
        out += [Sample("callcenter_agi_sessions_active", "gauge", "FastAGI sessions in progress", agi.active_sessions),
                Sample("callcenter_agi_sessions_total", "counter", "FastAGI sessions served", agi.sessions_served),
                Sample("callcenter_agi_requests_rejected_total", "counter",
                       "FastAGI connections refused (truncated, oversized, garbage)", agi.requests_rejected),
                Sample("callcenter_agi_sessions_refused_total", "counter",
                       "FastAGI connections refused because AGI_MAX_SESSIONS were in progress", agi.sessions_refused),
                Sample("callcenter_agi_peers_refused_total", "counter",
                       "FastAGI connections refused from addresses not allowed (AGI_ALLOW)", agi.peers_refused),
                *summary("callcenter_agi_turnaround_seconds",
                         "from a FastAGI request or reply to our next command (recent commands)",
                         list(agi.turnarounds))]
    if p.ami is not None:
        ami = p.ami
        out += [Sample("callcenter_ami_connected", "gauge", "1 while logged in to AMI", int(ami.connected)),
                Sample("callcenter_ami_reconnects_total", "counter", "AMI logins after the first",
                       max(0, ami.logins - 1)),
                Sample("callcenter_ami_events_total", "counter", "AMI events received", ami.events_received),
                Sample("callcenter_ami_event_lag_seconds", "gauge",
                       "Asterisk's timestamp of the last event to its handling here", p.dispatch.lag_s)]
    out += [Sample("callcenter_sip_auth_failures_total", "counter", "failed SIP authentications seen",
                   p.sip_guard.failures_seen),
            Sample("callcenter_sip_blocks_total", "counter", "addresses blocked for failing SIP authentication",
                   p.sip_guard.blocks)]
    out += [Sample("callcenter_dial_refusals_total", "counter",
                   "numbers the dialing policy refused, by purpose and reason", count,
                   {"purpose": purpose, "reason": reason})
            for (purpose, reason), count in sorted(p.gate.refusals.items())]
    out += [Sample("callcenter_task_restarts_total", "counter",
                   "background tasks restarted after they died", count, {"task": name})
            for name, count in sorted(p.supervisor.restarts.items())]
    if p.trunks is not None:
        out += p.trunks.samples()
    if p.events is not None:
        out.append(Sample("callcenter_events_published_total", "counter", "live events published",
                          p.events.published))
        out.append(Sample("callcenter_events_notify_statements_total", "counter",
                          "NOTIFY round trips that carried the live events to other processes",
                          p.events.notify_batches))
        out.append(Sample("callcenter_events_notify_lost_total", "counter",
                          "live events that never reached other processes (outbox full, NOTIFY refused)",
                          p.events.notify_lost))
    return out
