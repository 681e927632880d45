"""Campaigns, leads, do-not-call lists and dial attempts in PostgreSQL; the hopper's claim."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from middleware.dialer.compliance import with_defaults
from middleware.dialer.leads import Lead
from middleware.dialer.observed import AbandonCounts

CAMPAIGN_QUEUE_PREFIX = "dialer-"
DEFAULT_LIST = "default"  # the list leads go to when none is named
WEIGHT_OF_PRIORITY = {"inbound": 0, "equal": 10, "outbound": 20}  # inbound queues weigh 10


@dataclass(frozen=True)
class CampaignRow:
    id: int
    code: str
    tenant_id: int
    tenant_code: str
    name: str
    queue: str
    caller_id: str
    trunk: str
    mode: str
    status: str
    abandon_target: float
    window_start: time
    window_end: time
    retry_rules: dict[str, dict[str, int]]
    max_attempts: int
    ring_timeout_s: int
    amd: bool
    machine_action: str
    machine_prompt: str
    safe_harbor_prompt: str
    max_lines: int
    max_ratio: float
    preview_s: int
    wrapup_s: int
    tenant_timezone: str
    amd_false_positive: float
    pacing_gain: float | None


_CAMPAIGN_COLUMNS = """c.id, c.code, c.tenant_id, t.code, c.name, q.name, c.caller_id, c.trunk, c.mode, c.status,
    c.abandon_target, c.window_start, c.window_end, c.retry_rules, c.max_attempts, c.ring_timeout_s, c.amd,
    c.machine_action, c.machine_prompt, c.safe_harbor_prompt, c.max_lines, c.max_ratio, c.preview_s, q.wrapup_s,
    t.timezone, c.amd_false_positive, c.pacing_gain
    FROM campaigns c JOIN tenants t ON t.id = c.tenant_id JOIN queues q ON q.id = c.queue_id"""


def _campaign(row: Sequence[Any]) -> CampaignRow:
    values = list(row)
    values[10] = float(values[10])
    values[21] = float(values[21])
    values[25] = float(values[25])
    values[13] = with_defaults(values[13])
    return CampaignRow(*values)


async def get_campaign(conn: AsyncConnection, code: str, lock: bool = False) -> CampaignRow | None:
    """The campaign; with ``lock``, its row locked for this transaction (a change of its settings)."""
    cur = await conn.execute(f"SELECT {_CAMPAIGN_COLUMNS} WHERE c.code = %s" + (" FOR UPDATE OF c" if lock else ""),
                             (code,))
    row = await cur.fetchone()
    return None if row is None else _campaign(row)


async def campaign_by_id(conn: AsyncConnection, campaign_id: int) -> CampaignRow | None:
    cur = await conn.execute(f"SELECT {_CAMPAIGN_COLUMNS} WHERE c.id = %s", (campaign_id,))
    row = await cur.fetchone()
    return None if row is None else _campaign(row)


async def list_campaigns(conn: AsyncConnection, status: str | None = None) -> list[CampaignRow]:
    cur = await conn.execute(f"SELECT {_CAMPAIGN_COLUMNS} WHERE %(s)s::text IS NULL OR c.status = %(s)s "
                             "ORDER BY c.code", {"s": status})
    return [_campaign(r) for r in await cur.fetchall()]


async def create_campaign(conn: AsyncConnection, *, tenant_id: int, code: str, settings: dict[str, Any],
                          agents: Sequence[str], wrapup_s: int, inbound_priority: str) -> int:
    """The campaign and its own queue (agents added as members); one transaction is the caller's."""
    queue = CAMPAIGN_QUEUE_PREFIX + code
    cur = await conn.execute(
        """INSERT INTO queues (tenant_id, name, strategy, ring_timeout_s, wrapup_s, service_level_s, max_wait_s,
                               description, announce_every_s, weight)
           VALUES (%s, %s, 'leastrecent', 15, %s, 2, 2, %s, 0, %s) RETURNING id""",
        (tenant_id, queue, wrapup_s, f"agents of campaign {code}", WEIGHT_OF_PRIORITY[inbound_priority]))
    row = await cur.fetchone()
    assert row is not None
    columns = ", ".join(settings)
    placeholders = ", ".join(f"%({k})s" for k in settings)
    params = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in settings.items()}
    cur = await conn.execute(
        f"INSERT INTO campaigns (tenant_id, code, queue_id, {columns}) "
        f"VALUES (%(tenant_id)s, %(code)s, %(queue_id)s, {placeholders}) RETURNING id",
        {**params, "tenant_id": tenant_id, "code": code, "queue_id": row[0]})
    campaign = await cur.fetchone()
    assert campaign is not None
    await ensure_list(conn, int(campaign[0]), DEFAULT_LIST)
    await conn.execute(
        """INSERT INTO queue_members (queue_id, agent_id, penalty)
           SELECT %s, a.id, 1 FROM agents a WHERE a.code = ANY(%s) AND a.tenant_id = %s ON CONFLICT DO NOTHING""",
        (row[0], list(agents), tenant_id))
    return int(campaign[0])


async def agents_of_teams(conn: AsyncConnection, tenant_id: int, teams: Sequence[str]) -> list[str]:
    cur = await conn.execute(
        """SELECT DISTINCT a.code FROM teams tm JOIN team_members m ON m.team_id = tm.id
             JOIN agents a ON a.id = m.agent_id WHERE tm.name = ANY(%s) AND tm.tenant_id = %s""",
        (list(teams), tenant_id))
    return [r[0] for r in await cur.fetchall()]


CHANGEABLE = frozenset({"name", "caller_id", "mode", "abandon_target", "window_start", "window_end", "retry_rules",
                        "max_attempts", "ring_timeout_s", "amd", "machine_action", "machine_prompt",
                        "amd_false_positive", "safe_harbor_prompt", "max_lines", "max_ratio", "preview_s"})


async def update_campaign(conn: AsyncConnection, campaign_id: int, changes: dict[str, Any]) -> None:
    """New values of some of a campaign's settings (the keys: CHANGEABLE columns)."""
    assert changes and set(changes) <= CHANGEABLE, set(changes) - CHANGEABLE
    assignments = ", ".join(f"{column} = %({column})s" for column in changes)
    params = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in changes.items()}
    await conn.execute(f"UPDATE campaigns SET {assignments} WHERE id = %(id)s", {**params, "id": campaign_id})


async def set_status(conn: AsyncConnection, code: str, status: str) -> bool:
    cur = await conn.execute("UPDATE campaigns SET status = %s WHERE code = %s RETURNING id", (status, code))
    return await cur.fetchone() is not None


async def import_leads(conn: AsyncConnection, campaign_id: int, leads: Sequence[Lead],
                       list_name: str = DEFAULT_LIST) -> int:
    """Insert into the list (made if the campaign has none of that name) the leads not already in the
    campaign, in any of its lists; the number inserted."""
    list_id = await ensure_list(conn, campaign_id, list_name)
    before = await _count(conn, "SELECT count(*) FROM leads WHERE campaign_id = %s", campaign_id)
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO leads (campaign_id, list_id, number, timezone, name, data, source_line)
               VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (campaign_id, number) DO NOTHING""",
            [(campaign_id, list_id, le.number, le.timezone, le.name, Jsonb(le.data), le.line) for le in leads])
    return await _count(conn, "SELECT count(*) FROM leads WHERE campaign_id = %s", campaign_id) - before


# lead lists ----------------------------------------------------------------------------------------

LIST_COLUMNS = ("list", "priority", "active", "leads", "ready", "dialing", "done", "failed", "dnc", "resets",
                "reset_at")


async def list_id(conn: AsyncConnection, campaign_id: int, name: str) -> int | None:
    cur = await conn.execute("SELECT id FROM lead_lists WHERE campaign_id = %s AND name = %s", (campaign_id, name))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def ensure_list(conn: AsyncConnection, campaign_id: int, name: str) -> int:
    """The list's id, the list made (active, priority 0) if the campaign has none of that name."""
    await conn.execute("INSERT INTO lead_lists (campaign_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                       (campaign_id, name))
    found = await list_id(conn, campaign_id, name)
    assert found is not None
    return found


async def add_list(conn: AsyncConnection, campaign_id: int, name: str, priority: int, active: bool) -> int:
    cur = await conn.execute("INSERT INTO lead_lists (campaign_id, name, priority, active) VALUES (%s, %s, %s, %s) "
                             "RETURNING id", (campaign_id, name, priority, active))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def set_list(conn: AsyncConnection, list_id: int, priority: int | None, active: bool | None) -> None:
    await conn.execute("UPDATE lead_lists SET priority = COALESCE(%s, priority), active = COALESCE(%s, active) "
                       "WHERE id = %s", (priority, active, list_id))


async def lead_lists(conn: AsyncConnection, campaign_id: int) -> list[dict[str, Any]]:
    """Each list of the campaign with its leads counted by status, the highest priority first."""
    cur = await conn.execute(
        """SELECT ll.name, ll.priority, ll.active, count(l.id),
                  count(l.id) FILTER (WHERE l.status = 'ready'), count(l.id) FILTER (WHERE l.status = 'dialing'),
                  count(l.id) FILTER (WHERE l.status = 'done'), count(l.id) FILTER (WHERE l.status = 'failed'),
                  count(l.id) FILTER (WHERE l.status = 'dnc'), ll.resets, ll.reset_at
             FROM lead_lists ll LEFT JOIN leads l ON l.list_id = ll.id WHERE ll.campaign_id = %s
            GROUP BY ll.id ORDER BY ll.priority DESC, ll.name""", (campaign_id,))
    return [dict(zip(LIST_COLUMNS, r, strict=True)) for r in await cur.fetchall()]


async def reset_list(conn: AsyncConnection, list_id: int, keep: Sequence[str], only: Sequence[str] | None,
                     now: datetime) -> int:
    """Every finished lead of the list dialable again from ``now``, its counts of calls started afresh;
    leads on a do-not-call list, being dialled, or given a disposition in ``keep`` (final ones) are left
    alone; with ``only``, just the leads whose disposition or last outcome is one of those. The hopper
    still applies the do-not-call lists, the calling window and the 72 hours after an abandoned call."""
    cur = await conn.execute(
        """UPDATE leads SET status = 'ready', attempts = 0, tries = '{}'::jsonb, next_at = %(now)s,
                  disposition = NULL
            WHERE list_id = %(list)s AND status IN ('done', 'failed')
              AND NOT (COALESCE(disposition, '') = ANY(%(keep)s))
              AND (%(only)s::text[] IS NULL OR COALESCE(disposition, last_outcome) = ANY(%(only)s))""",
        {"list": list_id, "keep": list(keep), "only": None if only is None else list(only), "now": now})
    await conn.execute("UPDATE lead_lists SET resets = resets + 1, reset_at = %s WHERE id = %s", (now, list_id))
    return cur.rowcount


async def remove_list(conn: AsyncConnection, list_id: int) -> int:
    """The list and its leads (their attempts go with them: the caller checks none counts any more)."""
    cur = await conn.execute("DELETE FROM leads WHERE list_id = %s", (list_id,))
    await conn.execute("DELETE FROM lead_lists WHERE id = %s", (list_id,))
    return cur.rowcount


async def list_attempts_since(conn: AsyncConnection, list_id: int, since: datetime) -> int:
    """Calls to the list's leads launched since ``since`` (or still in flight)."""
    return await _count(conn, """SELECT count(*) FROM dial_attempts a JOIN leads l ON l.id = a.lead_id
                                  WHERE l.list_id = %s AND (a.launched_at >= %s OR a.status = 'dialing')""",
                        list_id, since)


async def _count(conn: AsyncConnection, sql: str, *params: Any) -> int:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def add_dnc(conn: AsyncConnection, scope: str, tenant_id: int | None, campaign_id: int | None,
                  numbers: Sequence[str], source: str) -> int:
    before = await _count(conn, "SELECT count(*) FROM dnc")
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO dnc (scope, tenant_id, campaign_id, number, source) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING", [(scope, tenant_id, campaign_id, n, source) for n in numbers])
    return await _count(conn, "SELECT count(*) FROM dnc") - before


async def dnc_hits(conn: AsyncConnection, tenant_id: int, campaign_id: int, number: str) -> list[str]:
    """The scopes whose do-not-call list holds the number (for this campaign)."""
    cur = await conn.execute(
        """SELECT scope FROM dnc WHERE number = %s AND (scope = 'global' OR (scope = 'tenant' AND tenant_id = %s)
                                                     OR (scope = 'campaign' AND campaign_id = %s))""",
        (number, tenant_id, campaign_id))
    return [r[0] for r in await cur.fetchall()]


async def list_dnc(conn: AsyncConnection, scope: str | None = None) -> list[tuple[str, str, str, str]]:
    cur = await conn.execute(
        """SELECT d.scope, COALESCE(t.code, ''), COALESCE(c.code, ''), d.number FROM dnc d
             LEFT JOIN tenants t ON t.id = d.tenant_id LEFT JOIN campaigns c ON c.id = d.campaign_id
            WHERE %(s)s::text IS NULL OR d.scope = %(s)s ORDER BY d.number""", {"s": scope})
    return [tuple(r) for r in await cur.fetchall()]


@dataclass(frozen=True)
class Claimed:
    attempt_id: int
    lead_id: int
    number: str
    timezone: str
    name: str
    data: dict[str, Any]
    attempts: int


_CLAIM = """
WITH ready AS (
    SELECT l.id FROM leads l JOIN lead_lists ll ON ll.id = l.list_id AND ll.active
     WHERE l.campaign_id = %(campaign)s AND l.status = 'ready' AND l.next_at <= %(now)s
       AND (%(now)s AT TIME ZONE l.timezone)::time >= %(start)s
       AND (%(now)s AT TIME ZONE l.timezone)::time < %(end)s
       AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.number = l.number
                        AND (d.scope = 'global' OR (d.scope = 'tenant' AND d.tenant_id = %(tenant)s)
                             OR (d.scope = 'campaign' AND d.campaign_id = %(campaign)s)))
       AND NOT EXISTS (SELECT 1 FROM dial_attempts a WHERE a.number = l.number AND a.outcome = 'abandoned'
                        AND a.ended_at > %(now)s - interval '72 hours')
     ORDER BY ll.priority DESC, l.next_at, l.id
     LIMIT %(n)s
     FOR UPDATE OF l SKIP LOCKED
), taken AS (
    UPDATE leads l SET status = 'dialing', attempts = l.attempts + 1 FROM ready WHERE l.id = ready.id
    RETURNING l.id, l.number, l.timezone, l.name, l.data, l.attempts
), attempts AS (
    INSERT INTO dial_attempts (campaign_id, lead_id, number, node, launched_at)
    SELECT %(campaign)s, id, number, %(node)s, %(now)s FROM taken RETURNING id, lead_id
)
SELECT a.id, t.id, t.number, t.timezone, t.name, t.data, t.attempts FROM attempts a JOIN taken t ON t.id = a.lead_id
ORDER BY a.id
"""


async def claim_leads(conn: AsyncConnection, campaign: CampaignRow, n: int, node: str, now: datetime) -> list[Claimed]:
    """Take up to ``n`` leads that may be called now, from the campaign's active lists, the highest
    priority first, and open an attempt for each. Leads another node holds are skipped (SKIP LOCKED), so
    dialer nodes sharing a campaign never dial one lead twice."""
    if n <= 0:
        return []
    cur = await conn.execute(_CLAIM, {"campaign": campaign.id, "tenant": campaign.tenant_id, "now": now,
                                      "start": campaign.window_start, "end": campaign.window_end,
                                      "n": n, "node": node})
    return [Claimed(*r) for r in await cur.fetchall()]


async def mark_stage(conn: AsyncConnection, attempt_id: int, column: str, at: datetime) -> None:
    assert column in ("answered_at", "human_at", "connected_at")
    await conn.execute(f"UPDATE dial_attempts SET {column} = COALESCE({column}, %s) WHERE id = %s", (at, attempt_id))


async def mark_machine(conn: AsyncConnection, attempt_id: int, cause: str) -> None:
    await conn.execute("UPDATE dial_attempts SET amd_cause = %s WHERE id = %s", (cause, attempt_id))


async def finish_attempt(conn: AsyncConnection, attempt_id: int, values: dict[str, Any], lead_id: int,
                         lead_status: str, next_at: datetime | None) -> None:
    await conn.execute(
        """UPDATE dial_attempts SET status = 'done', outcome = %(outcome)s, linkedid = %(linkedid)s,
               answered_at = %(answered_at)s, human_at = %(human_at)s, connected_at = %(connected_at)s,
               ended_at = %(ended_at)s,
               ring_s = %(ring_s)s, wait_s = %(wait_s)s, talk_s = %(talk_s)s, agent_code = %(agent)s,
               amd_cause = %(amd_cause)s, reason = %(reason)s
            WHERE id = %(id)s AND status = 'dialing'""", {**values, "id": attempt_id})
    await conn.execute(
        """UPDATE leads SET status = %(status)s, next_at = COALESCE(%(next)s, next_at), last_outcome = %(outcome)s,
                  tries = CASE WHEN %(outcome)s = 'blocked' THEN tries
                               ELSE tries || jsonb_build_object(%(outcome)s::text,
                                                                COALESCE((tries->>%(outcome)s)::int, 0) + 1) END
            WHERE id = %(lead)s""",
        {"status": lead_status, "next": next_at, "outcome": values["outcome"], "lead": lead_id})


async def in_flight(conn: AsyncConnection, campaign_id: int) -> list[tuple[datetime, datetime | None, datetime | None]]:
    """(launched, answered, live) of every attempt still waiting to ring, be screened or reach an agent,
    whichever node placed it (connected calls and machines need no agent from the dialer any more)."""
    cur = await conn.execute(
        """SELECT launched_at, answered_at, human_at FROM dial_attempts
            WHERE campaign_id = %s AND status = 'dialing' AND connected_at IS NULL
              AND (amd_cause IS NULL OR amd_cause NOT LIKE 'MACHINE%%')""",
        (campaign_id,))
    return [tuple(r) for r in await cur.fetchall()]


async def recent_attempts(conn: AsyncConnection, campaign_id: int, limit: int = 2000) -> list[tuple[Any, ...]]:
    """(outcome, ring_s, screen_s, talk_s) of the latest finished attempts, oldest first."""
    cur = await conn.execute(
        """SELECT outcome, ring_s, EXTRACT(EPOCH FROM human_at - answered_at), talk_s FROM (
               SELECT * FROM dial_attempts WHERE campaign_id = %s AND status = 'done'
                ORDER BY ended_at DESC NULLS LAST LIMIT %s) recent ORDER BY ended_at""", (campaign_id, limit))
    return [tuple(r) for r in await cur.fetchall()]


async def store_pacing_gain(conn: AsyncConnection, campaign_id: int, gain: float) -> None:
    await conn.execute("UPDATE campaigns SET pacing_gain = %s WHERE id = %s", (gain, campaign_id))


async def abandonment_counts(conn: AsyncConnection, campaign_id: int, now: datetime,
                             day_start: datetime) -> AbandonCounts:
    """Live answers, abandoned calls and machine verdicts over the last 30 days and since ``day_start``."""
    cur = await conn.execute(
        """SELECT count(*) FILTER (WHERE outcome IN ('connected', 'abandoned')),
                  count(*) FILTER (WHERE outcome = 'abandoned'),
                  count(*) FILTER (WHERE outcome IN ('connected', 'abandoned') AND ended_at >= %(day)s),
                  count(*) FILTER (WHERE outcome = 'abandoned' AND ended_at >= %(day)s),
                  count(*) FILTER (WHERE outcome = 'machine'),
                  count(*) FILTER (WHERE outcome = 'machine' AND ended_at >= %(day)s)
             FROM dial_attempts WHERE campaign_id = %(c)s AND status = 'done' AND ended_at > %(since)s""",
        {"c": campaign_id, "day": day_start, "since": now - timedelta(days=30)})
    row = await cur.fetchone()
    assert row is not None
    return AbandonCounts(*(int(v) for v in row))


async def campaign_agents(conn: AsyncConnection, queue: str) -> list[tuple[str, str, datetime]]:
    """(agent, state, since) of the campaign queue's members."""
    cur = await conn.execute(
        """SELECT a.code, a.state, a.state_since FROM queue_members m JOIN queues q ON q.id = m.queue_id
             JOIN agents a ON a.id = m.agent_id WHERE q.name = %s ORDER BY a.code""", (queue,))
    return [tuple(r) for r in await cur.fetchall()]


async def lead_status_counts(conn: AsyncConnection, campaign_id: int) -> dict[str, int]:
    cur = await conn.execute("SELECT status, count(*) FROM leads WHERE campaign_id = %s GROUP BY status",
                             (campaign_id,))
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


async def outcome_counts(conn: AsyncConnection, campaign_id: int, since: datetime) -> dict[str, int]:
    cur = await conn.execute(
        """SELECT COALESCE(outcome, 'in flight'), count(*) FROM dial_attempts
            WHERE campaign_id = %s AND launched_at >= %s GROUP BY 1""", (campaign_id, since))
    return {r[0]: int(r[1]) for r in await cur.fetchall()}


async def last_connected_attempt(conn: AsyncConnection, agent_code: str) -> tuple[int, int, str, int] | None:
    """(attempt, lead, number, campaign) of the agent's latest connected campaign call."""
    cur = await conn.execute(
        """SELECT id, lead_id, number, campaign_id FROM dial_attempts WHERE agent_code = %s AND connected_at IS NOT NULL
            ORDER BY connected_at DESC LIMIT 1""", (agent_code,))
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]), int(row[3]))


async def set_disposition(conn: AsyncConnection, lead_id: int, disposition: str) -> tuple[int, int]:
    """Record the disposition, counted among the lead's tries; (calls made, times given) of the lead."""
    cur = await conn.execute(
        """UPDATE leads SET disposition = %(d)s,
                  tries = tries || jsonb_build_object(%(d)s::text, COALESCE((tries->>%(d)s)::int, 0) + 1)
            WHERE id = %(lead)s RETURNING attempts, (tries->>%(d)s)::int""", {"d": disposition, "lead": lead_id})
    row = await cur.fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def lead_for_attempt(conn: AsyncConnection, attempt_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        """SELECT l.id, l.number, l.name, l.data, c.code, l.attempts FROM dial_attempts a
             JOIN leads l ON l.id = a.lead_id JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = %s""",
        (attempt_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return {"lead": row[0], "number": row[1], "name": row[2], "data": row[3], "campaign": row[4], "attempt": row[5]}


async def orphaned_attempts(conn: AsyncConnection, node: str, stale_before: datetime) -> list[tuple[int, int]]:
    """(attempt, lead) this node left in flight (it stopped or crashed while they rang), and any node's
    attempt launched before ``stale_before`` and never finished."""
    cur = await conn.execute(
        """SELECT id, lead_id FROM dial_attempts
            WHERE status = 'dialing' AND (node = %s OR launched_at < %s) FOR UPDATE SKIP LOCKED""",
        (node, stale_before))
    return [(int(r[0]), int(r[1])) for r in await cur.fetchall()]


async def try_pace(conn: AsyncConnection, campaign_id: int) -> bool:
    """Take the campaign's pacing lock for this transaction; False if another node holds it now."""
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (0x0D1A, campaign_id))
    row = await cur.fetchone()
    return bool(row and row[0])


async def shared_queues(conn: AsyncConnection, campaign_queue: str) -> list[str]:
    """The other queues the campaign's agents belong to."""
    cur = await conn.execute(
        """SELECT DISTINCT q2.name FROM queue_members m JOIN queues q ON q.id = m.queue_id
             JOIN queue_members m2 ON m2.agent_id = m.agent_id JOIN queues q2 ON q2.id = m2.queue_id
            WHERE q.name = %s AND q2.name <> %s""", (campaign_queue, campaign_queue))
    return [r[0] for r in await cur.fetchall()]


async def lead_attempts(conn: AsyncConnection, lead_id: int, outcome: str) -> tuple[int, int] | None:
    """How many times the lead was dialled, and how many earlier calls ended with ``outcome`` (None: no
    such lead)."""
    cur = await conn.execute("SELECT attempts, COALESCE((tries->>%s)::int, 0) FROM leads WHERE id = %s",
                             (outcome, lead_id))
    row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else None


async def uncount_attempt(conn: AsyncConnection, lead_id: int) -> None:
    """An attempt that never dialled (blocked at the last moment) does not count against the lead."""
    await conn.execute("UPDATE leads SET attempts = attempts - 1 WHERE id = %s", (lead_id,))


async def settle_lost(conn: AsyncConnection, attempts: Sequence[tuple[int, int]], retry_at: datetime) -> None:
    """Attempts whose end nobody saw: done as 'lost'; their leads, still dialing, ready at ``retry_at``."""
    for attempt_id, lead_id in attempts:
        await conn.execute("UPDATE dial_attempts SET status = 'done', outcome = 'lost', ended_at = now() "
                           "WHERE id = %s", (attempt_id,))
        await conn.execute("UPDATE leads SET status = 'ready', next_at = %s WHERE id = %s AND status = 'dialing'",
                           (retry_at, lead_id))


async def set_lead_status(conn: AsyncConnection, lead_id: int, status: str, next_at: datetime | None = None) -> None:
    """A lead's new status from a disposition (a lead on a do-not-call list stays there)."""
    if status == "dnc":
        await conn.execute("UPDATE leads SET status = 'dnc' WHERE id = %s", (lead_id,))
    else:
        await conn.execute("UPDATE leads SET status = %s, next_at = %s WHERE id = %s AND status <> 'dnc'",
                           (status, next_at, lead_id))


async def dial_rate(conn: AsyncConnection, campaign_id: int, since: datetime) -> int:
    """Attempts launched since ``since``."""
    cur = await conn.execute("SELECT count(*) FROM dial_attempts WHERE campaign_id = %s AND launched_at > %s",
                             (campaign_id, since))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


LEAD_COLUMNS = ("id", "list", "number", "timezone", "name", "status", "attempts", "next_at", "last_outcome",
                "disposition")


async def list_leads(conn: AsyncConnection, campaign_id: int, status: str | None = None,
                     list_name: str | None = None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        """SELECT l.id, ll.name, l.number, l.timezone, l.name, l.status, l.attempts, l.next_at, l.last_outcome,
                  l.disposition FROM leads l JOIN lead_lists ll ON ll.id = l.list_id
            WHERE l.campaign_id = %(c)s AND (%(s)s::text IS NULL OR l.status = %(s)s)
              AND (%(l)s::text IS NULL OR ll.name = %(l)s) ORDER BY l.id""",
        {"c": campaign_id, "s": status, "l": list_name})
    return [dict(zip(LEAD_COLUMNS, r, strict=True)) for r in await cur.fetchall()]


async def delete_campaign(conn: AsyncConnection, code: str) -> None:
    """A campaign, its leads and attempts, and its own queue (the demo starts each run afresh)."""
    await conn.execute("DELETE FROM campaigns WHERE code = %s", (code,))
    await conn.execute("DELETE FROM queues WHERE name = %s", (CAMPAIGN_QUEUE_PREFIX + code,))


async def leads_to_go(conn: AsyncConnection, code: str, within: timedelta) -> int:
    """Leads of the campaign being dialled or due again within ``within``."""
    cur = await conn.execute(
        """SELECT count(*) FROM leads l JOIN campaigns c ON c.id = l.campaign_id WHERE c.code = %s
              AND (l.status = 'dialing' OR (l.status = 'ready' AND l.next_at < now() + %s))""", (code, within))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
