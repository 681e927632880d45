"""Callback requests: stored by the IVR or a caller in a queue, placed by the callbacks service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection


async def recent_callback_requests(conn: AsyncConnection, tenant_id: int, number: str,
                                   now: datetime) -> tuple[int, int]:
    """Callbacks requested for ``number`` in the last 24 h, and by all of the tenant's callers in the last hour."""
    cur = await conn.execute(
        """SELECT count(*) FILTER (WHERE number = %(number)s AND requested_at > %(now)s - interval '24 hours'),
                  count(*) FILTER (WHERE requested_at > %(now)s - interval '1 hour')
             FROM callbacks WHERE tenant_id = %(tenant)s AND requested_at > %(now)s - interval '24 hours'""",
        {"number": number, "now": now, "tenant": tenant_id})
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def add_callback(conn: AsyncConnection, tenant_id: int, linkedid: str, number: str, queue: str,
                       queue_joined_at: datetime | None = None, did: str = "") -> int:
    cur = await conn.execute(
        "INSERT INTO callbacks (tenant_id, linkedid, number, queue, queue_joined_at, did) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, linkedid, number, queue, queue_joined_at, did))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class CallbackRow:
    id: int
    tenant_id: int
    number: str
    queue: str
    attempts: int
    joined_at: datetime  # when the caller joined the queue (their place), else when they asked
    did: str = ""  # the number the customer called: the callback shows it as its caller ID


async def pending_callbacks(conn: AsyncConnection, limit: int = 20) -> list[CallbackRow]:
    cur = await conn.execute(
        """SELECT cb.id, cb.tenant_id, cb.number, cb.queue, cb.attempts,
                  COALESCE(cb.queue_joined_at,
                           (SELECT c.queue_entered_at FROM calls c WHERE c.linkedid = cb.linkedid), cb.requested_at),
                  COALESCE(NULLIF(cb.did, ''), (SELECT c.did FROM calls c WHERE c.linkedid = cb.linkedid), '')
             FROM callbacks cb WHERE cb.status = 'pending' ORDER BY cb.requested_at LIMIT %s""", (limit,))
    return [CallbackRow(*r) for r in await cur.fetchall()]


async def set_callback_status(conn: AsyncConnection, callback_id: int, status: str, *, attempt: bool = False) -> None:
    await conn.execute(
        "UPDATE callbacks SET status = %s, attempts = attempts + %s WHERE id = %s",
        (status, 1 if attempt else 0, callback_id))


async def callback_status(conn: AsyncConnection, callback_id: int) -> tuple[str, int] | None:
    cur = await conn.execute("SELECT status, attempts FROM callbacks WHERE id = %s", (callback_id,))
    row = await cur.fetchone()
    return None if row is None else (row[0], row[1])


async def callbacks_in_status(conn: AsyncConnection, status: str) -> list[int]:
    cur = await conn.execute("SELECT id FROM callbacks WHERE status = %s ORDER BY id", (status,))
    return [int(r[0]) for r in await cur.fetchall()]
