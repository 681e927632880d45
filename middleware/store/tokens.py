"""API tokens: created and revoked by `callcenter token`, looked up by digest on every request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from middleware.principal import Principal


async def create(conn: AsyncConnection, *, digest: str, role: str, tenant_id: int | None, agent: str | None,
                 name: str) -> int:
    cur = await conn.execute(
        """INSERT INTO api_tokens (token_hash, role, tenant_id, agent_code, name)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""", (digest, role, tenant_id, agent, name))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def revoke(conn: AsyncConnection, token_id: int, now: datetime) -> bool:
    cur = await conn.execute("UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                             (now, token_id))
    return cur.rowcount == 1


async def principal(conn: AsyncConnection, digest: str, now: datetime) -> Principal | None:
    """The live token with this digest (its last use is stamped, at most once a minute)."""
    cur = await conn.execute(
        """UPDATE api_tokens k SET last_used_at = %(now)s
             FROM (SELECT id FROM api_tokens WHERE token_hash = %(digest)s AND revoked_at IS NULL) f
            WHERE k.id = f.id
              AND (k.last_used_at IS NULL OR k.last_used_at < %(now)s - interval '1 minute')""",
        {"digest": digest, "now": now})
    del cur
    cur = await conn.execute(
        """SELECT k.id, k.role, k.tenant_id, t.code, k.agent_code
             FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id
            WHERE k.token_hash = %s AND k.revoked_at IS NULL""", (digest,))
    row = await cur.fetchone()
    if row is None:
        return None
    return Principal(token_id=int(row[0]), role=row[1], tenant_id=row[2], tenant=row[3], agent=row[4])


async def list_tokens(conn: AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT k.id, k.name, k.role, t.code AS tenant, k.agent_code AS agent, k.created_at,
                      k.last_used_at, k.revoked_at
                 FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id ORDER BY k.id""")
        return await cur.fetchall()
