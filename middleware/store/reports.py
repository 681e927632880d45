"""What the KPI reports read: call records and agent state history of a period."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

from middleware.reports.kpis import CallFact


async def call_facts(conn: AsyncConnection, start: datetime, end: datetime, tenant: str | None) -> list[CallFact]:
    """Complete records started in [start, end) (callers' repeat calls are looked for up to ``end``)."""
    cur = await conn.execute(
        """SELECT c.linkedid, COALESCE(c.caller_number, ''), c.queue, c.agent_code, c.started_at,
                  COALESCE(c.ended_at, c.started_at), c.wait_s, c.talk_s, COALESCE(c.disposition, 'unknown'),
                  jsonb_array_length(c.transfers), c.csat_score, c.campaign
             FROM calls c LEFT JOIN tenants t ON t.id = c.tenant_id
            WHERE c.complete AND c.started_at >= %(start)s AND c.started_at < %(end)s
              AND (%(tenant)s::text IS NULL OR t.code = %(tenant)s
                   OR (c.tenant_id IS NULL AND c.queue IN (SELECT q.name FROM queues q JOIN tenants tq
                                                           ON tq.id = q.tenant_id WHERE tq.code = %(tenant)s)))
            ORDER BY c.started_at""", {"start": start, "end": end, "tenant": tenant})
    return [CallFact(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else float(r[6]),
                     None if r[7] is None else float(r[7]), r[8], int(r[9]), campaign=r[11], csat=r[10])
            for r in await cur.fetchall()]


async def state_history(conn: AsyncConnection, start: datetime, end: datetime,
                        tenant: str | None) -> list[tuple[str, str, datetime]]:
    """(agent, state, since) of every change in [start, end), plus each agent's state as the period began."""
    cur = await conn.execute(
        """WITH scoped AS (SELECT a.id, a.code FROM agents a JOIN tenants t ON t.id = a.tenant_id
                            WHERE %(tenant)s::text IS NULL OR t.code = %(tenant)s)
           SELECT s.code, h.state, greatest(h.at, %(start)s)
             FROM scoped s JOIN LATERAL (SELECT state, at FROM agent_state_history
                                          WHERE agent_id = s.id AND at <= %(start)s ORDER BY at DESC LIMIT 1) h ON true
           UNION ALL
           SELECT s.code, h.state, h.at FROM scoped s JOIN agent_state_history h ON h.agent_id = s.id
            WHERE h.at > %(start)s AND h.at < %(end)s
           ORDER BY 1, 3""", {"start": start, "end": end, "tenant": tenant})
    return [(code, state, at) for code, state, at in await cur.fetchall()]
