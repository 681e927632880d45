"""A DID or queue changed by any writer (here plain SQL, as psql or another node would) reaches the
next call: the tables' triggers NOTIFY, and the cache drops what it kept."""

from __future__ import annotations

import asyncio

from middleware.config_cache import ConfigCache
from middleware.store import flows, tenants
from middleware.store.database import open_pool
from tests.integration.conftest import wait_until


async def test_a_did_changed_by_another_writer_is_read_again(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=2)
    async with pool.connection() as conn:
        tenant_id = await tenants.upsert_tenant(conn, "acme", "Acme")
        await tenants.upsert_queue(conn, tenant_id, "acme-support")
        await tenants.upsert_queue(conn, tenant_id, "acme-sales")
        await tenants.upsert_did(conn, tenant_id, "5551000", "acme-support", None)
    cache = ConfigCache()
    watch = asyncio.create_task(cache.watch(db_url))
    try:

        async def entry():  # type: ignore[no-untyped-def]
            async with pool.connection() as conn:
                return await flows.did_entry(conn, "5551000")

        async def listening() -> bool:
            return cache.listening
        await wait_until(listening, 10, "the cache's LISTEN")
        first = await cache.get("5551000", entry)
        assert first is not None and first[0].fallback_queue == "acme-support"
        assert (await cache.get("5551000", entry))[0].fallback_queue == "acme-support"
        assert cache.hits == 1

        seen = cache.invalidations
        async with pool.connection() as conn:  # not through the cache's code: a plain UPDATE
            await conn.execute("UPDATE dids SET fallback_queue = 'acme-sales' WHERE number = '5551000'")

        async def invalidated() -> bool:
            return cache.invalidations > seen
        await wait_until(invalidated, 5, "the trigger's NOTIFY")
        assert (await cache.get("5551000", entry))[0].fallback_queue == "acme-sales"
    finally:
        watch.cancel()
        await pool.close()
