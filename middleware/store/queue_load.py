"""What a caller about to join a queue meets, read in one round trip: the queue's members grouped by
what decides the wait (state, skill, proficiency, penalty) and the average handle time of its recent
calls. A hundred members are a handful of rows, not a hundred (and no QueueStatus listing them)."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from middleware.agents.state import AgentState
from middleware.routing.membership import Membership


@dataclass(frozen=True)
class MemberGroup:
    state: AgentState
    eligible: bool  # False: the queue needs a skill these members lack
    count: int


@dataclass(frozen=True)
class QueueLoad:
    members: tuple[MemberGroup, ...]
    aht_s: float | None  # talk plus the queue's wrap-up over its last answered calls; None before the first


async def queue_load(conn: AsyncConnection, queue: str, last: int = 50) -> QueueLoad:
    """The same members as ``agents.memberships(queue=...)`` (agents with a phone). The last calls by
    start: the (queue, started_at) index finds them without sorting the queue's whole history."""
    cur = await conn.execute(
        """WITH g AS (SELECT a.state, q.skill, s.proficiency, m.penalty, count(*) AS n
                        FROM queue_members m
                        JOIN agents a ON a.id = m.agent_id
                        JOIN queues q ON q.id = m.queue_id
                        LEFT JOIN agent_skills s ON s.agent_id = a.id AND s.skill = q.skill
                       WHERE q.name = %(q)s AND EXISTS (SELECT 1 FROM phones p WHERE p.agent_id = a.id)
                       GROUP BY 1, 2, 3, 4),
                h AS (SELECT avg(c.talk_s) + (SELECT wrapup_s FROM queues WHERE name = %(q)s) AS aht
                        FROM (SELECT talk_s FROM calls
                               WHERE queue = %(q)s AND disposition = 'answered' AND talk_s IS NOT NULL
                               ORDER BY started_at DESC LIMIT %(n)s) c)
           SELECT g.state, g.skill, g.proficiency, g.penalty, g.n, h.aht FROM h LEFT JOIN g ON true""",
        {"q": queue, "n": last})
    rows = await cur.fetchall()
    aht = rows[0][5] if rows else None
    groups = tuple(
        MemberGroup(AgentState(state), Membership("", "", queue, AgentState(state), "", configured_penalty=penalty,
                                                  skill=skill, proficiency=proficiency).eligible, int(n))
        for state, skill, proficiency, penalty, n, _ in rows if state is not None)
    return QueueLoad(groups, float(aht) if aht is not None else None)
