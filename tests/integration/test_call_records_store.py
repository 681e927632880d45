"""Finished call records reach ``calls`` the same way by every write path: one record as one statement,
a few at a time as pipelined upserts in a transaction, a batch by COPY into the staging table and one
merge."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from middleware.cdr.assembly import CallRecord
from middleware.ivr.facts import IvrFacts
from middleware.store import calls
from middleware.store.database import open_pool

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 2, 9, tzinfo=UTC)
COLUMNS = ("linkedid", "tenant_id", "did", "caller_number", "queue", "agent_code", "talk_s", "disposition",
           "legs", "complete", "direction", "ivr_digits")


def record(linkedid: str, **changes: object) -> CallRecord:
    base = CallRecord(linkedid=linkedid, did="5551000", caller_number="12125550100", caller_name="Customer",
                      started_at=T0, answered_at=T0 + timedelta(seconds=1), queue="acme-support",
                      queue_entered_at=T0 + timedelta(seconds=2), agent_code="1001",
                      agent_channel="PJSIP/acme-1001-00000001", connected_at=T0 + timedelta(seconds=9),
                      ended_at=T0 + timedelta(seconds=99), wait_s=7.0, talk_s=90.0, duration_s=99.0, ring_attempts=1,
                      disposition="answered", hangup_cause=16, ended_by="caller", legs=({"channel": "x"},))
    return replace(base, **changes)  # type: ignore[arg-type]


async def written(db_url: str, batch: list[CallRecord], per_write: int) -> list[tuple[object, ...]]:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            await conn.execute("TRUNCATE calls, dids, queues, tenants CASCADE")
            cur = await conn.execute("INSERT INTO tenants (code, name) VALUES ('acme', 'Acme') RETURNING id")
            row = await cur.fetchone()
            assert row is not None
            await conn.execute("INSERT INTO queues (tenant_id, name) VALUES (%s, 'acme-support')", (row[0],))
            await conn.execute("INSERT INTO dids (number, tenant_id, fallback_queue) "
                               "VALUES ('5551000', %s, 'acme-support')", (row[0],))
            # The IVR wrote first for call "ivr"; the dialer for "out".
            await calls.record_ivr(conn, linkedid="ivr", tenant_id=row[0], did="5551000", caller_number="12125550199",
                                   facts=IvrFacts("main", "queue acme-support", "2", (), "en", None, None, None, (),
                                                  None))
            await calls.record_outbound(conn, "out", row[0], "spring", "12125550777")
            for i in range(0, len(batch), per_write):
                await calls.save_records(conn, batch[i:i + per_write])
            cur = await conn.execute(f"SELECT {', '.join(COLUMNS)} FROM calls ORDER BY linkedid")
            rows = await cur.fetchall()
            return [(*(v for k, v in zip(COLUMNS, r, strict=True) if k != "tenant_id"), r[1] is not None)
                    for r in rows]
    finally:
        await pool.close()


async def test_copy_and_upsert_paths_agree(db_url: str) -> None:
    batch = [record(f"c{i:02d}", agent_code=f"{1000 + i}") for i in range(calls.COPY_FROM + 5)]
    batch += [
        record("ivr", caller_number=""),  # assembled from the call's middle: the IVR's caller stays
        record("out", caller_number="5551000"),  # outbound: the number dialled stays, not the caller ID
        record("twice", talk_s=10.0, complete=False),
        record("twice", talk_s=20.0),  # the later record of a call wins
        record("lessened", talk_s=30.0),
        record("lessened", talk_s=None, agent_code=None, disposition="unanswered", complete=False),  # not over it
        record("elsewhere", did="5559999"),  # a DID no tenant owns: no tenant
    ]
    assert len(batch) >= calls.COPY_FROM
    staged = await written(db_url, batch, per_write=len(batch))
    alone = await written(db_url, batch, per_write=1)
    pipelined = await written(db_url, batch, per_write=3)
    assert staged == alone == pipelined
    by_id = {r[0]: r for r in staged}
    assert len(staged) == calls.COPY_FROM + 5 + 5
    assert by_id["ivr"][2] == "12125550199" and by_id["ivr"][-2] == "2"
    assert by_id["out"][2] == "12125550777" and by_id["out"][-3] == "outbound"
    assert by_id["twice"][5] == 20.0 and by_id["twice"][-4] is True
    assert by_id["lessened"][5:8] == (30.0, "answered", [{"channel": "x"}]) and by_id["lessened"][-4] is True
    assert by_id["elsewhere"][-1] is False and by_id["c00"][-1] is True
