"""Agents, their phones, their queue memberships and their state history."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from middleware.agents.state import AgentState
from middleware.directory import PhoneRow
from middleware.routing.membership import Membership, member_interface


@dataclass(frozen=True)
class AgentRow:
    id: int
    code: str
    name: str
    tenant_code: str
    state: AgentState
    state_reason: str
    endpoint: str | None  # the agent's phone (PJSIP endpoint), if any
    wrap_up_until: datetime | None = None
    session_mode: str = "ring"  # ring: calls ring the phone; persistent: an app_agent_pool session

    @property
    def interface(self) -> str:
        """The queue member interface: the phone, or the agent's persistent session."""
        return member_interface(self.code, self.endpoint or "", self.session_mode)


_AGENT_SELECT = """
SELECT a.id, a.code, a.name, t.code, a.state, a.state_reason,
       (SELECT p.endpoint FROM phones p WHERE p.agent_id = a.id ORDER BY p.id LIMIT 1), a.wrap_up_until,
       a.session_mode
  FROM agents a JOIN tenants t ON t.id = a.tenant_id
"""


def _agent(row: tuple[Any, ...]) -> AgentRow:
    return AgentRow(row[0], row[1], row[2], row[3], AgentState(row[4]), row[5], row[6], row[7], row[8])


async def get_agent(conn: AsyncConnection, code: str) -> AgentRow | None:
    cur = await conn.execute(_AGENT_SELECT + " WHERE a.code = %s", (code,))
    row = await cur.fetchone()
    return None if row is None else _agent(row)


async def agent_by_endpoint(conn: AsyncConnection, endpoint: str) -> AgentRow | None:
    cur = await conn.execute(
        _AGENT_SELECT + " WHERE a.id = (SELECT agent_id FROM phones WHERE endpoint = %s)", (endpoint,))
    row = await cur.fetchone()
    return None if row is None else _agent(row)


async def list_agents(conn: AsyncConnection) -> list[AgentRow]:
    cur = await conn.execute(_AGENT_SELECT + " ORDER BY t.code, a.code")
    return [_agent(row) for row in await cur.fetchall()]


async def set_state(conn: AsyncConnection, agent_id: int, state: AgentState, reason: str = "",
                    wrap_up_until: datetime | None = None, *, expected: AgentState | None = None) -> bool:
    """Write the agent's state and its history row in one statement (one round trip, atomic by
    itself); with ``expected``, only if the state is still that one (compare-and-set: False when
    another writer moved the agent first)."""
    cur = await conn.execute(
        """WITH moved AS (
               UPDATE agents SET state = %(state)s::text, state_reason = %(reason)s::text, state_since = now(),
                      wrap_up_until = %(until)s::timestamptz
                WHERE id = %(id)s AND (%(expected)s::text IS NULL OR state = %(expected)s::text)
               RETURNING id)
           INSERT INTO agent_state_history (agent_id, state, reason)
           SELECT id, %(state)s::text, %(reason)s::text FROM moved""",
        {"state": state.value, "reason": reason, "until": wrap_up_until, "id": agent_id,
         "expected": expected and expected.value})
    return cur.rowcount == 1


@dataclass(frozen=True)
class Moved:
    """An agent a queue event moved: who, in which tenant, to what."""

    code: str
    tenant_code: str
    state: AgentState


@functools.lru_cache(maxsize=64)
def _follow_sql(moves: tuple[tuple[AgentState, AgentState], ...]) -> str:
    """The statement for one set of moves, with the states written in (our own enum values, no caller
    text): no arrays to encode per event, and one prepared statement per kind of event."""
    for old, new in moves:
        assert _STATE_WORD.fullmatch(old.value) and _STATE_WORD.fullmatch(new.value)
    cases = " ".join(f"WHEN '{old.value}' THEN '{new.value}'" for old, new in moves)
    into_wrap_up = " ".join(f"WHEN '{old.value}'" for old, new in moves if new is AgentState.WRAP_UP)
    until = (f"""CASE a.state {into_wrap_up} THEN %(at)s + make_interval(
                 secs => coalesce((SELECT wrapup_s FROM queues WHERE name = %(queue)s), 0)) END"""
             if into_wrap_up else "NULL")
    return f"""WITH moved AS (
                    UPDATE agents a SET state = CASE a.state {cases} END, state_reason = %(reason)s,
                           state_since = now(), wrap_up_until = {until}
                     WHERE a.code = %(code)s AND a.state IN ({", ".join(f"'{old.value}'" for old, _ in moves)})
                    RETURNING a.id, a.code, a.tenant_id, a.state),
                history AS (INSERT INTO agent_state_history (agent_id, state, reason)
                            SELECT id, state, %(reason)s FROM moved)
           SELECT moved.code, t.code, moved.state FROM moved JOIN tenants t ON t.id = moved.tenant_id"""


_STATE_WORD = re.compile(r"[a-z_]+")


async def follow(conn: AsyncConnection, code: str, moves: Mapping[AgentState, AgentState], reason: str,
                 at: datetime, wrap_up_queue: str = "") -> Moved | None:
    """Move agent ``code`` by ``moves`` (its current state -> the next) in one statement, with its
    history row; a move into wrap_up ends ``wrap_up_queue``'s wrap-up after ``at``. None when the
    agent is unknown or in none of the moves' states (the state is the compare-and-set)."""
    if not moves:
        return None
    params: dict[str, Any] = {"reason": reason, "code": code}
    if AgentState.WRAP_UP in moves.values():
        params |= {"at": at, "queue": wrap_up_queue}
    cur = await conn.execute(_follow_sql(tuple(moves.items())), params)
    row = await cur.fetchone()
    return None if row is None else Moved(row[0], row[1], AgentState(row[2]))


async def end_wrap_ups(conn: AsyncConnection, now: datetime, new: AgentState, reason: str) -> list[Moved]:
    """Every agent whose wrap-up is over at ``now`` moved to ``new``, with their history rows, in one
    statement: the clock's tick costs one round trip however many agents it frees."""
    cur = await conn.execute(
        """WITH moved AS (
               UPDATE agents a SET state = %(new)s::text, state_reason = %(reason)s::text, state_since = now(),
                      wrap_up_until = NULL
                WHERE a.state = 'wrap_up' AND a.wrap_up_until <= %(now)s
               RETURNING a.id, a.code, a.tenant_id, a.state),
                history AS (INSERT INTO agent_state_history (agent_id, state, reason)
                            SELECT id, state, %(reason)s::text FROM moved)
           SELECT moved.code, t.code, moved.state FROM moved JOIN tenants t ON t.id = moved.tenant_id
            ORDER BY moved.code""", {"now": now, "new": new.value, "reason": reason})
    return [Moved(row[0], row[1], AgentState(row[2])) for row in await cur.fetchall()]


async def memberships(conn: AsyncConnection, agent_code: str | None = None,
                      queue: str | None = None) -> list[Membership]:
    """Every (agent phone, queue) pair; for one agent and/or one queue when given."""
    cur = await conn.execute(
        """SELECT a.code, p.endpoint, q.name, m.penalty, a.state, a.state_reason, q.skill, s.proficiency,
                  a.session_mode
             FROM queue_members m
             JOIN agents a ON a.id = m.agent_id
             JOIN queues q ON q.id = m.queue_id
             JOIN LATERAL (SELECT endpoint FROM phones WHERE agent_id = a.id ORDER BY id LIMIT 1) p ON true
             LEFT JOIN agent_skills s ON s.agent_id = a.id AND s.skill = q.skill
            WHERE (%(code)s::text IS NULL OR a.code = %(code)s) AND (%(queue)s::text IS NULL OR q.name = %(queue)s)
            ORDER BY a.code, q.name""", {"code": agent_code, "queue": queue})
    return [Membership(code, endpoint, queue, AgentState(state), reason, mode, penalty, skill, proficiency)
            for code, endpoint, queue, penalty, state, reason, skill, proficiency, mode in await cur.fetchall()]


async def set_skill(conn: AsyncConnection, agent_code: str, skill: str, proficiency: int) -> bool:
    """Give an agent a skill at a level (1-5), or take it away (0); False if there is no such agent."""
    cur = await conn.execute("SELECT id FROM agents WHERE code = %s", (agent_code,))
    row = await cur.fetchone()
    if row is None:
        return False
    if proficiency == 0:
        await conn.execute("DELETE FROM agent_skills WHERE agent_id = %s AND skill = %s", (row[0], skill))
    else:
        await conn.execute(
            """INSERT INTO agent_skills (agent_id, skill, proficiency) VALUES (%s, %s, %s)
               ON CONFLICT (agent_id, skill) DO UPDATE SET proficiency = EXCLUDED.proficiency""",
            (row[0], skill, proficiency))
    return True


async def skills_of(conn: AsyncConnection, agent_code: str) -> dict[str, int]:
    cur = await conn.execute(
        """SELECT s.skill, s.proficiency FROM agent_skills s JOIN agents a ON a.id = s.agent_id
            WHERE a.code = %s ORDER BY s.skill""", (agent_code,))
    return {r[0]: r[1] for r in await cur.fetchall()}


async def remove_agent(conn: AsyncConnection, code: str) -> bool:
    cur = await conn.execute("DELETE FROM agents WHERE code = %s RETURNING id", (code,))
    return await cur.fetchone() is not None


async def list_phones(conn: AsyncConnection) -> list[PhoneRow]:
    cur = await conn.execute(
        """SELECT p.endpoint, p.secret, p.caller_name, p.codecs, t.code, a.code, p.emergency_cid
             FROM phones p JOIN tenants t ON t.id = p.tenant_id LEFT JOIN agents a ON a.id = p.agent_id
            ORDER BY p.endpoint""")
    return [PhoneRow(*row) for row in await cur.fetchall()]


async def set_emergency_cid(conn: AsyncConnection, endpoint: str, number: str | None) -> bool:
    cur = await conn.execute("UPDATE phones SET emergency_cid = %s WHERE endpoint = %s", (number, endpoint))
    return cur.rowcount > 0


async def upsert_agent(conn: AsyncConnection, tenant_id: int, code: str, name: str) -> int:
    cur = await conn.execute(
        """INSERT INTO agents (tenant_id, code, name) VALUES (%s, %s, %s)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id""", (tenant_id, code, name))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def upsert_phone(conn: AsyncConnection, tenant_id: int, endpoint: str, secret: str,
                       agent_id: int | None, caller_name: str = "") -> None:
    await conn.execute(
        """INSERT INTO phones (tenant_id, endpoint, secret, agent_id, caller_name) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (endpoint) DO UPDATE SET secret = EXCLUDED.secret, agent_id = EXCLUDED.agent_id,
               caller_name = EXCLUDED.caller_name, tenant_id = EXCLUDED.tenant_id""",
        (tenant_id, endpoint, secret, agent_id, caller_name))


async def add_membership(conn: AsyncConnection, queue: str, agent_code: str, penalty: int = 0) -> None:
    await conn.execute(
        """INSERT INTO queue_members (queue_id, agent_id, penalty)
           SELECT q.id, a.id, %s FROM queues q, agents a WHERE q.name = %s AND a.code = %s
           ON CONFLICT (queue_id, agent_id) DO UPDATE SET penalty = EXCLUDED.penalty""",
        (penalty, queue, agent_code))


async def set_session_mode(conn: AsyncConnection, code: str, mode: str) -> None:
    await conn.execute("UPDATE agents SET session_mode = %s WHERE code = %s", (mode, code))


async def agent_names(conn: AsyncConnection) -> list[tuple[str, str, str]]:
    """(tenant, code, name) of every agent: app_agent_pool's agents.conf."""
    cur = await conn.execute("SELECT t.code, a.code, a.name FROM agents a JOIN tenants t ON t.id = a.tenant_id "
                             "ORDER BY a.code")
    return [(t, c, n) for t, c, n in await cur.fetchall()]


async def known_codes(conn: AsyncConnection, tenant_id: int, codes: list[str]) -> set[str]:
    """Which of ``codes`` are agents of the tenant."""
    cur = await conn.execute("SELECT code FROM agents WHERE tenant_id = %s AND code = ANY(%s)", (tenant_id, codes))
    return {r[0] for r in await cur.fetchall()}


async def dial_permission(conn: AsyncConnection, code: str) -> str | None:
    cur = await conn.execute("SELECT dial_permission FROM agents WHERE code = %s", (code,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def set_dial_permission(conn: AsyncConnection, code: str, permission: str) -> bool:
    cur = await conn.execute("UPDATE agents SET dial_permission = %s WHERE code = %s", (permission, code))
    return cur.rowcount > 0
