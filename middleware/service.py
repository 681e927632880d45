"""The middleware service: one wiring function, one owner for every background part.

``callcenter serve`` runs the FastAGI server, the AMI consumer (CDR assembly, state resync) and the
HTTP API on one asyncio loop, sharing one PostgreSQL pool; ``--only`` runs a subset so several nodes
can share one Asterisk fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from middleware.agents.adapter import AgentService
from middleware.agi.server import LOOPBACK, FastAgiServer, route_table
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.api.app import Wiring, build_app
from middleware.api.metrics import Sample, summary
from middleware.api.ratelimit import RateLimiter
from middleware.api.resources import Api
from middleware.cdr.adapter import CdrService
from middleware.cdr.journal import Journal
from middleware.config import Settings, clock_of
from middleware.dialer.attempts import CHANNEL_PREFIX as DIAL_PREFIX
from middleware.dialer.service import DialerService
from middleware.dialing.service import DialingGate
from middleware.errors import Unavailable
from middleware.event_stream import EventStream
from middleware.health import DatabaseMonitor
from middleware.ivr.adapter import IvrService
from middleware.pbx_events import AmiEvent
from middleware.provision.service import provision
from middleware.recordings.adapter import RecordingIndexer
from middleware.routing.adapter import Announcer, CallbackDialer, OverflowService, QueueState
from middleware.security.adapter import SipGuard
from middleware.security.auth_failures import FAILURE_EVENTS, Network, Policy, identify_networks, parse_networks
from middleware.store import tenants as tenant_store
from middleware.store.database import DatabaseUnavailable, open_pool
from middleware.supervisor import Supervisor

log = structlog.get_logger(__name__)
PARTS: tuple[str, ...] = ("agi", "ami", "api")
QUEUE_EVENTS = {"QueueCallerJoin": "call_queued", "QueueCallerAbandon": "call_abandoned",
                "AgentConnect": "call_answered"}
AGENT_EVENTS = frozenset({"AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "QueueMemberStatus"})


class Service:
    def __init__(self, settings: Settings, only: frozenset[str] = frozenset(PARTS)) -> None:
        unknown = only - set(PARTS)
        if unknown:
            raise ValueError(f"unknown service part(s): {', '.join(sorted(unknown))}")
        self.settings = settings
        self.only = only
        self.pool: Any = None
        self.ami: AmiClient | None = None
        self.agi: FastAgiServer | None = None
        self.agents: AgentService | None = None
        self.cdr: CdrService | None = None
        self.db: DatabaseMonitor | None = None
        self.ivr: IvrService | None = None
        self.events: EventStream | None = None
        self._runner: web.AppRunner | None = None
        self.resyncs = 0
        self._queue_tenants: dict[str, str | None] = {}
        self.event_lag_s = 0.0
        self._closed = False
        self.supervisor = Supervisor()

    async def start(self) -> None:
        s = self.settings
        self.pool = await open_pool(s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max)
        self.db = DatabaseMonitor(self.pool)
        self.cdr = CdrService(self.pool, self.db, journal=Journal(s.journal_path),
                              max_call_age_s=s.cdr_max_call_age_s)
        self.recordings = RecordingIndexer(self.pool, s.recordings_root)
        self.cdr.on_saved.append(self.recordings.on_saved)
        self.db.on_recovered.append(self._database_back)
        self.supervisor.start("database-monitor", self.db.run)
        if self.cdr.backlog:  # left by a previous run that stopped during an outage
            await self.cdr.replay()
        self.events = EventStream(self.pool)
        self.ami = AmiClient(host=s.ami_host, port=s.ami_port, username=s.ami_user, secret=s.ami_secret,
                             action_timeout=s.ami_action_timeout, on_event=self._on_ami_event,
                             on_login=self.resync, watchdog_interval=s.ami_watchdog_interval)
        self.agents = AgentService(self.pool, self.ami, self.events)
        queue_state = QueueState(self.pool, self.ami)
        self.gate = DialingGate()
        self.ivr = IvrService(self.pool, clock_of(s), self.events, queue_state, self.gate, self.db)
        self.overflow = OverflowService(self.pool, self.ami, queue_state)
        self.callbacks = CallbackDialer(self.pool, self.ami, self.gate)
        self.announcer = Announcer(self.pool, self.ami, queue_state, time.time)
        self.dialer = DialerService(self.pool, self.ami, self.events)
        policy = Policy(s.sip_block_failures, s.sip_block_window_s, s.sip_block_s,
                        parse_networks(s.sip_never_block) + self._trunk_networks(), s.sip_block_unknown_failures)
        self.sip_guard = SipGuard(self.pool, policy, self._reprovision, lambda: datetime.now(UTC))
        routes = route_table([("ivr", self.ivr.handle), ("agent", self.agents.handle_feature),
                              ("disposition", self.dialer.handle_disposition),
                              ("callback", self.ivr.handle_callback), ("announce", self.announcer.handle_agi),
                              ("csat", self.ivr.handle_csat)])
        self.agi = FastAgiServer(routes, host=s.agi_host, port=s.agi_port,
                                 max_header_bytes=s.agi_max_header_bytes,
                                 header_timeout=s.agi_header_timeout, command_timeout=s.agi_command_timeout,
                                 max_sessions=s.agi_max_sessions,
                                 allow=LOOPBACK + parse_networks(s.agi_allow) + await _host_networks(s.ami_host))
        if "agi" in self.only:
            await self.agi.start()
        if "ami" in self.only:
            await self.ami.start()
            cdr, agents, overflow, callbacks = self.cdr, self.agents, self.overflow, self.callbacks
            announcer, dialer, sip_guard = self.announcer, self.dialer, self.sip_guard
            self.supervisor.start("cdr-expiry", cdr.run_expiry)
            self.supervisor.start("agent-wrap-up-clock", lambda: agents.run_wrap_up_clock(lambda: datetime.now(UTC)))
            self.supervisor.start("queue-overflow", lambda: overflow.run(s.overflow_interval))
            self.supervisor.start("callback-dialer", callbacks.run)
            self.supervisor.start("queue-announcer", lambda: announcer.run(s.announce_interval))
            self.supervisor.start("dialer", lambda: dialer.run(s.dialer_interval))
            self.supervisor.start("sip-block-sweep", sip_guard.run)
        if "api" in self.only:
            # In-flight requests get 2 s at shutdown (aiohttp's default waits a minute).
            api = Api(self.pool, lambda: datetime.now(UTC), s.recordings_root,
                      live_queues=self.live_queues if "ami" in self.only else None,
                      agents=self.agents if "ami" in self.only else None)
            wiring = Wiring(api=api, health=self.health, metrics=self.metrics, events=self.events,
                            limiter=RateLimiter(s.api_rate_per_s, s.api_burst))
            self._runner = web.AppRunner(build_app(wiring), access_log=None, shutdown_timeout=2.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, s.http_host, s.http_port).start()
            events = self.events
            self.supervisor.start("event-relay", lambda: events.relay(s.database_url))
            log.info("api.listening", host=s.http_host, port=s.http_port)
        log.info("service.started", parts=sorted(self.only))

    async def _on_ami_event(self, event: AmiEvent) -> None:
        assert self.cdr is not None
        stamp = event.get("timestamp")
        if stamp:
            with contextlib.suppress(ValueError):
                self.event_lag_s = max(0.0, time.time() - float(stamp))
        assert self.db is not None
        await self.cdr.on_event(event)  # first: the journal keeps it even while PostgreSQL is away
        if self.db.down:
            return  # agent states are reconciled from Asterisk once the database is back
        try:
            await self._track(event)
        except DatabaseUnavailable as exc:
            if not exc.busy:
                self.db.mark_down(exc)
            log.error("service.database_unreachable", ami_event=event.name, detail=str(exc)[:200])

    async def _track(self, event: AmiEvent) -> None:
        assert self.ivr is not None and self.agents is not None
        if event.name == "AgentConnect":
            await self.ivr.on_agent_connect(event)
        if event.name in ("AgentConnect", "QueueCallerLeave", "QueueCallerAbandon"):
            await self.announcer.stop(event.uniqueid)
        if event.name == "UserEvent" and event.get("userevent") == "CCCallbackDone":
            callback_id = event.get("callbackid")
            if callback_id.isdigit():
                await self.callbacks.on_done(int(callback_id), event.get("dialstatus"))
        if event.linkedid.startswith(DIAL_PREFIX):
            await self.dialer.on_event(event)
        if event.name == "AgentLogin":
            await self.agents.on_agent_login(event)
        if event.name == "AgentLogoff":
            await self.agents.on_agent_logoff(event)
        if event.name in AGENT_EVENTS:
            await self.agents.on_queue_event(event)
        if event.name in QUEUE_EVENTS:
            await self._publish_queue_event(event)
        if event.name in FAILURE_EVENTS:
            await self.sip_guard.on_event(event)

    async def _publish_queue_event(self, event: AmiEvent) -> None:
        """Callers joining, leaving unanswered and being answered, as live events of the queue's tenant."""
        assert self.events is not None
        queue = event.get("queue")
        if queue not in self._queue_tenants:
            async with self.pool.connection() as conn:
                row = await tenant_store.get_queue(conn, queue)
            self._queue_tenants[queue] = row.tenant_code if row else None
        payload: dict[str, Any] = {"tenant": self._queue_tenants[queue], "queue": queue, "linkedid": event.linkedid}
        if event.name == "QueueCallerJoin":
            payload["position"] = event.get("position")
        elif event.name == "QueueCallerAbandon":
            payload["waited_s"] = event.get("holdtime")
        else:
            payload.update(agent=event.get("membername"), waited_s=event.get("holdtime"))
        await self.events.publish(QUEUE_EVENTS[event.name], payload, at=event.at)

    async def _database_back(self) -> None:
        """PostgreSQL answers again: what was skipped meanwhile is taken from Asterisk: agent states, and
        dial attempts and callbacks whose calls ended during the outage."""
        assert self.agents is not None
        if "ami" not in self.only:
            return
        for name, settle in (("agent states", lambda: self.agents.reconcile(datetime.now(UTC))),  # type: ignore[union-attr]
                             ("dial attempts", self.dialer.settle_after_outage),
                             ("callbacks", self.callbacks.settle_after_outage)):
            try:
                await settle()
            except Unavailable as exc:
                log.warning("service.settle_after_outage_failed", part=name, detail=str(exc)[:200])

    def _trunk_networks(self) -> tuple[Network, ...]:
        """Carriers' networks (the trunks' identify matches): never blocked automatically."""
        s = self.settings
        found: tuple[Network, ...] = ()
        for path in (s.asterisk_config_dir / "pjsip.conf", s.generated_dir / "pjsip.conf"):
            with contextlib.suppress(OSError):
                found += identify_networks(path.read_text())
        return found

    async def _reprovision(self) -> None:
        if self.settings.generated_dir.parent.is_dir():
            await provision(self.pool, self.settings.generated_dir, self.ami,
                            cdr_conninfo=self.settings.cdr_database_url or None)

    async def resync(self) -> None:
        """After every AMI (re)login: rewrite generated config, then make queue members match the DB."""
        assert self.ami is not None and self.agents is not None
        if self.settings.generated_dir.parent.is_dir():
            await provision(self.pool, self.settings.generated_dir, self.ami,
                            cdr_conninfo=self.settings.cdr_database_url or None)
        else:
            log.warning("provision.skipped", reason=f"{self.settings.generated_dir.parent} not on this host")
        await self.agents.resync()
        await self.agents.reconcile(datetime.now(UTC))
        self.resyncs += 1

    async def health(self) -> dict[str, Any]:
        """From state, never from a query: cheap for anyone to ask, and no server text leaks out."""
        db = self.db
        assert db is not None
        report: dict[str, Any] = {"database": {"ok": not db.down, "error": db.last_error if db.down else "",
                                               "down_since": db.down_since.isoformat() if db.down_since else None,
                                               "outages": db.outages}}
        if "ami" in self.only and self.ami is not None:
            report["ami"] = {"ok": self.ami.connected, "events": self.ami.events_received,
                             "logins": self.ami.logins}
        if "agi" in self.only and self.agi is not None:
            report["agi"] = {"ok": True, "port": self.agi.port, "sessions": self.agi.sessions_served,
                             "rejected": self.agi.requests_rejected}
        if self.cdr is not None:
            # Degraded when records wait in memory: the journal cannot be written (disk full, EACCES).
            report["cdr"] = {"ok": self.cdr.journal_ok and not self.cdr.unjournaled,
                             "written": self.cdr.records_written, "in_progress": len(self.cdr.assembler.calls),
                             "journal_backlog": self.cdr.journal.backlog() if self.cdr.journal else 0,
                             "in_memory": len(self.cdr.unjournaled), "lost": self.cdr.records_lost,
                             "journal_writable": self.cdr.journal_ok, "replayed": self.cdr.replayed}
        report["tasks"] = {"ok": True, "restarts": dict(self.supervisor.restarts)}
        return report

    async def live_queues(self) -> dict[str, dict[str, Any]] | None:
        """Waiting callers and the longest wait per queue, from Asterisk now (None if it cannot be asked)."""
        if self.ami is None or not self.ami.connected:
            return None
        try:
            messages = await self.ami.action({"Action": "QueueStatus"}, as_list=True)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("api.no_queue_status", detail=str(exc)[:200])
            return None
        figures: dict[str, dict[str, Any]] = {}
        for m in messages:
            if m.get("event") == "QueueParams":
                figures.setdefault(m.get("queue", ""), {"waiting": 0, "longest_wait_s": None})
            if m.get("event") == "QueueEntry" and m.get("wait", "").isdigit():
                q = figures.setdefault(m.get("queue", ""), {"waiting": 0, "longest_wait_s": None})
                q["waiting"] += 1
                q["longest_wait_s"] = max(float(m["wait"]), q["longest_wait_s"] or 0.0)
        return figures

    def metrics(self) -> list[Sample]:
        """What /metrics exposes: calls in progress, AGI sessions, AMI reconnects, event lag, backlog."""
        out = [Sample("callcenter_up", "gauge", "1 while the service runs", 1)]
        if self.cdr is not None:
            out += [Sample("callcenter_calls_in_progress", "gauge", "calls being assembled from AMI events",
                           len(self.cdr.assembler.calls)),
                    Sample("callcenter_call_records_written_total", "counter", "call records stored",
                           self.cdr.records_written),
                    Sample("callcenter_journal_backlog", "gauge",
                           "call records journalled while PostgreSQL was away, not yet replayed",
                           self.cdr.journal.backlog() if self.cdr.journal else 0),
                    Sample("callcenter_records_in_memory", "gauge",
                           "call records neither PostgreSQL nor the journal could take yet", len(self.cdr.unjournaled)),
                    Sample("callcenter_records_lost_total", "counter",
                           "call records dropped from a full in-memory backlog", self.cdr.records_lost),
                    Sample("callcenter_database_down", "gauge", "1 while PostgreSQL does not answer",
                           int(self.db is not None and self.db.down))]
        if "agi" in self.only and self.agi is not None:
            out += [Sample("callcenter_agi_sessions_active", "gauge", "FastAGI sessions in progress",
                           self.agi.active_sessions),
                    Sample("callcenter_agi_sessions_total", "counter", "FastAGI sessions served",
                           self.agi.sessions_served),
                    Sample("callcenter_agi_requests_rejected_total", "counter",
                           "FastAGI connections refused (truncated, oversized, garbage)", self.agi.requests_rejected),
                    Sample("callcenter_agi_sessions_refused_total", "counter",
                           "FastAGI connections refused because AGI_MAX_SESSIONS were in progress",
                           self.agi.sessions_refused),
                    Sample("callcenter_agi_peers_refused_total", "counter",
                           "FastAGI connections refused from addresses not allowed (AGI_ALLOW)",
                           self.agi.peers_refused),
                    *summary("callcenter_agi_turnaround_seconds",
                             "from a FastAGI request or reply to our next command (recent commands)",
                             list(self.agi.turnarounds))]
        if "ami" in self.only and self.ami is not None:
            out += [Sample("callcenter_ami_connected", "gauge", "1 while logged in to AMI", int(self.ami.connected)),
                    Sample("callcenter_ami_reconnects_total", "counter", "AMI logins after the first",
                           max(0, self.ami.logins - 1)),
                    Sample("callcenter_ami_events_total", "counter", "AMI events received", self.ami.events_received),
                    Sample("callcenter_ami_event_lag_seconds", "gauge",
                           "Asterisk's timestamp of the last event to its handling here", self.event_lag_s)]
        out += [Sample("callcenter_sip_auth_failures_total", "counter", "failed SIP authentications seen",
                       self.sip_guard.failures_seen),
                Sample("callcenter_sip_blocks_total", "counter", "addresses blocked for failing SIP authentication",
                       self.sip_guard.blocks)]
        out += [Sample("callcenter_dial_refusals_total", "counter",
                       "numbers the dialing policy refused, by purpose and reason", count,
                       {"purpose": purpose, "reason": reason})
                for (purpose, reason), count in sorted(self.gate.refusals.items())]
        out += [Sample("callcenter_task_restarts_total", "counter",
                       "background tasks restarted after they died", count, {"task": name})
                for name, count in sorted(self.supervisor.restarts.items())]
        if self.events is not None:
            out.append(Sample("callcenter_events_published_total", "counter", "live events published",
                              self.events.published))
        return out

    async def close(self) -> None:
        """Stop every part; a part that does not stop in time is logged and left, never waited on forever."""
        if self._closed:
            return
        self._closed = True
        steps: list[tuple[str, Any]] = [("background tasks", self.supervisor.close())]
        if self._runner is not None:
            steps.append(("http", self._runner.cleanup()))
        if getattr(self, "recordings", None) is not None:
            steps.append(("recordings", self.recordings.close()))
        if self.agi is not None:
            steps.append(("agi", self.agi.close()))
        if self.ami is not None:
            steps.append(("ami", self.ami.close()))
        if self.pool is not None:
            steps.append(("database pool", self.pool.close()))
        for name, step in steps:
            try:
                await asyncio.wait_for(step, 10)
            except TimeoutError:
                log.error("service.stop_timeout", part=name)
            except Exception:
                log.exception("service.stop_failed", part=name)
        log.info("service.stopped")


async def _host_networks(host: str) -> tuple[Network, ...]:
    """The addresses of a host name (the Asterisk host, which FastAGI must accept), as /32 and /128."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        log.warning("agi.asterisk_host_unresolved", host=host, detail=str(exc))
        return ()
    return parse_networks(",".join(sorted({str(info[4][0]) for info in infos})))


async def run(settings: Settings, only: frozenset[str] = frozenset(PARTS),
              stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set), then shut every part down."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    service = Service(settings, only)
    try:
        await service.start()
        await stop.wait()
    except AmiUnavailable as exc:
        log.error("service.ami_unavailable", detail=str(exc))
        raise
    finally:
        await service.close()
