"""The demo tenant: one DID with an IVR menu, two queues, three agents with SIP phones."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from middleware.store import agents as agent_store
from middleware.store import tenants


@dataclass(frozen=True)
class DemoAgent:
    code: str
    name: str
    endpoint: str
    secret: str
    queues: tuple[str, ...]


TENANT = "acme"
DID = "5551000"
QUEUES = {"acme-sales": "leastrecent", "acme-support": "ringall"}
MENU = {
    "greeting": "hello",
    "prompt": "dir-pls-enter",
    "timeout_ms": 3000,
    "retries": 2,
    "invalid_prompt": "pm-invalid-option",
    "options": {"1": {"queue": "acme-sales"}, "2": {"queue": "acme-support"}},
    "default": {"queue": "acme-support"},
}
AGENTS = (
    DemoAgent("1001", "Alice Archer", "acme-1001", "alice-pw-1001", ("acme-sales",)),
    DemoAgent("1002", "Bob Baker", "acme-1002", "bob-pw-1002", ("acme-sales", "acme-support")),
    DemoAgent("1003", "Carol Chen", "acme-1003", "carol-pw-1003", ("acme-support",)),
)


async def seed(pool: AsyncConnectionPool, agents: tuple[DemoAgent, ...] = AGENTS,
               menu: dict[str, object] | None = None) -> None:
    """Create (or refresh) the demo tenant; safe to run twice."""
    async with pool.connection() as conn, conn.transaction():
        tenant_id = await tenants.upsert_tenant(conn, TENANT, "Acme Corp (demo)", "America/New_York")
        for name, strategy in QUEUES.items():
            await tenants.upsert_queue(conn, tenant_id, name, strategy=strategy, ring_timeout_s=15, wrapup_s=2)
        await tenants.upsert_did(conn, tenant_id, DID, "acme-support", dict(menu or MENU))
        for a in agents:
            agent_id = await agent_store.upsert_agent(conn, tenant_id, a.code, a.name)
            await agent_store.upsert_phone(conn, tenant_id, a.endpoint, a.secret, agent_id, a.name)
            for q in a.queues:
                await agent_store.add_membership(conn, q, a.code)
