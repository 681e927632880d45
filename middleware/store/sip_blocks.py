"""Addresses blocked after repeated failed SIP authentications (rendered into res_pjsip_acl's config)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from middleware.security.auth_failures import Block


async def add(conn: AsyncConnection, block: Block, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO sip_blocks (address, failures, blocked_at, blocked_until, last_account)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (address) DO UPDATE SET failures = sip_blocks.failures + EXCLUDED.failures,
               blocked_at = EXCLUDED.blocked_at, blocked_until = EXCLUDED.blocked_until,
               last_account = EXCLUDED.last_account""",
        (block.address, block.failures, now, block.until, block.account[:200]))


async def active(conn: AsyncConnection, now: datetime) -> list[str]:
    cur = await conn.execute("SELECT host(address) FROM sip_blocks WHERE blocked_until > %s ORDER BY address",
                             (now,))
    return [row[0] for row in await cur.fetchall()]


async def expire(conn: AsyncConnection, now: datetime) -> int:
    cur = await conn.execute("DELETE FROM sip_blocks WHERE blocked_until <= %s", (now,))
    return cur.rowcount


async def remove(conn: AsyncConnection, address: str) -> bool:
    cur = await conn.execute("DELETE FROM sip_blocks WHERE address = %s::inet", (address,))
    return cur.rowcount == 1


async def list_blocks(conn: AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT host(address) AS address, failures, blocked_at, blocked_until, last_account
                               FROM sip_blocks ORDER BY blocked_at DESC""")
        return await cur.fetchall()
