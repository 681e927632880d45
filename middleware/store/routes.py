"""A tenant's outbound routes (the `outbound_routes` table)."""

from __future__ import annotations

from psycopg import AsyncConnection

from middleware.trunks.routes import Route

_COLUMNS = "name, trunks, prefixes, strip, prepend, caller_id, position"


async def list_routes(conn: AsyncConnection, tenant_id: int) -> list[Route]:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM outbound_routes WHERE tenant_id = %s ORDER BY position, name",
                             (tenant_id,))
    return [Route(name, tuple(trunks), tuple(prefixes), strip, prepend, caller_id, position)
            for name, trunks, prefixes, strip, prepend, caller_id, position in await cur.fetchall()]


async def save_route(conn: AsyncConnection, tenant_id: int, r: Route) -> None:
    """Insert or replace a route (checked by trunks.routes.check_route first)."""
    await conn.execute(
        f"""INSERT INTO outbound_routes (tenant_id, {_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, name) DO UPDATE SET trunks = EXCLUDED.trunks, prefixes = EXCLUDED.prefixes,
                strip = EXCLUDED.strip, prepend = EXCLUDED.prepend, caller_id = EXCLUDED.caller_id,
                position = EXCLUDED.position""",
        (tenant_id, r.name, list(r.trunks), list(r.prefixes), r.strip, r.prepend, r.caller_id, r.position))


async def remove_route(conn: AsyncConnection, tenant_id: int, name: str) -> bool:
    cur = await conn.execute("DELETE FROM outbound_routes WHERE tenant_id = %s AND name = %s", (tenant_id, name))
    return cur.rowcount > 0
