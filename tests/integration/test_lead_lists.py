"""Lead lists and recycling in PostgreSQL, as the dialer and the admin CLI use them: the hopper takes the
active lists' leads, the highest priority first; an attempt's outcome and an agent's disposition recycle
a lead by the campaign's rules, each counted on its own; a list reset brings the finished leads back
except the final ones; `campaign set` changes a running campaign's rules."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from middleware.dialer.attempts import Attempt
from middleware.dialer.leads import make_lead
from middleware.dialer.service import DialerService, apply_disposition
from middleware.store import campaigns
from middleware.store.database import Pool, open_pool
from tests.integration.conftest import demo_campaign

ALWAYS = {"window_start": "00:00", "window_end": "23:59"}


class NoAsterisk:
    async def action(self, fields: dict[str, str], **kw: object) -> list[dict[str, str]]:
        raise AssertionError("nothing is dialled here")


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([sys.executable, "-m", "middleware", *args], capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": db_url}, timeout=60)


@pytest.fixture
async def pool(db_url: str) -> Any:
    pool = await open_pool(db_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def _claim_all(pool: Pool, code: str, now: datetime) -> list[str]:
    async with pool.connection() as conn:
        campaign = await campaigns.get_campaign(conn, code)
        assert campaign is not None
        return [lead.number for lead in await campaigns.claim_leads(conn, campaign, 10, "node-a", now)]


async def _lead(pool: Pool, number: str) -> tuple[Any, ...]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status, next_at, attempts, tries, disposition FROM leads WHERE number = %s",
                                 (number,))
        row = await cur.fetchone()
    assert row is not None
    return tuple(row)


async def test_the_hopper_takes_active_lists_by_priority(pool: Pool) -> None:
    _tenant, campaign_id = await demo_campaign(pool, "lists", **ALWAYS)
    async with pool.connection() as conn:
        await campaigns.add_list(conn, campaign_id, "hot", 50, True)
        await campaigns.add_list(conn, campaign_id, "paused", 99, False)
        await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550101", "", "", {})])
        await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550102", "", "", {})], "hot")
        await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550103", "", "", {}),
                                                         make_lead(2, "+12125550101", "", "", {})], "paused")
        lists = {r["list"]: r for r in await campaigns.lead_lists(conn, campaign_id)}
    # A number is in one list of a campaign: the repeat in "paused" was not added.
    assert {k: (v["priority"], v["active"], v["leads"]) for k, v in lists.items()} == {
        "default": (0, True, 1), "hot": (50, True, 1), "paused": (99, False, 1)}
    now = datetime.now(UTC)
    assert await _claim_all(pool, "lists", now) == ["+12125550102", "+12125550101"]
    async with pool.connection() as conn:
        paused = await campaigns.list_id(conn, campaign_id, "paused")
        assert paused is not None
        await campaigns.set_list(conn, paused, None, True)
    assert await _claim_all(pool, "lists", now) == ["+12125550103"]


async def _finish(pool: Pool, dialer: DialerService, code: str, number: str, reason: int | None,
                  connected: bool = False) -> None:
    """Claim the lead now and end its attempt: ``reason`` as the OriginateResponse's, or connected."""
    async with pool.connection() as conn:
        await conn.execute("UPDATE leads SET next_at = now() + CASE WHEN number = %s THEN interval '-1 second' "
                           "ELSE interval '1 day' END WHERE status = 'ready'", (number,))
    now = datetime.now(UTC)
    async with pool.connection() as conn:
        campaign = await campaigns.get_campaign(conn, code)
        assert campaign is not None
        [lead] = [c for c in await campaigns.claim_leads(conn, campaign, 10, "node-a", now) if c.number == number]
    attempt = Attempt(lead.attempt_id, code, lead.lead_id, number, now)
    if connected:
        attempt.stage("answered", now)
        attempt.stage("live", now)
        attempt.connect("1001", now + timedelta(seconds=1), 1.0)
    else:
        attempt.reason = reason
    attempt.ended_at = now + timedelta(seconds=30)
    dialer.attempts[attempt.id] = attempt
    await dialer._finish(attempt)


async def test_outcomes_and_dispositions_recycle_by_their_own_counts(pool: Pool) -> None:
    rules = {"busy": {"after_s": 600, "max": 2}, "no_answer": {"after_s": 3600, "max": 3},
             "not_interested": {"after_s": 86400, "max": 2}}
    _tenant, campaign_id = await demo_campaign(pool, "recycle", max_attempts=5, retry_rules=rules, **ALWAYS)
    async with pool.connection() as conn:
        await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550111", "", "", {}),
                                                         make_lead(2, "+12125550112", "", "", {})])
    dialer = DialerService(pool, NoAsterisk(), node="node-a")  # type: ignore[arg-type]
    busy, no_answer = 5, 3
    await _finish(pool, dialer, "recycle", "+12125550111", busy)
    status, next_at, attempts, tries, _ = await _lead(pool, "+12125550111")
    assert (status, attempts, tries) == ("ready", 1, {"busy": 1})
    assert timedelta(seconds=590) < next_at - datetime.now(UTC) <= timedelta(seconds=600)
    # A no-answer in between does not count against the busy rule (a total would have given up here).
    await _finish(pool, dialer, "recycle", "+12125550111", no_answer)
    assert (await _lead(pool, "+12125550111"))[::2][:2] == ("ready", 2)
    await _finish(pool, dialer, "recycle", "+12125550111", busy)
    status, _, attempts, tries, _ = await _lead(pool, "+12125550111")
    assert (status, attempts, tries) == ("failed", 3, {"busy": 2, "no_answer": 1})

    # Connected, then "not interested": back in a day, once (the rule's max is 2 such calls).
    await _finish(pool, dialer, "recycle", "+12125550112", None, connected=True)
    assert (await _lead(pool, "+12125550112"))[0] == "done"
    async with pool.connection() as conn, conn.transaction():
        await apply_disposition(conn, (await _lead_id(pool, "+12125550112")), "+12125550112", campaign_id,
                                "not_interested", datetime.now(UTC))
    status, next_at, _, tries, disposition = await _lead(pool, "+12125550112")
    assert (status, disposition, tries) == ("ready", "not_interested", {"connected": 1, "not_interested": 1})
    assert next_at - datetime.now(UTC) > timedelta(hours=23)
    await _finish(pool, dialer, "recycle", "+12125550112", None, connected=True)
    async with pool.connection() as conn, conn.transaction():
        await apply_disposition(conn, (await _lead_id(pool, "+12125550112")), "+12125550112", campaign_id,
                                "not_interested", datetime.now(UTC))
    assert (await _lead(pool, "+12125550112"))[0] == "done"


async def _lead_id(pool: Pool, number: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM leads WHERE number = %s", (number,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_list_reset_brings_back_all_but_the_final_leads(pool: Pool, db_url: str) -> None:
    _tenant, campaign_id = await demo_campaign(pool, "reset", max_attempts=1, **ALWAYS)
    numbers = [f"+1212555012{i}" for i in range(5)]
    async with pool.connection() as conn:
        await campaigns.import_leads(conn, campaign_id, [make_lead(i, n, "", "", {}) for i, n in enumerate(numbers)],
                                     "spring")
        await conn.execute("UPDATE leads SET status = 'failed', attempts = 1, tries = '{\"busy\": 1}', "
                           "last_outcome = 'busy' WHERE number = %s", (numbers[0],))
        await conn.execute("UPDATE leads SET status = 'failed', attempts = 1, last_outcome = 'machine' "
                           "WHERE number = %s", (numbers[1],))
        await conn.execute("UPDATE leads SET status = 'done', attempts = 1, last_outcome = 'connected', "
                           "disposition = 'sale' WHERE number = %s", (numbers[2],))
        await conn.execute("UPDATE leads SET status = 'dnc', attempts = 1 WHERE number = %s", (numbers[3],))
    only = cli(db_url, "lists", "reset", "spring", "--campaign", "reset", "--only", "busy")
    assert only.returncode == 0 and "1 leads dialable again" in only.stdout, only.stderr
    assert (await _lead(pool, numbers[0]))[::2] == ("ready", 0, None)
    assert (await _lead(pool, numbers[1]))[0] == "failed"
    everything = cli(db_url, "lists", "reset", "spring", "--campaign", "reset")
    assert everything.returncode == 0 and "1 leads dialable again" in everything.stdout
    assert [(await _lead(pool, n))[0] for n in numbers] == ["ready", "ready", "done", "dnc", "ready"]
    shown = json.loads(cli(db_url, "lists", "list", "--campaign", "reset", "--json").stdout)
    spring = next(r for r in shown if r["list"] == "spring")
    assert (spring["resets"], spring["ready"], spring["done"], spring["dnc"]) == (2, 3, 1, 1)
    bad = cli(db_url, "lists", "reset", "spring", "--campaign", "reset", "--only", "sale")
    assert bad.returncode == 1 and "not an outcome" in bad.stderr
    missing = cli(db_url, "lists", "reset", "autumn", "--campaign", "reset")
    assert missing.returncode == 1 and "has no list 'autumn'" in missing.stderr


async def test_lists_from_the_cli_and_a_list_with_recent_calls_is_kept(pool: Pool, db_url: str, tmp_path) -> None:
    await demo_campaign(pool, "cli", **ALWAYS)
    assert cli(db_url, "lists", "add", "vip", "--campaign", "cli", "--priority", "80").returncode == 0
    assert cli(db_url, "lists", "add", "vip", "--campaign", "cli").returncode == 1
    assert "0 to 99" in cli(db_url, "lists", "add", "x", "--campaign", "cli", "--priority", "100").stderr
    assert "lower-case" in cli(db_url, "lists", "add", "Bad List", "--campaign", "cli").stderr
    (tmp_path / "vip.csv").write_text("number,name\n+12125550131,Ann\n+12125550132,Bob\n")
    imported = cli(db_url, "leads", "import", str(tmp_path / "vip.csv"), "--campaign", "cli", "--list", "vip")
    assert imported.returncode == 0 and "2 leads added to cli (list vip)" in imported.stdout
    assert cli(db_url, "lists", "set", "vip", "--campaign", "cli", "--inactive", "--priority", "10").returncode == 0
    rows = json.loads(cli(db_url, "lists", "list", "--campaign", "cli", "--json").stdout)
    assert [(r["list"], r["priority"], r["active"], r["ready"]) for r in rows] == [
        ("vip", 10, False, 2), ("default", 0, True, 0)]
    leads = json.loads(cli(db_url, "leads", "list", "--campaign", "cli", "--list", "vip", "--json").stdout)
    assert {le["number"] for le in leads} == {"+12125550131", "+12125550132"} and leads[0]["list"] == "vip"

    assert await _claim_all(pool, "cli", datetime.now(UTC)) == []  # inactive
    assert cli(db_url, "lists", "set", "vip", "--campaign", "cli", "--active").returncode == 0
    assert len(await _claim_all(pool, "cli", datetime.now(UTC))) == 2
    refused = cli(db_url, "lists", "remove", "vip", "--campaign", "cli")
    assert refused.returncode == 1 and "2 calls to its leads" in refused.stderr
    async with pool.connection() as conn:
        await conn.execute("UPDATE dial_attempts SET status = 'done', launched_at = now() - interval '31 days'")
    removed = cli(db_url, "lists", "remove", "vip", "--campaign", "cli")
    assert removed.returncode == 0 and "with its 2 leads" in removed.stdout
    assert [r["list"] for r in json.loads(cli(db_url, "lists", "list", "--campaign", "cli", "--json").stdout)] == [
        "default"]


async def test_campaign_set_changes_the_rules_and_refuses_what_the_law_does_not_allow(pool: Pool, db_url: str) -> None:
    await demo_campaign(pool, "tune", **ALWAYS)
    changed = cli(db_url, "campaign", "set", "tune", "--abandon-target", "0.02", "--window", "09:00-20:00",
                  "--retry", "busy=300", "--retry", "not_interested=2592000/2", "--max-ratio", "2.5", "--no-amd")
    assert changed.returncode == 0, changed.stderr
    async with pool.connection() as conn:
        campaign = await campaigns.get_campaign(conn, "tune")
    assert campaign is not None
    assert (campaign.abandon_target, f"{campaign.window_start:%H:%M}", campaign.max_ratio, campaign.amd) == (
        0.02, "09:00", 2.5, False)
    assert campaign.retry_rules["busy"] == {"after_s": 300, "max": 3}
    assert campaign.retry_rules["not_interested"] == {"after_s": 2592000, "max": 2}
    assert campaign.retry_rules["callback"] == {"after_s": 86400, "max": 3}
    for args, error in ((("--abandon-target", "0.05"), "at most 0.03"), (("--window", "07:00-20:00"), "08:00-21:00"),
                        (("--retry", "abandoned=60"), "72 hours"), (("--machine", "message"), "--machine-prompt"),
                        (("--ring-timeout", "5"), "at least 15"), ((), "nothing to change")):
        refused = cli(db_url, "campaign", "set", "tune", *args)
        assert refused.returncode == 1 and error in refused.stderr, (args, refused.stderr)
    assert "no campaign 'nope'" in cli(db_url, "campaign", "set", "nope", "--max-lines", "3").stderr
    async with pool.connection() as conn:
        unchanged = await campaigns.get_campaign(conn, "tune")
    assert unchanged == campaign
