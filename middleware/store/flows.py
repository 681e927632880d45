"""IVR flows stored per tenant (the validated definition and the YAML it came from)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from middleware.directory import DidRow


@dataclass(frozen=True)
class FlowRow:
    tenant_code: str
    name: str
    description: str
    definition: dict[str, Any]
    source: str
    version: int
    loaded_at: datetime
    tenant_timezone: str = "UTC"  # a flow without its own `timezone` runs its schedules in this one


_SELECT = """SELECT t.code, f.name, f.description, f.definition, f.source, f.version, f.loaded_at, t.timezone
               FROM ivr_flows f JOIN tenants t ON t.id = f.tenant_id"""


async def did_entry(conn: AsyncConnection, number: str) -> tuple[DidRow, datetime | None] | None:
    """A DID and the version stamp (loaded_at) of its flow, if it has one that is loaded: what a
    call's first IVR step needs, in one round trip (the definition is read only when it changed)."""
    cur = await conn.execute(
        """SELECT d.number, d.tenant_id, t.code, d.fallback_queue, d.flow, f.loaded_at
             FROM dids d JOIN tenants t ON t.id = d.tenant_id
             LEFT JOIN ivr_flows f ON f.tenant_id = d.tenant_id AND f.name = d.flow
            WHERE d.number = %s""", (number,))
    row = await cur.fetchone()
    return None if row is None else (DidRow(*row[:5]), row[5])


async def save_flow(conn: AsyncConnection, tenant_id: int, name: str, description: str,
                    definition: dict[str, Any], source: str) -> int:
    """Insert or replace a flow; return its version (1, 2, ... per replacement)."""
    cur = await conn.execute(
        """INSERT INTO ivr_flows (tenant_id, name, description, definition, source) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, name) DO UPDATE SET description = EXCLUDED.description,
               definition = EXCLUDED.definition, source = EXCLUDED.source,
               version = ivr_flows.version + 1, loaded_at = now()
           RETURNING version""", (tenant_id, name, description, Jsonb(definition), source))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get_flow(conn: AsyncConnection, tenant_code: str, name: str) -> FlowRow | None:
    cur = await conn.execute(_SELECT + " WHERE t.code = %s AND f.name = %s", (tenant_code, name))
    row = await cur.fetchone()
    return None if row is None else FlowRow(*row)


async def list_flows(conn: AsyncConnection, tenant_code: str | None = None) -> list[FlowRow]:
    cur = await conn.execute(_SELECT + " WHERE %(t)s::text IS NULL OR t.code = %(t)s ORDER BY t.code, f.name",
                             {"t": tenant_code})
    return [FlowRow(*row) for row in await cur.fetchall()]


async def allowed_trunks(conn: AsyncConnection, tenant_id: int) -> set[str]:
    cur = await conn.execute("SELECT trunk FROM tenant_trunks WHERE tenant_id = %s", (tenant_id,))
    return {r[0] for r in await cur.fetchall()}


async def allow_trunk(conn: AsyncConnection, tenant_id: int, trunk: str) -> None:
    await conn.execute("INSERT INTO tenant_trunks (tenant_id, trunk) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                       (tenant_id, trunk))
