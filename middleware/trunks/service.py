"""What Asterisk says of each trunk now, for /metrics: the carrier's reachability (qualify), its round
trip and the registration's state; and the channels each trunk carries now, against its
``max_channels`` (what the dialer, callbacks and IVR transfers ask before they place a call on it).
Loaded from Asterisk after every provisioning (PJSIPShowEndpoint, PJSIPShowRegistrationsOutbound,
CoreShowChannels), then kept current from its events: ContactStatus when a qualify changes a contact's
state, Registry when a registration succeeds, is refused or lapses, Newchannel and Hangup."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from psycopg import AsyncConnection

from middleware.ami import queries
from middleware.ami.client import AmiActionFailed, AmiClient
from middleware.api.metrics import Sample
from middleware.errors import Refused, Unavailable
from middleware.pbx_events import AmiEvent
from middleware.store import flows
from middleware.store import routes as route_store
from middleware.store import trunks as store
from middleware.store.database import Pool
from middleware.trunks import routes
from middleware.trunks.render import client_uri, server_uri
from middleware.trunks.routes import Leg
from middleware.trunks.spec import Trunk, TrunkState, room, state, trunk_of_channel, with_room

log = structlog.get_logger(__name__)
REFRESH_S = 60.0  # at least this often
CHECK_S = 1.0  # a trunk changed (config notification): refreshed within this


class TrunkMonitor:
    EVENTS = ("ContactStatus", "Registry", "Newchannel", "Hangup")

    def __init__(self, pool: Pool, ami: AmiClient | None) -> None:
        self._pool = pool
        self._ami = ami
        self.trunks: list[Trunk] = []
        self.contacts: dict[str, tuple[str, float | None]] = {}  # aor -> (status, rtt ms)
        self.registrations: dict[str, str] = {}  # trunk -> registration status
        self.stale = False  # a trunk changed since the last refresh
        self._names: frozenset[str] = frozenset()
        self._on_trunk: dict[str, str] = {}  # uniqueid -> trunk of every channel up on a trunk

    def config_changed(self, table: str) -> None:
        if table == "trunks":
            self.stale = True

    async def refresh(self) -> None:
        """The trunks from PostgreSQL, their state from Asterisk (after a provisioning, an AMI login)."""
        async with self._pool.connection() as conn:
            trunks = await store.list_trunks(conn)
        contacts: dict[str, tuple[str, float | None]] = {}
        names = frozenset(t.name for t in trunks)
        if self._ami is None:  # (a part that only plans calls: no reachability, no channel counts)
            self.trunks, self._names = trunks, names
            return
        for t in trunks:
            try:
                found = await queries.endpoint_contacts(self._ami, t.name)
                contacts.update({c.aor: (c.status, c.rtt_ms) for c in found})
            except AmiActionFailed as exc:  # not loaded (a config Asterisk refused): nothing to say of it
                log.warning("trunk.unknown_to_asterisk", trunk=t.name, detail=str(exc)[:200])
        self.registrations = await queries.outbound_registrations(self._ami)
        channels = await queries.active_channels(self._ami)
        on_trunk = {c.uniqueid: trunk for c in channels if (trunk := trunk_of_channel(c.channel, names))}
        self.trunks, self.contacts, self._names, self._on_trunk = trunks, contacts, names, on_trunk

    def in_use(self, name: str) -> int:
        return sum(1 for trunk in self._on_trunk.values() if trunk == name)

    def room(self, name: str) -> int | None:
        """Calls the trunk may take now; None when it has no cap (or is not known here)."""
        trunk = next((t for t in self.trunks if t.name == name), None)
        return None if trunk is None else room(trunk, self.in_use(name))

    async def run(self, every_s: float = REFRESH_S, check_s: float = CHECK_S) -> None:
        """Refresh when a trunk changed (the config notification), and every minute anyway (Asterisk
        may have been told by another node's sync)."""
        waited = 0.0
        while True:
            await asyncio.sleep(check_s)
            waited += check_s
            if self.stale or waited >= every_s:
                self.stale, waited = False, 0.0
                await self.refresh_or_log()

    async def refresh_or_log(self) -> None:
        """A refresh that Asterisk or PostgreSQL cannot answer now waits for the next one: what is
        known stays (the events keep it current meanwhile)."""
        try:
            await self.refresh()
        except (Unavailable, Refused) as exc:  # (the next minute's refresh, or the next AMI login, tries again)
            log.warning("trunk.refresh_failed", detail=str(exc)[:200])

    async def on_event(self, event: AmiEvent) -> None:
        if event.name == "Newchannel":
            if trunk := trunk_of_channel(event.get("channel"), self._names):
                self._on_trunk[event.uniqueid] = trunk
        elif event.name == "Hangup":
            self._on_trunk.pop(event.uniqueid, None)
        elif event.name == "ContactStatus":
            aor = event.get("aor")
            if any(t.name == aor for t in self.trunks):
                usec = event.get("roundtripusec")
                rtt = int(usec) / 1000.0 if usec.isdigit() and int(usec) > 0 else None
                self.contacts[aor] = (event.get("contactstatus"), rtt)
                log.info("trunk.contact", trunk=aor, status=event.get("contactstatus"), rtt_ms=rtt)
        elif event.name == "Registry" and event.get("channeltype").lower() == "pjsip":
            for t in self.trunks:
                if t.register and (event.get("domain"), event.get("username")) == (server_uri(t), client_uri(t)):
                    self.registrations[t.name] = event.get("status")
                    log.info("trunk.registration", trunk=t.name, status=event.get("status"),
                             cause=event.get("cause"))

    def states(self) -> dict[str, TrunkState]:
        return {t.name: state(t, self.contacts, self.registrations) for t in self.trunks}

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        for name, s in self.states().items():
            labels = {"trunk": name}
            out.append(Sample("callcenter_trunk_channels", "gauge", "calls on the trunk now", self.in_use(name),
                              labels))
            out.append(Sample("callcenter_trunk_reachable", "gauge",
                              "1 when the carrier answers Asterisk's qualify, 0 when not, NaN when unknown",
                              {"reachable": 1.0, "unreachable": 0.0}.get(s.reachable, float("nan")), labels))
            if s.rtt_ms is not None:
                out.append(Sample("callcenter_trunk_rtt_seconds", "gauge", "the last qualify's round trip",
                                  s.rtt_ms / 1000.0, labels))
            if s.registration is not None:
                out.append(Sample("callcenter_trunk_registered", "gauge",
                                  "1 while the carrier holds the center's registration",
                                  int(s.registration == "registered"), labels))
        return out


@dataclass(frozen=True)
class Plan:
    """How one outside call leaves: its legs in failover order and the caller ID its route presents."""
    legs: tuple[Leg, ...]
    caller_id: str | None = None
    route: str | None = None  # None: the tenant has no routes (the leg's own trunk)


class OutboundPlanner:
    """Every outbound leg's way out (IVR transfers, callbacks, the dialer): the tenant's routes when it
    has any, else the leg's own trunk or the first of the tenant's allowed trunks; trunks at their
    channel cap left out, unreachable ones last (routes.py). NoRoute when nothing can take the call."""

    def __init__(self, monitor: TrunkMonitor) -> None:
        self._monitor = monitor

    def reachable(self, trunk: str) -> bool | None:
        s = self._monitor.states().get(trunk)
        return None if s is None or s.reachable == "unknown" else s.reachable == "reachable"

    async def plan(self, conn: AsyncConnection, tenant_id: int, e164: str, own_trunk: str | None = None) -> Plan:
        found = await route_store.list_routes(conn, tenant_id)
        if found:
            route = routes.select(found, e164)
            if route is None:
                raise routes.NoRoute(f"no outbound route of the tenant takes {e164}")
            return Plan(tuple(routes.legs(route, e164, self._monitor.room, self.reachable)), route.caller_id,
                        route.name)
        if own_trunk is not None:
            if (room := self._monitor.room(own_trunk)) is not None and room <= 0:
                raise routes.TrunksFull(f"trunk {own_trunk} is at its channel cap")
            return Plan((Leg(own_trunk, e164),))
        allowed = await flows.allowed_trunks(conn, tenant_id)
        if not allowed:
            raise routes.NoRoute("the tenant has no route and no allowed trunk")
        trunk = with_room(allowed, self._monitor.room)
        if trunk is None:
            raise routes.TrunksFull(f"every trunk of the tenant ({', '.join(sorted(allowed))}) is at its channel cap")
        return Plan((Leg(trunk, e164),))
