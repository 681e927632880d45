"""The middleware service: one wiring function, one owner for every background part.

``callcenter serve`` runs the FastAGI server, the AMI consumer (CDR assembly, state resync) and the
HTTP API on one asyncio loop, sharing one PostgreSQL pool; ``--only`` runs a subset so several nodes
can share one Asterisk fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from middleware import status
from middleware.agents.service import AgentService
from middleware.agi.server import LOOPBACK, FastAgiServer, route_table
from middleware.ami.client import AmiClient, AmiUnavailable
from middleware.announcements.service import Announcer
from middleware.api.app import Wiring, build_app
from middleware.api.metrics import Sample
from middleware.api.ratelimit import RateLimiter
from middleware.api.resources import Api
from middleware.callbacks.service import CallbackService
from middleware.cdr.journal import Journal
from middleware.cdr.service import CdrService
from middleware.clock import system_clock
from middleware.config import Settings, clock_of
from middleware.config_cache import ConfigCache
from middleware.dialer.service import DialerService
from middleware.dialing.service import DialingGate, EmergencyAlerts, ManualDialer
from middleware.dispatch import EventDispatch
from middleware.errors import Unavailable
from middleware.event_stream import EventStream
from middleware.health import DatabaseHealth
from middleware.ivr.service import IvrService
from middleware.memory_report import MemoryReporter, collect_garbage
from middleware.provision.service import provision
from middleware.recordings.service import RecordingIndexer
from middleware.routing.service import OverflowService, QueueEventPublisher, QueueState, live_queues
from middleware.security.auth_failures import Network, Policy, identify_networks, parse_networks
from middleware.security.service import SipGuard
from middleware.store.database import Pool, open_pool
from middleware.supervisor import Supervisor
from middleware.trunks.service import OutboundPlanner, TrunkMonitor

log = structlog.get_logger(__name__)
PARTS: tuple[str, ...] = ("agi", "ami", "api")


def tune_gc() -> None:
    """What start-up made (modules, settings, compiled flows) is never garbage: frozen out of every
    collection. And the young generation is collected every 50,000 allocations instead of 700: the
    AMI consumer makes and drops a dict and an event per AMI message (freed by reference counting,
    not by the collector), and a young collection every 700 of them was a fifth of its time."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


class Service:
    """Builds every part from the settings (``start``), owns them and stops them (``close``).

    The clock: ``clock`` (real time) for every service; ``flow_clock`` for the instant IVR flows' schedules
    are judged at (``CALLCENTER_CLOCK`` pins it, for demos and tests that must meet an open or closed
    hour)."""

    def __init__(self, settings: Settings, only: frozenset[str] = frozenset(PARTS)) -> None:
        unknown = only - set(PARTS)
        if unknown:
            raise ValueError(f"unknown service part(s): {', '.join(sorted(unknown))}")
        self.settings = settings
        self.only = only
        self.clock = system_clock
        self.flow_clock = clock_of(settings)
        self.supervisor = Supervisor()
        self.gate = DialingGate()
        self.resyncs = 0
        self._closed = False
        self._runner: web.AppRunner | None = None
        # Built by start(): None until then.
        self._pool: Pool | None = None
        self.db: DatabaseHealth | None = None
        self.cdr: CdrService | None = None
        self.recordings: RecordingIndexer | None = None
        self.events: EventStream | None = None
        self.dispatch: EventDispatch | None = None
        self.ami: AmiClient | None = None
        self.agents: AgentService | None = None
        self.ivr: IvrService | None = None
        self.config_cache: ConfigCache | None = None
        self.overflow: OverflowService | None = None
        self.callbacks: CallbackService | None = None
        self.announcer: Announcer | None = None
        self.dialer: DialerService | None = None
        self.sip_guard: SipGuard | None = None
        self.trunks: TrunkMonitor | None = None
        self.emergency: EmergencyAlerts | None = None
        self._never_block: tuple[Network, ...] = ()  # SIP_NEVER_BLOCK (the trunks' networks are added)
        self.agi: FastAgiServer | None = None

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("the service is not started")
        return self._pool

    async def start(self) -> None:
        s = self.settings
        clock = self.clock
        pool = self._pool = await open_pool(s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max)
        db = self.db = DatabaseHealth(pool, clock=clock)
        cdr = self.cdr = CdrService(pool, db, journal=Journal(s.journal_path), max_call_age_s=s.cdr_max_call_age_s,
                                    clock=clock)
        recordings = self.recordings = RecordingIndexer(pool, s.recordings_root)
        cdr.on_saved.append(recordings.on_saved)
        db.on_recovered.append(self._database_back)
        self.supervisor.start("database-monitor", db.run)
        if cdr.backlog:  # left by a previous run that stopped during an outage
            await cdr.replay()
        events = self.events = EventStream(pool)
        dispatch = self.dispatch = EventDispatch(db)
        ami = self.ami = AmiClient(host=s.ami_host, port=s.ami_port, username=s.ami_user, secret=s.ami_secret,
                                   action_timeout=s.ami_action_timeout, on_event=dispatch,
                                   on_login=self.resync, watchdog_interval=s.ami_watchdog_interval)
        agents = self.agents = AgentService(pool, ami, events, clock)
        queue_state = QueueState(pool, ami)
        config = self.config_cache = ConfigCache()
        self.supervisor.start("config-cache", lambda: config.watch(s.database_url))
        overflow = self.overflow = OverflowService(pool, ami, queue_state)
        trunk_monitor = self.trunks = TrunkMonitor(pool, ami)
        config.on_change.append(trunk_monitor.config_changed)
        planner = OutboundPlanner(trunk_monitor)
        self.ivr = IvrService(pool, self.flow_clock, events, queue_state, self.gate, db, config, planner=planner)
        callbacks = self.callbacks = CallbackService(pool, ami, self.gate, clock, db, planner=planner)
        announcer = self.announcer = Announcer(pool, ami, queue_state, clock)
        dialer = self.dialer = DialerService(pool, ami, events, clock=clock, trunk_room=trunk_monitor.room,
                                             planner=planner)
        self._never_block = parse_networks(s.sip_never_block)
        policy = Policy(s.sip_block_failures, s.sip_block_window_s, s.sip_block_s,
                        self._never_block + self._trunk_networks(), s.sip_block_unknown_failures)
        sip_guard = self.sip_guard = SipGuard(pool, policy, self._reprovision, clock)
        # In this order: the CDR first (and even while PostgreSQL is away: the journal keeps calls).
        dispatch.register("cdr", cdr, needs_database=False)
        dispatch.register("screen-pop", self.ivr)
        dispatch.register("announcements", announcer)
        dispatch.register("callbacks", callbacks)
        dispatch.register("dialer", dialer, accepts=DialerService.owns)
        dispatch.add("dialer-inbound", ("QueueCallerJoin",), dialer.on_queue_join, needs_database=False)
        dispatch.register("agents", agents)
        dispatch.register("queue-events", QueueEventPublisher(pool, events))
        dispatch.register("sip-guard", sip_guard)
        dispatch.register("trunks", trunk_monitor, needs_database=False)
        alerts = self.emergency = EmergencyAlerts(events)
        dispatch.register("emergency-alerts", alerts, needs_database=False,
                          accepts=lambda e: e.get("userevent") == "CCEmergency")
        routes = route_table([("ivr", self.ivr.handle), ("agent", agents.handle_feature),
                              ("disposition", dialer.handle_disposition),
                              ("callback", callbacks.handle_request), ("announce", announcer.handle_agi),
                              ("csat", self.ivr.handle_csat),
                              ("outdial", ManualDialer(pool, self.gate, planner).handle)])
        self.agi = FastAgiServer(routes, host=s.agi_host, port=s.agi_port,
                                 max_header_bytes=s.agi_max_header_bytes,
                                 header_timeout=s.agi_header_timeout, command_timeout=s.agi_command_timeout,
                                 max_sessions=s.agi_max_sessions,
                                 allow=LOOPBACK + parse_networks(s.agi_allow) + await _host_networks(s.ami_host))
        if "agi" in self.only:
            await self.agi.start()
        if "ami" in self.only:
            await ami.start()
            self.supervisor.start("cdr-expiry", cdr.run_expiry)
            self.supervisor.start("agent-wrap-up-clock", agents.run_wrap_up_clock)
            self.supervisor.start("queue-overflow", lambda: overflow.run(s.overflow_interval))
            self.supervisor.start("callback-dialer", callbacks.run)
            self.supervisor.start("queue-announcer", lambda: announcer.run(s.announce_interval))
            self.supervisor.start("dialer", lambda: dialer.run(s.dialer_interval))
            self.supervisor.start("sip-block-sweep", sip_guard.run)
            self.supervisor.start("trunk-status", trunk_monitor.run)
        if "api" in self.only:
            # In-flight requests get 2 s at shutdown (aiohttp's default waits a minute).
            api = Api(pool, clock, s.recordings_root,
                      live_queues=(lambda: live_queues(self.ami)) if "ami" in self.only else None,
                      agents=agents if "ami" in self.only else None)
            wiring = Wiring(api=api, health=self.health, metrics=self.metrics, events=events,
                            limiter=RateLimiter(s.api_rate_per_s, s.api_burst))
            self._runner = web.AppRunner(build_app(wiring), access_log=None, shutdown_timeout=2.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, s.http_host, s.http_port).start()
            self.supervisor.start("event-relay", lambda: events.relay(s.database_url))
            log.info("api.listening", host=s.http_host, port=s.http_port)
        tune_gc()
        self.supervisor.start("garbage-collection", collect_garbage)
        log.info("service.started", parts=sorted(self.only))

    async def _database_back(self) -> None:
        """PostgreSQL answers again: what was skipped meanwhile is taken from Asterisk: agent states, and
        dial attempts and callbacks whose calls ended during the outage."""
        if "ami" not in self.only or self.agents is None or self.dialer is None or self.callbacks is None:
            return
        agents = self.agents
        steps: list[tuple[str, Callable[[], Awaitable[int]]]] = [
            ("agent states", lambda: agents.reconcile(self.clock())),
            ("dial attempts", self.dialer.settle_after_outage),
            ("callbacks", self.callbacks.settle_after_outage)]
        for name, settle in steps:
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
        if self.settings.generated_dir.parent.is_dir() and self._pool is not None:
            await provision(self._pool, self.settings.generated_dir, self.ami,
                            cdr_conninfo=self.settings.cdr_database_url or None)
            if self.sip_guard is not None:  # the trunks (their networks) may have changed
                counter = self.sip_guard.counter
                counter.policy = replace(counter.policy, never_block=self._never_block + self._trunk_networks())

    async def resync(self) -> None:
        """After every AMI (re)login: rewrite generated config, then make queue members match the DB."""
        assert self.agents is not None
        if self.settings.generated_dir.parent.is_dir():
            await self._reprovision()
        else:
            log.warning("provision.skipped", reason=f"{self.settings.generated_dir.parent} not on this host")
        await self.agents.resync()
        await self.agents.reconcile(self.clock())
        if self.trunks is not None:
            await self.trunks.refresh_or_log()
        self.resyncs += 1

    def _parts(self) -> status.Parts:
        assert self.db is not None and self.cdr is not None and self.sip_guard is not None
        assert self.dispatch is not None
        return status.Parts(db=self.db, cdr=self.cdr, supervisor=self.supervisor, gate=self.gate,
                            sip_guard=self.sip_guard, dispatch=self.dispatch, events=self.events,
                            trunks=self.trunks if "ami" in self.only else None,
                            ami=self.ami if "ami" in self.only else None,
                            agi=self.agi if "agi" in self.only else None)

    async def health(self) -> dict[str, Any]:
        return status.health(self._parts())

    def metrics(self) -> list[Sample]:
        return status.metrics(self._parts())

    async def close(self) -> None:
        """Stop every part; a part that does not stop in time is logged and left, never waited on forever."""
        if self._closed:
            return
        self._closed = True
        steps: list[tuple[str, Any]] = [("background tasks", self.supervisor.close())]
        if self._runner is not None:
            steps.append(("http", self._runner.cleanup()))
        if self.recordings is not None:
            steps.append(("recordings", self.recordings.close()))
        if self.agi is not None:
            steps.append(("agi", self.agi.close()))
        if self.ami is not None:
            steps.append(("ami", self.ami.close()))
        if self.cdr is not None:
            steps.append(("call records", self.cdr.drain()))
        if self.events is not None:
            steps.append(("live events", self.events.flush()))
        if self._pool is not None:
            steps.append(("database pool", self._pool.close()))
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
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGUSR1, MemoryReporter().log_report)  # kill -USR1: what memory holds
    service = Service(settings, only)
    try:
        await service.start()
        await stop.wait()
    except AmiUnavailable as exc:
        log.error("service.ami_unavailable", detail=str(exc))
        raise
    finally:
        await service.close()
