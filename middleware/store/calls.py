"""Call records: the IVR's facts and the assembled CDR, one row per linkedid, in either order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from middleware.cdr.assembly import CallRecord
from middleware.cdr.reconcile import RawCdr
from middleware.ivr.facts import IvrFacts


async def record_ivr(conn: AsyncConnection, *, linkedid: str, tenant_id: int, did: str, caller_number: str,
                     facts: IvrFacts, estimate: tuple[float | None, int] | None = None) -> None:
    """Store everything the IVR learned, and the wait announced (seconds, position) when the call goes to a
    queue: one round trip; the CDR assembled later fills the other columns."""
    await conn.execute(
        """INSERT INTO calls (linkedid, tenant_id, did, caller_number, ivr_flow, ivr_outcome, ivr_digits, ivr_path,
                              language, customer_id, account, reason, skills, priority, estimated_wait_s,
                              queue_position)
           VALUES (%(linkedid)s, %(tenant_id)s, %(did)s, %(caller)s, %(flow)s, %(outcome)s, %(digits)s, %(path)s,
                   %(language)s, %(customer_id)s, %(account)s, %(reason)s, %(skills)s, %(priority)s,
                   %(estimate_s)s, %(position)s)
           ON CONFLICT (linkedid) DO UPDATE SET ivr_flow = EXCLUDED.ivr_flow, ivr_outcome = EXCLUDED.ivr_outcome,
               estimated_wait_s = CASE WHEN %(estimated)s THEN EXCLUDED.estimated_wait_s
                                       ELSE calls.estimated_wait_s END,
               queue_position = CASE WHEN %(estimated)s THEN EXCLUDED.queue_position ELSE calls.queue_position END,
               ivr_digits = EXCLUDED.ivr_digits, ivr_path = EXCLUDED.ivr_path, language = EXCLUDED.language,
               customer_id = EXCLUDED.customer_id, account = EXCLUDED.account, reason = EXCLUDED.reason,
               skills = EXCLUDED.skills, priority = EXCLUDED.priority,
               tenant_id = COALESCE(calls.tenant_id, EXCLUDED.tenant_id), updated_at = now()""",
        {"linkedid": linkedid, "tenant_id": tenant_id, "did": did, "caller": caller_number, "flow": facts.flow,
         "outcome": facts.outcome, "digits": facts.digits, "path": Jsonb(list(facts.path)),
         "language": facts.language, "customer_id": facts.customer.id if facts.customer else None,
         "account": facts.account, "reason": facts.reason, "skills": list(facts.skills),
         "priority": facts.priority, "estimated": estimate is not None,
         "estimate_s": estimate[0] if estimate else None, "position": estimate[1] if estimate else None})


_RECORD_COLUMNS = ("linkedid", "did", "caller_number", "caller_name", "started_at", "answered_at", "queue",
                   "queue_entered_at", "agent_code", "agent_channel", "connected_at", "ended_at", "wait_s",
                   "talk_s", "duration_s", "ring_attempts", "disposition", "hangup_cause", "ended_by", "legs",
                   "ivr_fallback", "transfers", "complete")
_COLUMNS = ", ".join(_RECORD_COLUMNS)

# Finished records are COPYed (binary) into a per-session staging table and merged into ``calls`` by
# one statement per batch (the last record of a linkedid in the batch wins, the last complete one if any,
# as one-by-one upserts would).
_STAGING_TYPES = ("int4", "text", "text", "text", "text", "timestamptz", "timestamptz", "text", "timestamptz",
                  "text", "text", "timestamptz", "timestamptz", "float8", "float8", "float8", "int4", "text", "int4",
                  "text", "jsonb", "bool", "jsonb", "bool")
_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS calls_staging ("
            + ", ".join(f"{c} {t}" for c, t in zip(("seq", *_RECORD_COLUMNS), _STAGING_TYPES, strict=True))
            + ") ON COMMIT DELETE ROWS")

_ON_CONFLICT = """
ON CONFLICT (linkedid) DO UPDATE SET
    tenant_id = COALESCE(calls.tenant_id, EXCLUDED.tenant_id),
    did = COALESCE(NULLIF(EXCLUDED.did, ''), calls.did),
    -- an outbound call's customer is the number dialled (set by the dialer), not the caller ID shown
    caller_number = CASE WHEN calls.direction = 'outbound' THEN calls.caller_number
                         -- a record assembled from a call's middle knows no caller: keep the IVR's
                         ELSE COALESCE(NULLIF(EXCLUDED.caller_number, ''), calls.caller_number) END,
    caller_name = EXCLUDED.caller_name,
    started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, queue = EXCLUDED.queue,
    -- (an agent's own outside call: the agent the middleware wrote, when the events name none)
    queue_entered_at = EXCLUDED.queue_entered_at, agent_code = COALESCE(EXCLUDED.agent_code, calls.agent_code),
    agent_channel = EXCLUDED.agent_channel, connected_at = EXCLUDED.connected_at,
    ended_at = EXCLUDED.ended_at, wait_s = EXCLUDED.wait_s, talk_s = EXCLUDED.talk_s,
    duration_s = EXCLUDED.duration_s, ring_attempts = EXCLUDED.ring_attempts,
    disposition = EXCLUDED.disposition, hangup_cause = EXCLUDED.hangup_cause,
    ended_by = EXCLUDED.ended_by, legs = EXCLUDED.legs, ivr_fallback = EXCLUDED.ivr_fallback,
    transfers = EXCLUDED.transfers, complete = EXCLUDED.complete,
    updated_at = now()
-- what was assembled whole is never replaced by less (a stray late event's empty record)
WHERE NOT calls.complete OR EXCLUDED.complete
"""
_STAGED_COLUMNS = ", ".join(f"s.{c}" for c in _RECORD_COLUMNS)
_MERGE_STAGED = f"""
INSERT INTO calls (tenant_id, {_COLUMNS})
SELECT d.tenant_id, {_STAGED_COLUMNS}
  FROM (SELECT DISTINCT ON (linkedid) * FROM calls_staging ORDER BY linkedid, complete DESC, seq DESC) s
  LEFT JOIN dids d ON d.number = s.did
{_ON_CONFLICT}"""

# A few records at a time (a quiet center's flush): pipelined single-row upserts beat the staging
# table's extra round trips.
_PLACEHOLDERS = ", ".join(["%s"] * len(_RECORD_COLUMNS))
_UPSERT_RECORD = f"""
INSERT INTO calls (tenant_id, {_COLUMNS})
VALUES ((SELECT tenant_id FROM dids WHERE number = %s), {_PLACEHOLDERS})
{_ON_CONFLICT}"""
COPY_FROM = 20  # records per batch from which COPY + one merge is the cheaper way


def _values(r: CallRecord) -> tuple[Any, ...]:
    """The record's columns, in _RECORD_COLUMNS order."""
    return (r.linkedid, r.did, r.caller_number, r.caller_name, r.started_at, r.answered_at, r.queue,
            r.queue_entered_at, r.agent_code, r.agent_channel, r.connected_at, r.ended_at, r.wait_s, r.talk_s,
            r.duration_s, r.ring_attempts, r.disposition, r.hangup_cause, r.ended_by, Jsonb(list(r.legs)),
            r.ivr_fallback, Jsonb(list(r.transfers)), r.complete)


async def save_records(conn: AsyncConnection, records: list[CallRecord]) -> None:
    """Write finished records in one transaction: one record as one statement (atomic on its own: no
    BEGIN and COMMIT round trips, the usual case below a few calls a second); a few as pipelined
    upserts; a batch by COPY into the session's staging table and one merge."""
    if not records:
        return
    if len(records) == 1 and conn.autocommit:  # (without autocommit, conn.transaction() is what commits)
        await conn.execute(_UPSERT_RECORD, (records[0].did, *_values(records[0])))
        return
    async with conn.transaction(), conn.cursor() as cur:
        if len(records) < COPY_FROM:
            await cur.executemany(_UPSERT_RECORD, [(r.did, *_values(r)) for r in records])
            return
        await cur.execute(_STAGING)
        async with cur.copy(f"COPY calls_staging (seq, {_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(_STAGING_TYPES))
            for seq, record in enumerate(records):
                await copy.write_row((seq, *_values(record)))
        await cur.execute(_MERGE_STAGED)


async def record_outbound(conn: AsyncConnection, linkedid: str, tenant_id: int, campaign: str, number: str) -> None:
    """A dialer call's record is outbound, whichever of the dialer and the CDR assembler writes first."""
    await conn.execute(
        """INSERT INTO calls (linkedid, tenant_id, direction, campaign, caller_number)
           VALUES (%s, %s, 'outbound', %s, %s)
           ON CONFLICT (linkedid) DO UPDATE SET direction = 'outbound', campaign = EXCLUDED.campaign,
               caller_number = EXCLUDED.caller_number,
               tenant_id = COALESCE(calls.tenant_id, EXCLUDED.tenant_id)""",
        (linkedid, tenant_id, campaign, number))


async def record_manual(conn: AsyncConnection, linkedid: str, tenant_id: int, agent_code: str, number: str) -> None:
    """An agent's own outside call: outbound, the agent's, to the number dialled (the CDR assembler's
    record of the same linkedid keeps these)."""
    await conn.execute(
        """INSERT INTO calls (linkedid, tenant_id, direction, caller_number, agent_code)
           VALUES (%s, %s, 'outbound', %s, %s)
           ON CONFLICT (linkedid) DO UPDATE SET direction = 'outbound', caller_number = EXCLUDED.caller_number,
               agent_code = EXCLUDED.agent_code, tenant_id = COALESCE(calls.tenant_id, EXCLUDED.tenant_id)""",
        (linkedid, tenant_id, number, agent_code))


async def record_estimate(conn: AsyncConnection, linkedid: str, estimate_s: float | None, position: int) -> None:
    await conn.execute(
        """INSERT INTO calls (linkedid, estimated_wait_s, queue_position) VALUES (%s, %s, %s)
           ON CONFLICT (linkedid) DO UPDATE SET estimated_wait_s = EXCLUDED.estimated_wait_s,
               queue_position = EXCLUDED.queue_position, updated_at = now()""",
        (linkedid, estimate_s, position))


async def get_call(conn: AsyncConnection, linkedid: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT c.*, t.code AS tenant, cu.name AS customer_name, cu.tier AS customer_tier
                 FROM calls c LEFT JOIN tenants t ON t.id = c.tenant_id
                 LEFT JOIN customers cu ON cu.id = c.customer_id
                WHERE c.linkedid = %s""", (linkedid,))
        return await cur.fetchone()


async def list_calls(conn: AsyncConnection, limit: int = 50) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT c.linkedid, t.code AS tenant, c.did, c.caller_number, c.started_at, c.queue,
                      c.agent_code, c.wait_s, c.talk_s, c.duration_s, c.disposition, c.ivr_digits,
                      c.complete
                 FROM calls c LEFT JOIN tenants t ON t.id = c.tenant_id
                ORDER BY c.started_at DESC NULLS LAST LIMIT %s""", (limit,))
        return await cur.fetchall()


async def estimate_pairs(conn: AsyncConnection, queue: str | None,
                         since: datetime) -> dict[str, list[tuple[float, float]]]:
    """Per queue: (estimated wait, actual wait) of answered calls that were given an estimate."""
    cur = await conn.execute(
        """SELECT queue, estimated_wait_s, wait_s FROM calls
            WHERE complete AND disposition = 'answered' AND estimated_wait_s IS NOT NULL AND wait_s IS NOT NULL
              AND started_at >= %s AND (%s::text IS NULL OR queue = %s)
            ORDER BY queue""", (since, queue, queue))
    out: dict[str, list[tuple[float, float]]] = {}
    for q, est, act in await cur.fetchall():
        out.setdefault(q, []).append((float(est), float(act)))
    return out


async def record_csat(conn: AsyncConnection, linkedid: str, score: int) -> None:
    """The caller's survey answer; the call's record may be written before or after it."""
    await conn.execute(
        """INSERT INTO calls (linkedid, csat_score, csat_at) VALUES (%s, %s, now())
           ON CONFLICT (linkedid) DO UPDATE SET csat_score = EXCLUDED.csat_score, csat_at = EXCLUDED.csat_at""",
        (linkedid, score))


async def unrecorded_raw_cdrs(conn: AsyncConnection, since: datetime) -> list[RawCdr]:
    """Asterisk's CDR rows of calls that have no complete record (the middleware missed them)."""
    cur = await conn.execute(
        """SELECT r.linkedid, r.uniqueid, r.calldate, r.src, r.clid, r.channel, r.dstchannel, r.lastapp, r.duration,
                  r.billsec, r.disposition, r.cc_did, r.cc_queue
             FROM cdr r
            WHERE r.calldate >= %s AND r.linkedid <> ''
              AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.linkedid = r.linkedid AND c.complete)
            ORDER BY r.linkedid, r.calldate""", (since,))
    return [RawCdr(*row) for row in await cur.fetchall()]


async def mark_reconciled(conn: AsyncConnection, linkedids: list[str]) -> None:
    await conn.execute("UPDATE calls SET reconciled = true WHERE linkedid = ANY(%s)", (linkedids,))


async def complete_calls_since(conn: AsyncConnection, since: datetime) -> list[dict[str, Any]]:
    """Complete call records started since ``since``, with the customer's name (the demo's summary)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT c.linkedid, c.caller_number, c.ivr_digits, c.reason, cu.name AS customer, c.queue,
                      c.agent_code, c.wait_s, c.talk_s, c.duration_s, c.disposition
                 FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id
                WHERE c.started_at >= %s AND c.complete ORDER BY c.started_at""", (since,))
        return list(await cur.fetchall())
