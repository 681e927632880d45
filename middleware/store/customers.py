"""Customers a tenant's IVR can recognise (by caller ID or account), and callback requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from middleware.ivr.engine import Customer


def phone_key(number: str) -> str:
    """Digits only: '+1 (212) 555-0101' and '12125550101' are the same caller."""
    return re.sub(r"\D", "", number)


_SELECT = "SELECT c.id, c.name, c.account, c.tier, c.language, c.notes FROM customers c"


async def find_by_phone(conn: AsyncConnection, tenant_id: int, number: str) -> Customer | None:
    key = phone_key(number)
    if not key:
        return None
    cur = await conn.execute(_SELECT + " WHERE c.tenant_id = %s AND %s = ANY(c.phones) ORDER BY c.id LIMIT 1",
                             (tenant_id, key))
    row = await cur.fetchone()
    return None if row is None else Customer(*row)


async def find_by_account(conn: AsyncConnection, tenant_id: int, account: str) -> Customer | None:
    cur = await conn.execute(_SELECT + " WHERE c.tenant_id = %s AND c.account = %s", (tenant_id, account))
    row = await cur.fetchone()
    return None if row is None else Customer(*row)


async def upsert_customer(conn: AsyncConnection, tenant_id: int, account: str, name: str, phones: list[str],
                          *, language: str = "", tier: str = "", notes: dict[str, Any] | None = None) -> int:
    cur = await conn.execute(
        """INSERT INTO customers (tenant_id, account, name, phones, language, tier, notes)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, account) DO UPDATE SET name = EXCLUDED.name, phones = EXCLUDED.phones,
               language = EXCLUDED.language, tier = EXCLUDED.tier, notes = EXCLUDED.notes
           RETURNING id""",
        (tenant_id, account, name, [phone_key(p) for p in phones], language, tier, Jsonb(notes or {})))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def list_customers(conn: AsyncConnection, tenant_code: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT c.account, c.name, c.phones, c.language, c.tier FROM customers c
                 JOIN tenants t ON t.id = c.tenant_id WHERE t.code = %s ORDER BY c.account""", (tenant_code,))
        return await cur.fetchall()


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
