"""Tenants (with their dialing policy), their DIDs and queues."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from middleware.dialing.policy import DialingPolicy
from middleware.directory import DidRow, QueueRow


async def find_did(conn: AsyncConnection, number: str) -> DidRow | None:
    cur = await conn.execute(
        """SELECT d.number, d.tenant_id, t.code, d.fallback_queue, d.flow
             FROM dids d JOIN tenants t ON t.id = d.tenant_id WHERE d.number = %s""", (number,))
    row = await cur.fetchone()
    return None if row is None else DidRow(*row)


async def list_dids(conn: AsyncConnection) -> list[DidRow]:
    cur = await conn.execute(
        """SELECT d.number, d.tenant_id, t.code, d.fallback_queue, d.flow, t.record_calls, t.recording_consent_prompt,
                  t.csat_prompt
             FROM dids d JOIN tenants t ON t.id = d.tenant_id ORDER BY d.number""")
    return [DidRow(*row) for row in await cur.fetchall()]


_QUEUE_SELECT = """
SELECT q.name, t.code, q.strategy, q.ring_timeout_s, q.wrapup_s, q.service_level_s, q.max_wait_s,
       q.skill, q.widen_steps, q.extension, q.announce_every_s, q.weight
  FROM queues q JOIN tenants t ON t.id = q.tenant_id"""


def _queue(row: tuple[Any, ...]) -> QueueRow:
    name, tenant, strategy, ring_s, wrapup_s, sl_s, max_wait_s, skill, steps, extension, announce_s, weight = row
    return QueueRow(name, tenant, strategy, ring_s, wrapup_s, sl_s, max_wait_s, skill,
                    tuple((int(a), int(b)) for a, b in steps), extension, announce_s, weight)


async def list_queues(conn: AsyncConnection) -> list[QueueRow]:
    cur = await conn.execute(_QUEUE_SELECT + " ORDER BY q.name")
    return [_queue(row) for row in await cur.fetchall()]


async def get_queue(conn: AsyncConnection, name: str) -> QueueRow | None:
    cur = await conn.execute(_QUEUE_SELECT + " WHERE q.name = %s", (name,))
    row = await cur.fetchone()
    return None if row is None else _queue(row)


async def set_queue_routing(conn: AsyncConnection, name: str, skill: str | None,
                            widen_steps: list[tuple[int, int]]) -> bool:
    cur = await conn.execute("UPDATE queues SET skill = %s, widen_steps = %s WHERE name = %s RETURNING id",
                             (skill, Jsonb([list(s) for s in widen_steps]), name))
    return await cur.fetchone() is not None


async def set_queue_caller_settings(conn: AsyncConnection, name: str, extension: str | None,
                                    announce_every_s: int | None) -> None:
    """None leaves a setting as it is; an empty extension removes it."""
    await conn.execute(
        """UPDATE queues SET extension = CASE WHEN %(ext)s::text IS NULL THEN extension ELSE NULLIF(%(ext)s, '') END,
                             announce_every_s = COALESCE(%(every)s, announce_every_s)
            WHERE name = %(name)s""", {"ext": extension, "every": announce_every_s, "name": name})


async def upsert_tenant(conn: AsyncConnection, code: str, name: str, timezone: str = "UTC") -> int:
    cur = await conn.execute(
        """INSERT INTO tenants (code, name, timezone) VALUES (%s, %s, %s)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone
           RETURNING id""", (code, name, timezone))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def upsert_queue(conn: AsyncConnection, tenant_id: int, name: str, *, strategy: str = "ringall",
                       ring_timeout_s: int = 15, wrapup_s: int = 5, service_level_s: int = 20,
                       max_wait_s: int = 300, description: str = "") -> int:
    cur = await conn.execute(
        """INSERT INTO queues (tenant_id, name, strategy, ring_timeout_s, wrapup_s, service_level_s,
                               max_wait_s, description)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET strategy = EXCLUDED.strategy,
               ring_timeout_s = EXCLUDED.ring_timeout_s, wrapup_s = EXCLUDED.wrapup_s,
               service_level_s = EXCLUDED.service_level_s, max_wait_s = EXCLUDED.max_wait_s,
               description = EXCLUDED.description
           RETURNING id""",
        (tenant_id, name, strategy, ring_timeout_s, wrapup_s, service_level_s, max_wait_s, description))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def upsert_did(conn: AsyncConnection, tenant_id: int, number: str, fallback_queue: str,
                     flow: str | None) -> None:
    await conn.execute(
        """INSERT INTO dids (number, tenant_id, fallback_queue, flow) VALUES (%s, %s, %s, %s)
           ON CONFLICT (number) DO UPDATE SET tenant_id = EXCLUDED.tenant_id,
               fallback_queue = EXCLUDED.fallback_queue, flow = EXCLUDED.flow""",
        (number, tenant_id, fallback_queue, flow))


async def tenant_id(conn: AsyncConnection, code: str) -> int | None:
    cur = await conn.execute("SELECT id FROM tenants WHERE code = %s", (code,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def tenant_queues(conn: AsyncConnection, tenant_id: int) -> set[str]:
    cur = await conn.execute("SELECT name FROM queues WHERE tenant_id = %s", (tenant_id,))
    return {r[0] for r in await cur.fetchall()}


_POLICY_COLUMNS = "country, dial_countries, dial_number_types, callbacks_per_number_day, callbacks_per_hour"


async def dialing_policy(conn: AsyncConnection, tenant_id: int) -> DialingPolicy | None:
    cur = await conn.execute(f"SELECT {_POLICY_COLUMNS} FROM tenants WHERE id = %s", (tenant_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return DialingPolicy(home_country=row[0], countries=frozenset(row[1]), number_types=frozenset(row[2]),
                         callbacks_per_number_day=row[3], callbacks_per_hour=row[4])


async def set_dialing_policy(conn: AsyncConnection, tenant_id: int, policy: DialingPolicy) -> None:
    await conn.execute(
        f"UPDATE tenants SET ({_POLICY_COLUMNS}) = (%s, %s, %s, %s, %s) WHERE id = %s",
        (policy.home_country, sorted(policy.countries), sorted(policy.number_types),
         policy.callbacks_per_number_day, policy.callbacks_per_hour, tenant_id))


async def records_calls(conn: AsyncConnection, tenant_id: int) -> bool:
    """Whether the tenant records its answered calls (its recording policy)."""
    cur = await conn.execute("SELECT record_calls FROM tenants WHERE id = %s", (tenant_id,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def queue_exists(conn: AsyncConnection, name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM queues WHERE name = %s", (name,))
    return await cur.fetchone() is not None


TENANT_COLUMNS = ("code", "name", "timezone", "country", "dial_countries", "dial_number_types", "record_calls",
                  "recording_consent_prompt", "recording_retention_days", "csat_prompt")


async def list_tenants(conn: AsyncConnection) -> list[dict[str, Any]]:
    cur = await conn.execute(
        """SELECT code, name, timezone, country, dial_countries, dial_number_types, record_calls,
                  recording_consent_prompt, recording_retention_days, csat_prompt FROM tenants ORDER BY code""")
    return [dict(zip(TENANT_COLUMNS, r, strict=True)) for r in await cur.fetchall()]


async def set_recording_policy(conn: AsyncConnection, code: str, *, record: bool | None, consent_prompt: str | None,
                               retention_days: int | None, csat_prompt: str | None) -> None:
    """Change what is given (None: unchanged). CheckViolation for a prompt that is not a sound name."""
    await conn.execute(
        """UPDATE tenants SET record_calls = COALESCE(%s, record_calls),
                  recording_consent_prompt = COALESCE(%s, recording_consent_prompt),
                  recording_retention_days = COALESCE(%s, recording_retention_days),
                  csat_prompt = COALESCE(%s, csat_prompt) WHERE code = %s""",
        (record, consent_prompt, retention_days, csat_prompt, code))


async def emergency_settings(conn: AsyncConnection) -> list[tuple[int, str, str, str | None]]:
    """(id, code, country, emergency caller ID) of every tenant."""
    cur = await conn.execute("SELECT id, code, country, emergency_cid FROM tenants ORDER BY code")
    return [(i, c, country, cid) for i, c, country, cid in await cur.fetchall()]


async def set_emergency_cid(conn: AsyncConnection, tenant_id: int, number: str | None) -> None:
    await conn.execute("UPDATE tenants SET emergency_cid = %s WHERE id = %s", (number, tenant_id))


async def first_did(conn: AsyncConnection, tenant_id: int) -> str | None:
    """The tenant's main number (its first DID): the caller ID of calls that have none of their own."""
    cur = await conn.execute("SELECT number FROM dids WHERE tenant_id = %s ORDER BY number LIMIT 1", (tenant_id,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
