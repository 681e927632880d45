"""The recordings index: one row per recording file, searchable by what supervisors ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from middleware.recordings.media import MediaInfo


@dataclass(frozen=True)
class Search:
    tenant: str | None = None
    agent: str | None = None
    caller: str | None = None  # digits the caller number contains
    queue: str | None = None
    campaign: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_duration_s: float | None = None
    disposition: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class NewRecording:
    """A recording file to index, with what its call record says of it."""
    linkedid: str
    tenant: str
    path: str
    info: MediaInfo
    started_at: datetime | None
    agent: str | None
    queue: str | None
    caller: str
    disposition: str
    campaign: str | None = None

    def values(self) -> tuple[Any, ...]:
        return (self.linkedid, self.tenant, self.path, self.info.format, self.started_at, self.info.duration_s,
                self.info.size_bytes, self.info.sha256, self.agent, self.queue, self.campaign, self.caller,
                self.disposition)


_NEW_ROW = "(%s, (SELECT id FROM tenants WHERE code = %s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_INSERT = """INSERT INTO recordings (linkedid, tenant_id, path, format, started_at, duration_s, size_bytes, sha256,
                                    agent_code, queue, campaign, caller_number, disposition)
             VALUES {rows} ON CONFLICT (path) DO NOTHING RETURNING id"""
_INSERT_ONE = _INSERT.format(rows=_NEW_ROW)
ADD_MANY_ROWS = 100  # recordings per statement at most


async def add(conn: AsyncConnection, *, linkedid: str, tenant: str, path: str, info: MediaInfo,
              started_at: datetime | None, agent: str | None, queue: str | None, caller: str,
              disposition: str, campaign: str | None = None) -> int | None:
    """Index a recording; a file already indexed is left as it is (None)."""
    new = NewRecording(linkedid, tenant, path, info, started_at, agent, queue, caller, disposition, campaign)
    cur = await conn.execute(_INSERT_ONE, new.values())
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def add_many(conn: AsyncConnection, new: list[NewRecording]) -> int:
    """Index recordings, ``ADD_MANY_ROWS`` to a statement (each statement atomic on its own); files already
    indexed (also twice in ``new``) are left as they are. Returns how many rows were added."""
    added = 0
    for i in range(0, len(new), ADD_MANY_ROWS):
        chunk = new[i:i + ADD_MANY_ROWS]
        cur = await conn.execute(_INSERT.format(rows=", ".join([_NEW_ROW] * len(chunk))),
                                 [v for n in chunk for v in n.values()])
        added += len(await cur.fetchall())
    return added


_COLUMNS = """r.id, r.linkedid, t.code AS tenant, r.path, r.format, r.started_at, r.duration_s, r.size_bytes,
              r.sha256, r.agent_code, r.queue, r.campaign, r.caller_number, r.disposition"""


async def search(conn: AsyncConnection, q: Search) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""SELECT {_COLUMNS} FROM recordings r LEFT JOIN tenants t ON t.id = r.tenant_id
                 WHERE (%(tenant)s::text IS NULL OR t.code = %(tenant)s)
                   AND (%(agent)s::text IS NULL OR r.agent_code = %(agent)s)
                   AND (%(caller)s::text IS NULL OR r.caller_number LIKE '%%' || %(caller)s || '%%')
                   AND (%(queue)s::text IS NULL OR r.queue = %(queue)s)
                   AND (%(campaign)s::text IS NULL OR r.campaign = %(campaign)s)
                   AND (%(since)s::timestamptz IS NULL OR r.started_at >= %(since)s)
                   AND (%(until)s::timestamptz IS NULL OR r.started_at < %(until)s)
                   AND (%(min_duration_s)s::numeric IS NULL OR r.duration_s >= %(min_duration_s)s)
                   AND (%(disposition)s::text IS NULL OR r.disposition = %(disposition)s)
                 ORDER BY r.started_at DESC NULLS LAST, r.id DESC LIMIT %(limit)s""",
            q.__dict__)
        return await cur.fetchall()


async def get(conn: AsyncConnection, recording_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM recordings r LEFT JOIN tenants t ON t.id = r.tenant_id "
                          "WHERE r.id = %s", (recording_id,))
        return await cur.fetchone()


async def all_rows(conn: AsyncConnection) -> list[dict[str, Any]]:
    return await search(conn, Search(limit=10_000_000))


async def expired(conn: AsyncConnection, now: datetime, older_than_days: int | None,
                  tenant: str | None = None) -> list[dict[str, Any]]:
    """Recordings past their tenant's retention (or, for one tenant, past ``older_than_days``). A row
    without a start time ages from when it was indexed; a row without a tenant is never due."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""SELECT {_COLUMNS}, COALESCE(t.recording_retention_days, 90) AS retention_days
                  FROM recordings r JOIN tenants t ON t.id = r.tenant_id
                 WHERE (%(tenant)s::text IS NULL OR t.code = %(tenant)s)
                   AND COALESCE(r.started_at, r.created_at) < %(now)s - make_interval(days =>
                           COALESCE(%(days)s, t.recording_retention_days, 90))
                 ORDER BY COALESCE(r.started_at, r.created_at)""",
            {"now": now, "days": older_than_days, "tenant": tenant})
        return await cur.fetchall()


async def delete(conn: AsyncConnection, ids: list[int]) -> int:
    cur = await conn.execute("DELETE FROM recordings WHERE id = ANY(%s)", (ids,))
    return cur.rowcount
