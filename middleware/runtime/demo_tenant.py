"""The demo tenant: a DID running the acme-main IVR flow, two queues, three agents with SIP phones,
and two customers the IVR can recognise."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from middleware.config import PROJECT_ROOT
from middleware.dialing.policy import DialingPolicy
from middleware.ivr import service as ivr_service
from middleware.ivr.flow import PromptExists
from middleware.store import agents as agent_store
from middleware.store import customers, tenants, trunks
from middleware.store.database import Pool
from middleware.trunks.spec import Trunk, check


@dataclass(frozen=True)
class DemoAgent:
    code: str
    name: str
    endpoint: str
    secret: str
    queues: tuple[str, ...]


@dataclass(frozen=True)
class DemoCustomer:
    account: str  # Luhn-valid, as the flow's account entry checks
    name: str
    phones: tuple[str, ...]
    tier: str


TENANT = "acme"
TIMEZONE = "America/New_York"
DID = "5551000"
FLOW_FILE = PROJECT_ROOT / "dialplans" / "ivr" / "acme-main.yaml"
QUEUES = {"acme-sales": "leastrecent", "acme-support": "ringall"}
AGENTS = (
    DemoAgent("1001", "Alice Archer", "acme-1001", "alice-pw-1001", ("acme-sales",)),
    DemoAgent("1002", "Bob Baker", "acme-1002", "bob-pw-1002", ("acme-sales", "acme-support")),
    DemoAgent("1003", "Carol Chen", "acme-1003", "carol-pw-1003", ("acme-support",)),
)
# The carrier simulator: SIPp customers on this host (port 5080) behind an ordinary trunk. No qualify:
# SIPp's customer scenarios answer INVITEs, not OPTIONS.
CARRIER_SIM = Trunk("carrier-sim", host="127.0.0.1", port=5080, match=("127.0.0.1/32",), qualify_s=0)
CUSTOMERS = (
    DemoCustomer("4242424242424242", "Dana Dawson", ("+1 212 555 0101",), "gold"),
    DemoCustomer("79927398713", "Evan Ellis", ("+1 646 555 0199",), "standard"),
)


async def seed(pool: Pool, agents: tuple[DemoAgent, ...] = AGENTS, *, flow_text: str | None = None,
               prompt_exists: PromptExists | None = None) -> None:
    """Create (or refresh) the demo tenant; safe to run twice. ``flow_text`` replaces acme-main."""
    async with pool.connection() as conn, conn.transaction():
        await trunks.save_trunk(conn, check(CARRIER_SIM))
        tenant_id = await tenants.upsert_tenant(conn, TENANT, "Acme Corp (demo)", TIMEZONE)
        await tenants.set_dialing_policy(conn, tenant_id, DialingPolicy("US", countries=WORLD_COUNTRIES))
        for name, strategy in QUEUES.items():
            await tenants.upsert_queue(conn, tenant_id, name, strategy=strategy, ring_timeout_s=15, wrapup_s=2)
        for a in agents:
            agent_id = await agent_store.upsert_agent(conn, tenant_id, a.code, a.name)
            await agent_store.upsert_phone(conn, tenant_id, a.endpoint, a.secret, agent_id, a.name)
            for q in a.queues:
                await agent_store.add_membership(conn, q, a.code)
        for c in CUSTOMERS:
            await customers.upsert_customer(conn, tenant_id, c.account, c.name, list(c.phones), tier=c.tier)
    flow, _ = await ivr_service.load(pool, TENANT, flow_text or FLOW_FILE.read_text(), prompt_exists)
    async with pool.connection() as conn:
        await tenants.upsert_did(conn, tenant_id, DID, "acme-support", flow.name)


# Simulated customers around the world: one number plan per time zone (valid numbers, each in exactly
# one zone), no more than 3 hours apart, so that any hour range of 4 hours or more holds one of them
# whatever the time here. The demo tenant may call these countries; campaigns pick the plan whose
# local hour fits the calling window (or, in tests, one where it is night).
WORLD: tuple[tuple[str, str], ...] = (
    ("+1808555{:04d}", "Pacific/Honolulu"), ("+1213555{:04d}", "America/Los_Angeles"),
    ("+1212555{:04d}", "America/New_York"), ("+5511555{:05d}", "America/Sao_Paulo"),
    ("+44207946{:04d}", "Europe/London"), ("+2721555{:04d}", "Africa/Johannesburg"),
    ("+7495555{:04d}", "Europe/Moscow"), ("+97142555{:03d}", "Asia/Dubai"), ("+6622555{:03d}", "Asia/Bangkok"),
    ("+8135555{:04d}", "Asia/Tokyo"), ("+6128555{:04d}", "Australia/Sydney"), ("+6495555{:03d}", "Pacific/Auckland"),
)
WORLD_COUNTRIES = frozenset({"US", "BR", "GB", "ZA", "RU", "AE", "TH", "JP", "AU", "NZ"})


def numbers_where_hour_is(hours: range, now: datetime, first: int, count: int) -> tuple[str, list[str]]:
    """A zone of WORLD whose local hour is now within ``hours``, and ``count`` of its numbers."""
    for template, zone in WORLD:
        if now.astimezone(zoneinfo.ZoneInfo(zone)).hour in hours:
            return zone, [template.format(k) for k in range(first, first + count)]
    raise ValueError(f"no simulated customers where the hour is in {hours}")


def zone_where_hour_is(hours: range, now: datetime) -> str:
    """An Etc/GMT zone whose local hour is now within ``hours``: demo and test leads that the calling
    window lets (or never lets) the dialer call, whatever the hour here."""
    for offset in range(-12, 15):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}" if offset else "Etc/GMT"
        if now.astimezone(zoneinfo.ZoneInfo(name)).hour in hours:
            return name
    raise ValueError(f"no zone where the hour is in {hours}")
