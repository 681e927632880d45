"""Customers a tenant's IVR can recognise (by caller ID or account)."""

from __future__ import annotations

import re
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from middleware.customers import Customer


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
