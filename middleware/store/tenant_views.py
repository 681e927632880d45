"""What the supervisor API reads, always through a tenant scope.

Every function takes ``tenant_id``: the caller's tenant, or None for a platform admin (every tenant).
The scope is a bound parameter in the WHERE clause of each query, never a filter applied afterwards,
so a row of another tenant never leaves the database. Call records written before their tenant was
known (tenant_id NULL) belong to the tenant owning their queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

Row = dict[str, Any]


async def _rows(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def _one(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> Row | None:
    rows = await _rows(conn, sql, params)
    return rows[0] if rows else None


async def tenant_of(conn: AsyncConnection, code: str) -> int | None:
    cur = await conn.execute("SELECT id FROM tenants WHERE code = %s", (code,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


_AGENTS = """
    SELECT a.code, a.name, t.code AS tenant, a.state, a.state_reason, a.state_since, a.session_mode,
           COALESCE((SELECT array_agg(q.name ORDER BY q.name) FROM queue_members m JOIN queues q ON q.id = m.queue_id
                      WHERE m.agent_id = a.id), '{}') AS queues
      FROM agents a JOIN tenants t ON t.id = a.tenant_id
     WHERE (%(tenant)s::bigint IS NULL OR a.tenant_id = %(tenant)s)"""


async def agents(conn: AsyncConnection, tenant_id: int | None, state: str | None = None) -> list[Row]:
    return await _rows(conn, _AGENTS + " AND (%(state)s::text IS NULL OR a.state = %(state)s) ORDER BY a.code",
                       {"tenant": tenant_id, "state": state})


async def agent(conn: AsyncConnection, tenant_id: int | None, code: str) -> Row | None:
    return await _one(conn, _AGENTS + " AND a.code = %(code)s", {"tenant": tenant_id, "code": code})


async def phones(conn: AsyncConnection, tenant_id: int | None) -> list[Row]:
    """Phones without their SIP secrets (those stay in the database and the generated config)."""
    return await _rows(conn, """
        SELECT p.endpoint, t.code AS tenant, a.code AS agent, p.caller_name, p.codecs
          FROM phones p JOIN tenants t ON t.id = p.tenant_id LEFT JOIN agents a ON a.id = p.agent_id
         WHERE (%(tenant)s::bigint IS NULL OR p.tenant_id = %(tenant)s) ORDER BY p.endpoint""",
                       {"tenant": tenant_id})


_QUEUES = """
    SELECT q.name, t.code AS tenant, q.description, q.strategy, q.ring_timeout_s, q.wrapup_s, q.service_level_s,
           q.max_wait_s, q.skill, q.weight, q.overflow_team, q.overflow_active,
           COALESCE((SELECT array_agg(a.code ORDER BY a.code) FROM queue_members m JOIN agents a ON a.id = m.agent_id
                      WHERE m.queue_id = q.id), '{}') AS members
      FROM queues q JOIN tenants t ON t.id = q.tenant_id
     WHERE (%(tenant)s::bigint IS NULL OR q.tenant_id = %(tenant)s)"""


async def queues(conn: AsyncConnection, tenant_id: int | None) -> list[Row]:
    return await _rows(conn, _QUEUES + " ORDER BY q.name", {"tenant": tenant_id})


async def queue(conn: AsyncConnection, tenant_id: int | None, name: str) -> Row | None:
    return await _one(conn, _QUEUES + " AND q.name = %(name)s", {"tenant": tenant_id, "name": name})


async def flows(conn: AsyncConnection, tenant_id: int | None) -> list[Row]:
    return await _rows(conn, """
        SELECT f.name, t.code AS tenant, f.description, f.version, f.loaded_at
          FROM ivr_flows f JOIN tenants t ON t.id = f.tenant_id
         WHERE (%(tenant)s::bigint IS NULL OR f.tenant_id = %(tenant)s) ORDER BY t.code, f.name""",
                       {"tenant": tenant_id})


async def flow(conn: AsyncConnection, tenant_id: int | None, name: str) -> list[Row]:
    """The flows of this name the caller may see (one per tenant: an admin may see several)."""
    return await _rows(conn, """
        SELECT f.name, t.code AS tenant, f.description, f.version, f.loaded_at, f.source
          FROM ivr_flows f JOIN tenants t ON t.id = f.tenant_id
         WHERE (%(tenant)s::bigint IS NULL OR f.tenant_id = %(tenant)s) AND f.name = %(name)s
         ORDER BY t.code""", {"tenant": tenant_id, "name": name})


_CAMPAIGNS = """
    SELECT c.code, t.code AS tenant, c.name, c.mode, c.status, c.caller_id, c.abandon_target::float8 AS abandon_target,
           to_char(c.window_start, 'HH24:MI') AS window_start, to_char(c.window_end, 'HH24:MI') AS window_end,
           c.max_attempts, c.amd, c.machine_action, q.name AS queue
      FROM campaigns c JOIN tenants t ON t.id = c.tenant_id JOIN queues q ON q.id = c.queue_id
     WHERE (%(tenant)s::bigint IS NULL OR c.tenant_id = %(tenant)s)"""


async def campaigns(conn: AsyncConnection, tenant_id: int | None, status: str | None = None) -> list[Row]:
    return await _rows(conn, _CAMPAIGNS + " AND (%(status)s::text IS NULL OR c.status = %(status)s) ORDER BY c.code",
                       {"tenant": tenant_id, "status": status})


async def campaign(conn: AsyncConnection, tenant_id: int | None, code: str) -> Row | None:
    return await _one(conn, _CAMPAIGNS + " AND c.code = %(code)s", {"tenant": tenant_id, "code": code})


async def leads(conn: AsyncConnection, tenant_id: int | None, campaign_code: str, status: str | None,
                limit: int) -> list[Row]:
    return await _rows(conn, """
        SELECT l.id, ll.name AS list, l.number, l.name, l.timezone, l.status, l.attempts, l.next_at,
               l.last_outcome, l.disposition
          FROM leads l JOIN campaigns c ON c.id = l.campaign_id JOIN lead_lists ll ON ll.id = l.list_id
         WHERE (%(tenant)s::bigint IS NULL OR c.tenant_id = %(tenant)s) AND c.code = %(campaign)s
           AND (%(status)s::text IS NULL OR l.status = %(status)s)
         ORDER BY l.id LIMIT %(limit)s""",
                       {"tenant": tenant_id, "campaign": campaign_code, "status": status, "limit": limit})


async def lead(conn: AsyncConnection, tenant_id: int | None, campaign_code: str, number: str) -> Row | None:
    rows = await _rows(conn, """
        SELECT l.id, ll.name AS list, l.number, l.name, l.timezone, l.status, l.attempts, l.next_at,
               l.last_outcome, l.disposition
          FROM leads l JOIN campaigns c ON c.id = l.campaign_id JOIN lead_lists ll ON ll.id = l.list_id
         WHERE (%(tenant)s::bigint IS NULL OR c.tenant_id = %(tenant)s) AND c.code = %(campaign)s
           AND l.number = %(number)s""", {"tenant": tenant_id, "campaign": campaign_code, "number": number})
    return rows[0] if rows else None


_CALL_SCOPE = """(%(tenant)s::bigint IS NULL OR c.tenant_id = %(tenant)s
                  OR (c.tenant_id IS NULL AND c.queue IN (SELECT name FROM queues WHERE tenant_id = %(tenant)s)))"""
_CALL_COLUMNS = """c.linkedid, COALESCE(t.code, tq.code) AS tenant, c.direction, c.caller_number, c.did, c.queue,
                   c.agent_code AS agent, c.campaign, c.started_at, c.answered_at, c.connected_at, c.ended_at,
                   c.wait_s::float8 AS wait_s, c.talk_s::float8 AS talk_s, c.duration_s::float8 AS duration_s,
                   c.disposition, c.csat_score, c.complete"""
_CALL_FROM = """calls c LEFT JOIN tenants t ON t.id = c.tenant_id
                LEFT JOIN queues qq ON qq.name = c.queue LEFT JOIN tenants tq ON tq.id = qq.tenant_id"""


async def calls(conn: AsyncConnection, tenant_id: int | None, *, since: datetime | None, until: datetime | None,
                queue: str | None, agent: str | None, direction: str | None, limit: int) -> list[Row]:
    return await _rows(conn, f"""
        SELECT {_CALL_COLUMNS} FROM {_CALL_FROM}
         WHERE {_CALL_SCOPE}
           AND (%(since)s::timestamptz IS NULL OR c.started_at >= %(since)s)
           AND (%(until)s::timestamptz IS NULL OR c.started_at < %(until)s)
           AND (%(queue)s::text IS NULL OR c.queue = %(queue)s)
           AND (%(agent)s::text IS NULL OR c.agent_code = %(agent)s)
           AND (%(direction)s::text IS NULL OR c.direction = %(direction)s)
         ORDER BY c.started_at DESC NULLS LAST, c.linkedid LIMIT %(limit)s""",
                       {"tenant": tenant_id, "since": since, "until": until, "queue": queue, "agent": agent,
                        "direction": direction, "limit": limit})


async def call(conn: AsyncConnection, tenant_id: int | None, linkedid: str) -> Row | None:
    return await _one(conn, f"""
        SELECT {_CALL_COLUMNS}, c.legs, c.transfers, c.ivr_path
          FROM {_CALL_FROM} WHERE {_CALL_SCOPE} AND c.linkedid = %(linkedid)s""",
                      {"tenant": tenant_id, "linkedid": linkedid})


async def queue_day(conn: AsyncConnection, tenant_id: int | None, since: datetime) -> list[Row]:
    """Per queue since ``since``: offered, answered, abandoned, answered within the queue's service level."""
    return await _rows(conn, """
        SELECT q.name AS queue, count(c.linkedid)::int AS offered,
               count(c.connected_at)::int AS answered,
               count(*) FILTER (WHERE c.linkedid IS NOT NULL AND c.connected_at IS NULL AND c.complete)::int
                   AS abandoned,
               count(*) FILTER (WHERE c.connected_at IS NOT NULL AND c.wait_s <= q.service_level_s)::int
                   AS within_sla,
               q.service_level_s
          FROM queues q LEFT JOIN calls c ON c.queue = q.name AND c.started_at >= %(since)s
         WHERE (%(tenant)s::bigint IS NULL OR q.tenant_id = %(tenant)s)
         GROUP BY q.name, q.service_level_s ORDER BY q.name""", {"tenant": tenant_id, "since": since})
