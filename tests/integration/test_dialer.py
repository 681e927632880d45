"""A predictive campaign of 200 leads through real Asterisk: SIPp customers who answer (a person or a
machine), ring out or are busy, by the last digit of their number; three agents in persistent
sessions. Do-not-call and out-of-window numbers are never dialled, retries follow the rules, and every
live answer either reached an agent within 2 s or is counted abandoned."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from middleware.provision.service import provision
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, numbers_where_hour_is, seed
from middleware.store import flows, tenants
from tests.integration.conftest import cli, demo_campaign, wait_until


def _leads(tmp: Path) -> tuple[Path, set[str], set[str]]:
    """200 leads where the calling window is open now (real numbers of a zone where it is 10-19 h).
    Numbers ending in 9 are never to be dialled: half are on do-not-call lists, half are replaced by
    numbers of a zone where it is night now. Plus three bad rows."""
    now = datetime.now(UTC)
    open_zone, numbers = numbers_where_hour_is(range(10, 19), now, 100, 200)
    night_zone, night_numbers = numbers_where_hour_is(range(0, 6), now, 100, 200)
    rows = ["number,timezone,name,plan"]
    dnc, night = set(), set()
    for i, n in enumerate(numbers):
        zone = open_zone
        if n.endswith("9"):
            if i % 20 < 10:
                dnc.add(n)
            else:
                n, zone = night_numbers[i], night_zone
                night.add(n)
        rows.append(f"{n},{zone},Lead {i},gold")
    rows += ["not-a-number,UTC,Bad,x", f"{numbers[0]},{open_zone},Duplicate,x", f"{numbers[1]},Mars/Olympus,Bad zone,x"]
    path = tmp / "leads.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, dnc, night


async def test_predictive_campaign_of_200_leads(make_service, sipp, settings, tmp_path) -> None:
    service = await make_service(dialer_interval=0.5)
    await seed(service.pool, agents=AGENTS)
    async with service.pool.connection() as conn:
        tenant_id = await tenants.tenant_id(conn, "acme")
        await flows.allow_trunk(conn, tenant_id, "carrier-sim")
    path, dnc, night = _leads(tmp_path)
    created = await cli(settings, "campaign", "create", "spring", "--tenant", "acme", "--caller-id",
                        '"Acme" <+15551000>', "--agents", "1001,1002,1003", "--safe-harbor", "please-try-call-later",
                        "--ring-timeout", "15", "--retry", "no_answer=5/2", "--retry", "busy=5/2",
                        "--retry", "machine=5/1", "--max-attempts", "2", "--wrap-up", "1", "--max-lines", "30")
    assert created.returncode == 0, created.stderr
    imported = await cli(settings, "leads", "import", str(path), "--campaign", "spring")
    assert imported.returncode == 3, imported.stderr  # some rows were skipped
    assert "200 leads added" in imported.stdout, imported.stdout
    first = path.read_text().splitlines()[1].split(",")[0]
    for line in ("leads.csv:202: 'not-a-number' is not a phone number", f"leads.csv:203: {first} repeats line 2",
                 "leads.csv:204: unknown time zone 'Mars/Olympus'"):
        assert line in imported.stderr, imported.stderr
    dnc_sorted = sorted(dnc)
    third = len(dnc_sorted) // 3
    for scope, numbers in ((), dnc_sorted[:third]), (("--tenant", "acme"), dnc_sorted[third:2 * third]), \
            (("--campaign", "spring"), dnc_sorted[2 * third:]):
        added = await cli(settings, "dnc", "add", *numbers, *scope)
        assert added.returncode == 0, added.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    assert "dialer-spring" in asterisk.rx(settings, "queue show dialer-spring")

    customers = await sipp.customers(5080, ring_ms=1000, talk_ms=4000)
    sessions = []
    for i, agent in enumerate(AGENTS):
        await sipp.agent_phone(agent.endpoint, agent.secret, 7800 + 20 * i)
        sessions.append(await sipp.feature_code(agent.endpoint, agent.secret, "*49", 7810 + 20 * i,
                                                stay_ms=600_000))

    async def all_logged_in() -> bool:
        return asterisk.rx(settings, "queue show dialer-spring").count("(Not in use)") == 3

    await wait_until(all_logged_in, 30, "three persistent agents free in the campaign queue")
    started = await cli(settings, "campaign", "start", "spring")
    assert started.returncode == 0, started.stderr

    async def finished() -> bool:
        async with service.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM leads WHERE status = 'dialing' OR (status = 'ready' "
                                     "AND next_at < now() + interval '1 hour')")
            row = await cur.fetchone()
        # Only the never-dialled ones left (the lead of an abandoned call waits 72 h)
        return row is not None and row[0] == len(dnc) + len(night)

    try:
        await wait_until(finished, 420, "every dialable lead done")
    finally:
        async with service.pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM leads GROUP BY 1")
            print("\nleads:", await cur.fetchall())
    status = await cli(settings, "campaign", "status", "spring", "--json")
    assert status.returncode == 0, status.stderr
    report: dict[str, Any] = json.loads(status.stdout)

    async with service.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT number, outcome, launched_at, answered_at, human_at, connected_at, ended_at, agent_code, ring_s
                 FROM dial_attempts ORDER BY id""")
        attempts = await cur.fetchall()
        # Each call put through is one complete outbound record: the customer's number, the agent, the talk.
        cur = await conn.execute(
            """SELECT count(*) FROM dial_attempts a JOIN calls c ON c.linkedid = a.linkedid
                WHERE a.outcome = 'connected' AND c.complete AND c.direction = 'outbound' AND c.campaign = 'spring'
                  AND c.caller_number = a.number AND c.agent_code = a.agent_code
                  AND abs(c.talk_s - a.talk_s) < 1.0""")
        outbound_records = (await cur.fetchone())[0]  # type: ignore[index]
    by_number: dict[str, list[tuple[Any, ...]]] = {}
    for a in attempts:
        by_number.setdefault(a[0], []).append(a)

    # Never dialled: do-not-call (global, tenant, campaign) and numbers where it is night.
    invited = {"+" + n for n in customers.numbers("INVITE")}
    assert not invited & dnc, sorted(invited & dnc)
    assert not invited & night, sorted(invited & night)
    assert not set(by_number) & (dnc | night)
    assert len(by_number) == 200 - len(dnc) - len(night)

    outcomes = Counter(a[1] for a in attempts)
    live = [a for a in attempts if a[1] in ("connected", "abandoned")]
    for number, tries in by_number.items():
        kind = int(number[-1])
        if kind <= 4:  # a person: answered once, never retried
            assert len(tries) == 1 and tries[0][1] in ("connected", "abandoned"), (number, tries)
        elif kind == 5:  # a machine: no retry (machine=5/1)
            assert [t[1] for t in tries] == ["machine"], (number, tries)
            assert tries[0][7] is None  # never put through to an agent
        elif kind in (6, 7):  # rang out twice, at least 15 s each, the retry at least 5 s after
            assert [t[1] for t in tries] == ["no_answer", "no_answer"], (number, tries)
            assert all((t[6] - t[2]).total_seconds() >= 14.5 for t in tries), tries
            assert (tries[1][2] - tries[0][6]).total_seconds() >= 5, tries
        else:  # busy twice
            assert [t[1] for t in tries] == ["busy", "busy"], (number, tries)
    # Abandonment as defined: a live answer not put through to an agent within 2 s.
    for a in live:
        if a[1] == "connected":
            assert a[7] in ("1001", "1002", "1003") and (a[5] - a[4]).total_seconds() <= 2.5, a
        else:
            assert a[7] is None, a
    answered_by_sipp = {"+" + n for n in customers.numbers("ANSWERED")}
    assert {a[0] for a in live} == {n for n in answered_by_sipp if int(n[-1]) <= 4}
    assert report["today"]["live_answers"] == len(live) == 100
    assert report["today"]["abandoned"] == outcomes["abandoned"]
    assert report["last_30_days"]["abandon_rate"] == round(outcomes["abandoned"] / len(live), 4)
    assert outbound_records == outcomes["connected"]
    print(f"\ncampaign: {dict(outcomes)}; abandoned {outcomes['abandoned']}/{len(live)}; "
          f"occupancy {report['occupancy_today']}; leads {report['leads']}")
    for s in sessions:
        await s.stop()


def _log_count(settings: Any, text: str) -> int:
    log = settings.asterisk_root / "var" / "log" / "asterisk" / "full.log"
    return sum(1 for line in log.read_text(errors="replace").splitlines() if text in line)


async def _campaign_done(service: Any, code: str) -> bool:
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM leads l JOIN campaigns c ON c.id = l.campaign_id "
                                 "WHERE c.code = %s AND l.status IN ('ready', 'dialing')", (code,))
        row = await cur.fetchone()
    return row is not None and row[0] == 0


async def test_machine_actions_and_star_44_dispositions(make_service, sipp, settings, tmp_path) -> None:
    """--machine message leaves the campaign's message on the machine and hangs up; --machine agent puts
    the machine through to an agent; an agent's *44<digit> sets the disposition of their last call."""
    alice = AGENTS[0]
    service = await make_service(dialer_interval=0.5)
    await seed(service.pool, agents=(alice,))
    async with service.pool.connection() as conn:
        await flows.allow_trunk(conn, await tenants.tenant_id(conn, "acme"), "carrier-sim")
    _zone, numbers = numbers_where_hour_is(range(9, 20), datetime.now(UTC), 100, 20)
    human = next(n for n in numbers if n.endswith("0"))
    machine, machine2 = [n for n in numbers if n.endswith("5")][:2]
    for code, action, leads in (("msg", "message", [human, machine]), ("put", "agent", [machine2])):
        created = await cli(settings, "campaign", "create", code, "--tenant", "acme", "--caller-id",
                            '"Acme" <+15551000>', "--agents", alice.code, "--safe-harbor", "please-try-call-later",
                            "--ring-timeout", "15", "--max-attempts", "1", "--wrap-up", "1", "--mode", "progressive",
                            "--machine", action, *(["--machine-prompt", "vm-goodbye"] if action == "message" else []))
        assert created.returncode == 0, created.stderr
        path = tmp_path / f"{code}.csv"
        path.write_text("number,name\n" + "".join(f"{n},Lead {i}\n" for i, n in enumerate(leads)))
        imported = await cli(settings, "leads", "import", str(path), "--campaign", code)
        assert imported.returncode == 0, imported.stdout + imported.stderr
    await provision(service.pool, settings.generated_dir, service.ami, force_reload=True)
    customers = await sipp.customers(5080, ring_ms=500, talk_ms=3000)
    await sipp.agent_phone(alice.endpoint, alice.secret, 7870)
    session = await sipp.feature_code(alice.endpoint, alice.secret, "*49", 7874, stay_ms=600_000)
    await wait_until(lambda: _free_in(settings, "dialer-msg"), 30, "Alice free in the campaign queue")

    messages_before = _log_count(settings, "Playing 'vm-goodbye.gsm'")
    assert (await cli(settings, "campaign", "start", "msg")).returncode == 0
    await wait_until(lambda: _campaign_done(service, "msg"), 90, "both leads dialled")
    assert (await cli(settings, "campaign", "stop", "msg")).returncode == 0
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT number, outcome, agent_code FROM dial_attempts ORDER BY id")
        attempts = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
    assert attempts[machine][0] == "machine" and attempts[machine][1] is None
    assert attempts[human] == ("connected", alice.code)
    assert _log_count(settings, "Playing 'vm-goodbye.gsm'") == messages_before + 1  # the message, on the tape

    # Alice keys in *441 after the call: "sale" on that lead.
    await wait_until(lambda: _free_in(settings, "dialer-msg"), 30, "Alice free again")
    keyed = await sipp.feature_code(alice.endpoint, alice.secret, "*441", 7878, stay_ms=3000)
    await keyed.wait(30)
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT number, disposition FROM leads WHERE number = %s", (human,))
        assert await cur.fetchone() == (human, "sale")

    assert (await cli(settings, "campaign", "start", "put")).returncode == 0
    await wait_until(lambda: _campaign_done(service, "put"), 90, "the machine lead dialled")
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT outcome, agent_code FROM dial_attempts WHERE number = %s", (machine2,))
        outcome, agent = await cur.fetchone()  # type: ignore[misc]
    assert agent == alice.code, (outcome, agent)  # the machine went through to Alice
    assert {"+" + n for n in customers.numbers("INVITE")} == {human, machine, machine2}
    await session.stop()


async def _free_in(settings: Any, queue: str) -> bool:
    return "(Not in use)" in asterisk.rx(settings, f"queue show {queue}")


async def test_a_preview_call_is_not_dialled_once_its_campaign_is_stopped(db_url) -> None:
    """The campaign's status used to be read only before the preview wait: `campaign stop` during it
    still dialled the customer. It is read again at the last moment; the lead goes back to the list."""
    from middleware.dialer.leads import make_lead
    from middleware.dialer.service import DialerService
    from middleware.store import campaigns
    from middleware.store.database import open_pool

    pool = await open_pool(db_url, min_size=1, max_size=4)
    sent: list[dict[str, str]] = []

    class Asterisk:
        async def action(self, fields: dict[str, str], **kw: object) -> list[dict[str, str]]:
            sent.append(fields)
            return [{"response": "Success"}]

    try:
        _tenant, campaign_id = await demo_campaign(pool, "look", mode="preview", preview_s=1,
                                                   window_start="00:00", window_end="23:59")
        async with pool.connection() as conn:
            await campaigns.import_leads(conn, campaign_id, [make_lead(1, "+12125550180", "", "", {})])
            await campaigns.set_status(conn, "look", "running")
            campaign = await campaigns.get_campaign(conn, "look")
            assert campaign is not None
            [lead] = await campaigns.claim_leads(conn, campaign, 1, "node-a", datetime.now(UTC))
        dialer = DialerService(pool, Asterisk(), node="node-a")  # type: ignore[arg-type]
        dialer._launch(campaign, lead, datetime.now(UTC))  # the agent now sees the lead for 1 s
        async with pool.connection() as conn:
            await campaigns.set_status(conn, "look", "stopped")
        await wait_until(lambda: _settled(pool), 10, "the attempt to be settled")
        assert [f for f in sent if f.get("Action") == "Originate"] == []
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT a.outcome, l.status, l.attempts FROM dial_attempts a "
                                     "JOIN leads l ON l.id = a.lead_id")
            assert await cur.fetchone() == ("blocked", "ready", 0)
    finally:
        await pool.close()


async def _settled(pool: Any) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM dial_attempts WHERE status = 'done'")
        row = await cur.fetchone()
    return bool(row and row[0])
