"""Integration fixtures: the rootfs Asterisk once per session, a fresh PostgreSQL database per test,
the middleware service in the test's loop, and SIPp phones and callers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from middleware.agents.state import AgentEvent
from middleware.config import Settings, load_settings
from middleware.provision.service import provision
from middleware.runtime import asterisk, postgres, rootfs
from middleware.runtime.demo_tenant import AGENTS, DemoAgent, seed
from middleware.runtime.sipp import AgentPhone, Sipp
from middleware.runtime.sounds import prompt_checker
from middleware.service import Service
from middleware.store import agents as agent_store
from middleware.store import calls, database, tenants

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def pbx() -> Iterator[Settings]:
    """Asterisk 22 from the rootfs with this tree's configuration, started fresh for the session."""
    settings = load_settings()
    postgres.ensure_server(settings.database_url)
    rootfs.build(settings.asterisk_root)
    if asterisk.status(settings).running:
        asterisk.stop(settings)
    asterisk.start(settings)
    try:
        yield settings
    finally:
        asterisk.stop(settings)


@pytest.fixture
def db_url(pbx: Settings) -> Iterator[str]:
    url = database.with_database(pbx.database_url, f"cc_test_{uuid.uuid4().hex[:12]}")
    database.ensure_database(url)
    database.upgrade(url)
    try:
        yield url
    finally:
        database.drop_database(url)


@pytest.fixture
def private_postgres(pbx: Settings) -> Iterator[tuple[postgres.PrivateCluster, str]]:
    """A PostgreSQL server of the test's own (the test may stop and start it) with a migrated database."""
    cluster = postgres.PrivateCluster(postgres.free_port())
    try:
        cluster.start()
        url = database.with_database(cluster.url, "callcenter")
        database.ensure_database(url)
        database.upgrade(url)
        yield cluster, url
    finally:
        cluster.destroy()


@pytest.fixture
def settings(pbx: Settings, db_url: str) -> Settings:
    return pbx.with_overrides(database_url=db_url)


@pytest.fixture
async def make_service(settings: Settings, tmp_path: Path,
                       expected_deaths: set[str]) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    services: list[Service] = []

    async def make(**overrides: Any) -> Service:
        only = overrides.pop("only", frozenset(("agi", "ami", "api")))
        overrides.setdefault("cdr_journal", tmp_path / "cdr-journal.jsonl")  # never another test's
        service = Service(settings.with_overrides(**overrides), only)
        services.append(service)
        await service.start()
        assert service.ami is not None
        await service.ami.wait_connected(15)
        return service

    yield make
    for service in services:
        try:
            await asyncio.wait_for(service.close(), 30)
        except TimeoutError:
            pytest.fail("the service did not stop within 30 s; stuck tasks:\n" + "\n".join(task_chains()))
    died = [f"{d.task}: {d.error}" for service in services for d in service.supervisor.deaths
            if d.task not in expected_deaths]
    if died:
        pytest.fail("background tasks died during the test:\n" + "\n".join(died))


@pytest.fixture
def expected_deaths() -> set[str]:
    """Names of background tasks a test kills on purpose (it adds them); any other death fails it."""
    return set()


def task_chains() -> list[str]:
    """Each pending task of the loop with the chain of coroutines it waits in (for a hang's report)."""
    out = []
    for task in asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            chain.append(f"{getattr(coro, '__qualname__', type(coro).__name__)}:{frame.f_lineno if frame else '?'}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        out.append(f"{task.get_name()}: {' > '.join(chain)}")
    return out


@pytest.fixture
async def sipp(pbx: Settings) -> AsyncIterator[Sipp]:
    runner = Sipp(pbx.asterisk_root)
    yield runner
    await runner.stop_all()
    # The phones are gone; their calls must not outlive the test in Asterisk (a persistent agent
    # session of a test that failed would hold its agent for the next test).
    if asterisk.status(pbx).running:
        await asyncio.to_thread(asterisk.rx, pbx, "channel request hangup all")


@pytest.fixture
async def agent_on_duty(make_service, sipp, settings):  # type: ignore[no-untyped-def]
    """The demo tenant (or another flow on its DID) live, one agent logged in on a registered SIPp phone."""

    async def start(agent: DemoAgent, port: int, *, flow_text: str | None = None,
                    **service_overrides: Any) -> tuple[Service, AgentPhone]:
        service = await make_service(**service_overrides)
        await seed(service.pool, agents=(agent,), flow_text=flow_text,
                   prompt_exists=prompt_checker(settings.asterisk_root))
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        phone = await sipp.agent_phone(agent.endpoint, agent.secret, port)
        assert service.agents is not None
        await service.agents.apply(agent.code, AgentEvent.LOGIN)
        return service, phone

    return start


TEST_DID, TEST_QUEUE = "5551999", "acme-test"


@pytest.fixture
async def alice_desk(make_service, settings):  # type: ignore[no-untyped-def]
    """The demo tenant with Alice alone; TEST_DID goes straight (no IVR flow) to TEST_QUEUE (ringall,
    1 s wrap-up), where she is the only member. ``tenant_sql`` runs on the tenant row (its id as %s)
    before the config is provisioned. Her phone and login are left to the test."""

    async def start(*, tenant_sql: str | None = None, **service_overrides: Any) -> Service:
        service = await make_service(**service_overrides)
        await seed(service.pool, agents=(AGENTS[0],))
        async with service.pool.connection() as conn:
            tenant_id = await tenants.tenant_id(conn, "acme")
            assert tenant_id is not None
            if tenant_sql:
                await conn.execute(tenant_sql, (tenant_id,))
            await tenants.upsert_queue(conn, tenant_id, TEST_QUEUE, strategy="ringall", wrapup_s=1)
            await tenants.upsert_did(conn, tenant_id, TEST_DID, TEST_QUEUE, None)
            await agent_store.add_membership(conn, TEST_QUEUE, AGENTS[0].code)
        await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
        return service

    return start


async def demo_campaign(pool: Any, code: str, **settings: Any) -> tuple[int, int]:
    """The demo tenant with Alice, and a campaign of hers on carrier-sim: (tenant id, campaign id)."""
    from middleware.store import campaigns

    await seed(pool, agents=AGENTS[:1])
    async with pool.connection() as conn:
        tenant_id = await tenants.tenant_id(conn, "acme")
        assert tenant_id is not None
        campaign_id = await campaigns.create_campaign(
            conn, tenant_id=tenant_id, code=code, agents=[AGENTS[0].code], wrapup_s=1, inbound_priority="inbound",
            settings={"name": code, "caller_id": "<+15551000>", "trunk": "carrier-sim",
                      "safe_harbor_prompt": "please-try-call-later", **settings})
    return tenant_id, campaign_id


async def call_record(service: Service, caller: str) -> dict[str, Any] | None:
    """The complete call record of the (one) call from ``caller``, with the IVR's facts."""
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT linkedid FROM calls WHERE caller_number = %s AND complete", (caller,))
        row = await cur.fetchone()
        return None if row is None else await calls.get_call(conn, row[0])


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


async def cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The admin CLI in a thread: the service keeps running on this loop meanwhile."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "RECORDINGS_DIR": str(settings.recordings_root)}
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "middleware", *args],
                                   capture_output=True, text=True, env=env, timeout=60)
