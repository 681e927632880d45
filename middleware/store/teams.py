"""Teams of agents, queues' overflow rules and the log of overflow changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from middleware.routing.membership import member_interface
from middleware.routing.overflow import OverflowRule


@dataclass(frozen=True)
class QueueOverflow:
    queue: str
    rule: OverflowRule
    active: bool


@dataclass(frozen=True)
class TeamAgent:
    code: str
    endpoint: str
    state: str
    regular_member: bool  # already a member of the queue in its own right
    session_mode: str = "ring"

    @property
    def interface(self) -> str:
        return member_interface(self.code, self.endpoint, self.session_mode)


async def upsert_team(conn: AsyncConnection, tenant_id: int, name: str, agent_codes: list[str]) -> list[str]:
    """Create or refill a team; return the agent codes that do not exist."""
    cur = await conn.execute(
        """INSERT INTO teams (tenant_id, name) VALUES (%s, %s)
           ON CONFLICT (name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id RETURNING id""", (tenant_id, name))
    row = await cur.fetchone()
    assert row is not None
    team_id = row[0]
    await conn.execute("DELETE FROM team_members WHERE team_id = %s", (team_id,))
    cur = await conn.execute(
        """INSERT INTO team_members (team_id, agent_id) SELECT %s, id FROM agents WHERE code = ANY(%s)
           RETURNING (SELECT code FROM agents WHERE id = agent_id)""", (team_id, agent_codes))
    found = {r[0] for r in await cur.fetchall()}
    return [c for c in agent_codes if c not in found]


async def set_overflow(conn: AsyncConnection, queue: str, team: str | None, join_s: int | None,
                       leave_s: int | None) -> None:
    await conn.execute(
        """UPDATE queues SET overflow_team = %s, overflow_join_wait_s = %s, overflow_leave_wait_s = %s
            WHERE name = %s""", (team, join_s, leave_s, queue))


async def overflow_rules(conn: AsyncConnection) -> list[QueueOverflow]:
    cur = await conn.execute(
        """SELECT name, overflow_team, overflow_join_wait_s, overflow_leave_wait_s, overflow_active FROM queues
            WHERE overflow_team IS NOT NULL AND overflow_join_wait_s IS NOT NULL ORDER BY name""")
    return [QueueOverflow(r[0], OverflowRule(r[1], r[2], r[3] or 0), r[4]) for r in await cur.fetchall()]


async def team_agents(conn: AsyncConnection, team: str, queue: str) -> list[TeamAgent]:
    cur = await conn.execute(
        """SELECT a.code, p.endpoint, a.state,
                  EXISTS (SELECT 1 FROM queue_members m JOIN queues q ON q.id = m.queue_id
                           WHERE m.agent_id = a.id AND q.name = %(queue)s), a.session_mode
             FROM teams t JOIN team_members tm ON tm.team_id = t.id JOIN agents a ON a.id = tm.agent_id
             JOIN LATERAL (SELECT endpoint FROM phones WHERE agent_id = a.id ORDER BY id LIMIT 1) p ON true
            WHERE t.name = %(team)s ORDER BY a.code""", {"team": team, "queue": queue})
    return [TeamAgent(*r) for r in await cur.fetchall()]


async def log_overflow(conn: AsyncConnection, queue: str, team: str, action: str, expected_wait_s: float | None,
                       callers_waiting: int) -> None:
    async with conn.transaction():
        await conn.execute("UPDATE queues SET overflow_active = %s WHERE name = %s", (action == "join", queue))
        await conn.execute(
            """INSERT INTO queue_overflow_log (queue, team, action, expected_wait_s, callers_waiting)
               VALUES (%s, %s, %s, %s, %s)""", (queue, team, action, expected_wait_s, callers_waiting))


async def overflow_log(conn: AsyncConnection, queue: str, last: int = 10) -> list[tuple[datetime, str, str, float]]:
    cur = await conn.execute(
        """SELECT at, action, team, expected_wait_s FROM queue_overflow_log WHERE queue = %s
            ORDER BY id DESC LIMIT %s""", (queue, last))
    return [(r[0], r[1], r[2], float(r[3]) if r[3] is not None else float("inf")) for r in await cur.fetchall()]


async def team_exists(conn: AsyncConnection, name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM teams WHERE name = %s", (name,))
    return await cur.fetchone() is not None


async def list_teams(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Each team and its agents' codes (comma-separated)."""
    cur = await conn.execute(
        """SELECT t.name, string_agg(a.code, ',' ORDER BY a.code) FROM teams t
             LEFT JOIN team_members tm ON tm.team_id = t.id LEFT JOIN agents a ON a.id = tm.agent_id
            GROUP BY t.name ORDER BY t.name""")
    return [{"team": r[0], "agents": r[1] or ""} for r in await cur.fetchall()]
