"""The schema's history both ways, and the admin CLI against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg

from middleware.store import database

TABLES_0001 = {"tenants", "dids", "agents", "agent_state_history", "phones", "queues", "queue_members", "calls",
               "recordings"}
TABLES = TABLES_0001 | {"ivr_flows", "customers", "tenant_trunks", "callbacks", "agent_skills", "teams",
                        "team_members", "queue_overflow_log", "cdr", "campaigns", "leads", "dnc",
                        "dial_attempts", "api_tokens", "sip_blocks", "lead_lists", "trunks", "outbound_routes"}
TABLES_0016 = TABLES - {"trunks", "outbound_routes"}
TABLES_0015 = TABLES_0016 - {"lead_lists"}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows} - {"alembic_version"}


def config_triggers(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%_config_changed'").fetchall()
    return {r[0] for r in rows}


def campaign_pacing_columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'campaigns' "
                            "AND column_name IN ('amd_false_positive', 'pacing_gain')").fetchall()
    return {r[0] for r in rows}


def test_migrations_go_forward_and_backward(db_url: str) -> None:
    assert tables(db_url) == TABLES and database.current_revision(db_url) == "0020"
    database.downgrade(db_url, "0018")
    database.downgrade(db_url, "0017")
    assert tables(db_url) == TABLES - {"outbound_routes"}
    database.downgrade(db_url, "0016")
    assert tables(db_url) == TABLES_0016
    database.downgrade(db_url, "0015")
    assert tables(db_url) == TABLES_0015
    assert campaign_pacing_columns(db_url) == {"amd_false_positive", "pacing_gain"}
    database.downgrade(db_url, "0014")
    assert campaign_pacing_columns(db_url) == set() and tables(db_url) == TABLES_0015
    assert config_triggers(db_url) == {f"{t}_config_changed" for t in ("tenants", "dids", "ivr_flows", "queues")}
    database.downgrade(db_url, "0013")
    assert config_triggers(db_url) == set() and tables(db_url) == TABLES_0015
    database.downgrade(db_url, "0001")
    assert tables(db_url) == TABLES_0001 and database.current_revision(db_url) == "0001"
    database.downgrade(db_url, "base")
    assert tables(db_url) == set() and database.current_revision(db_url) is None
    database.upgrade(db_url)
    assert tables(db_url) == TABLES and len(config_triggers(db_url)) == 6 and len(campaign_pacing_columns(db_url)) == 2


def test_leads_of_a_campaign_from_before_lists_land_in_its_default_list(db_url: str) -> None:
    database.downgrade(db_url, "0015")
    with psycopg.connect(db_url) as conn:
        tenant = conn.execute("INSERT INTO tenants (code, name) VALUES ('t', 'T') RETURNING id").fetchone()
        assert tenant is not None
        queue = conn.execute("INSERT INTO queues (tenant_id, name) VALUES (%s, 'dialer-c') RETURNING id",
                             tenant).fetchone()
        assert queue is not None
        campaign = conn.execute("INSERT INTO campaigns (tenant_id, code, queue_id, caller_id, trunk, "
                                "safe_harbor_prompt) VALUES (%s, 'c', %s, '+15551000', 'x', 'p') RETURNING id",
                                (tenant[0], queue[0])).fetchone()
        assert campaign is not None
        conn.execute("INSERT INTO leads (campaign_id, number, timezone, attempts, last_outcome) VALUES "
                     "(%s, '+12125550100', 'America/New_York', 2, 'busy'), "
                     "(%s, '+12125550101', 'America/New_York', 0, NULL)", (campaign[0], campaign[0]))
    database.upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT l.number, ll.name, l.tries FROM leads l JOIN lead_lists ll ON ll.id = l.list_id "
                            "ORDER BY l.number").fetchall()
    assert rows == [("+12125550100", "default", {"busy": 2}), ("+12125550101", "default", {})]


def test_the_carrier_simulator_of_pjsip_conf_becomes_a_trunk_row_where_it_is_used(db_url: str) -> None:
    database.downgrade(db_url, "0016")
    with psycopg.connect(db_url) as conn:
        tenant = conn.execute("INSERT INTO tenants (code, name) VALUES ('t', 'T') RETURNING id").fetchone()
        assert tenant is not None
        conn.execute("INSERT INTO tenant_trunks (tenant_id, trunk) VALUES (%s, 'carrier-sim')", tenant)
    database.upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT name, host, port, match, qualify_s FROM trunks").fetchall()
    assert rows == [("carrier-sim", "127.0.0.1", 5080, ["127.0.0.1/32"], 0)]
    database.downgrade(db_url, "0016")
    database.upgrade(db_url)  # nobody uses it on a fresh database: no trunk is invented
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM tenant_trunks")
    database.downgrade(db_url, "0016")
    database.upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM trunks").fetchone() == (0,)


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "middleware", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_admin_cli_builds_a_tenant(db_url: str) -> None:
    assert cli(db_url, "tenant", "add", "globex", "--name", "Globex", "--timezone", "Europe/Paris").returncode == 0
    assert cli(db_url, "queue", "add", "globex-care", "--tenant", "globex", "--strategy", "fewestcalls").returncode == 0
    assert cli(db_url, "agent", "add", "2001", "--tenant", "globex", "--name", "Hank Scorpio").returncode == 0
    added = cli(db_url, "phone", "add", "globex-2001", "--tenant", "globex", "--agent", "2001")
    assert added.returncode == 0 and "secret" in added.stdout
    assert cli(db_url, "queue", "member", "globex-care", "2001", "--penalty", "2").returncode == 0
    assert cli(db_url, "did", "add", "+33155550000", "--tenant", "globex", "--queue", "globex-care").returncode == 0
    dids = json.loads(cli(db_url, "did", "list", "--json").stdout)
    assert dids == [{"number": "+33155550000", "tenant": "globex", "flow": None, "fallback_queue": "globex-care"}]

    agents = json.loads(cli(db_url, "agent", "list", "--json").stdout)
    assert agents == [{"code": "2001", "endpoint": "globex-2001", "id": agents[0]["id"], "name": "Hank Scorpio",
                       "state": "logged_out", "state_reason": "", "tenant_code": "globex", "wrap_up_until": None,
                       "session_mode": "ring"}]
    shown = json.loads(cli(db_url, "agent", "show", "2001", "--json").stdout)
    assert shown["queues"] == [{"queue": "globex-care", "penalty": 2}]
    queues = json.loads(cli(db_url, "queue", "list", "--json").stdout)
    assert [(q["name"], q["strategy"]) for q in queues] == [("globex-care", "fewestcalls")]


def test_ivr_load_checks_the_tenants_queues_and_trunks_and_show_prints_the_tree(db_url: str, tmp_path) -> None:
    assert cli(db_url, "tenant", "add", "globex", "--name", "Globex").returncode == 0
    assert cli(db_url, "queue", "add", "globex-care", "--tenant", "globex").returncode == 0
    flow = tmp_path / "globex.yaml"
    flow.write_text("flow: globex-main\nstart: m\nnodes:\n"
                    "  m: {type: menu, prompt: dir-pls-enter, options: {'1': out}, on_timeout: q}\n"
                    "  out: {type: transfer, number: '+19005551234', trunk: carrier-sim}\n"
                    "  q: {type: queue, queue: someone-elses-queue}\n")
    refused = cli(db_url, "ivr", "load", str(flow), "--tenant", "globex")
    assert refused.returncode == 1 and "flow not loaded" in refused.stderr
    assert "queue 'someone-elses-queue' is not one of tenant globex's queues" in refused.stdout
    assert "trunk 'carrier-sim' is not allowed for tenant globex" in refused.stdout
    assert "dialing policy refuses it: +19005551234 is a premium-rate number" in refused.stdout
    assert json.loads(cli(db_url, "ivr", "list", "--json").stdout) == []

    flow.write_text(flow.read_text().replace("someone-elses-queue", "globex-care").replace("+19005551234",
                                                                                             "+12125551230"))
    unknown = cli(db_url, "tenant", "allow-trunk", "globex", "carrier-sim")
    assert unknown.returncode == 1 and "no trunk 'carrier-sim'" in unknown.stderr
    assert cli(db_url, "trunk", "add", "carrier-sim", "--host", "127.0.0.1", "--port", "5080",
               "--match", "127.0.0.1/32", "--qualify", "0").returncode == 0
    assert cli(db_url, "tenant", "allow-trunk", "globex", "carrier-sim").returncode == 0
    loaded = cli(db_url, "ivr", "load", str(flow), "--tenant", "globex")
    assert loaded.returncode == 0 and "version 1" in loaded.stdout, loaded.stderr
    shown = cli(db_url, "ivr", "show", "globex-main", "--tenant", "globex").stdout
    assert "m [menu]" in shown and "press 1 -> out [transfer]" in shown and "on_timeout -> q [queue]" in shown
    assert cli(db_url, "did", "add", "5552000", "--tenant", "globex", "--queue", "globex-care",
               "--flow", "globex-main").returncode == 0


def test_admin_cli_rejects_bad_input_in_one_line(db_url: str) -> None:
    cases = [
        (("tenant", "add", "Bad Code", "--name", "x"), "lowercase"),
        (("tenant", "add", "ok", "--name", "x", "--timezone", "Mars/Olympus"), "unknown time zone"),
        (("queue", "add", "q", "--tenant", "nosuch"), "no tenant"),
        (("agent", "show", "9999"), "no agent"),
        (("did", "add", "5550000", "--tenant", "nosuch", "--queue", "q"), "no tenant"),
        (("call", "show", "nosuch"), "no call"),
    ]
    for args, words in cases:
        proc = cli(db_url, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


def test_queue_extension_announcements_and_estimate_accuracy_from_the_cli(db_url: str) -> None:
    assert cli(db_url, "tenant", "add", "globex", "--name", "Globex").returncode == 0
    for name, ext in (("globex-care", "701"), ("globex-tier2", "702")):
        done = cli(db_url, "queue", "add", name, "--tenant", "globex", "--extension", ext, "--announce-every", "45")
        assert done.returncode == 0, done.stderr
    dup = cli(db_url, "queue", "set", "globex-tier2", "--extension", "701")
    assert dup.returncode != 0 and "already another queue's" in dup.stderr
    bad = cli(db_url, "queue", "set", "globex-tier2", "--extension", "7a", "--announce-every", "5")
    assert bad.returncode != 0 and "2-8 digits" in bad.stderr
    shown = json.loads(cli(db_url, "queue", "show", "globex-tier2", "--json").stdout)
    assert (shown["extension"], shown["announce_every_s"]) == ("702", 45)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i, (est, act, disposition) in enumerate([(60, 40, "answered"), (30, 50, "answered"),
                                                     (100, 200, "answered"), (90, 5, "abandoned")]):
            conn.execute("INSERT INTO calls (linkedid, queue, started_at, estimated_wait_s, wait_s, disposition, "
                         "complete) VALUES (%s, 'globex-care', now(), %s, %s, %s, true)",
                         (f"est-{i}", est, act, disposition))
    report = json.loads(cli(db_url, "queue", "estimates", "--json").stdout)
    assert report == [{"queue": "globex-care", "calls": 3, "mean_abs_error_s": 46.7, "bias_s": -33.3,
                       "within_30s": 0.667, "within_25pct": 0.667}]
    assert cli(db_url, "queue", "estimates", "nope").returncode != 0


def test_report_from_the_cli_table_csv_json_and_charts(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli(db_url, "tenant", "add", "globex", "--name", "Globex").returncode == 0
    assert cli(db_url, "queue", "add", "globex-care", "--tenant", "globex").returncode == 0
    assert cli(db_url, "agent", "add", "2001", "--tenant", "globex", "--name", "Hank").returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = [("r1", "111", "09:00", "answered", 10, 100, "2001"),
                ("r2", "222", "09:05", "answered", 30, 200, "2001"),
                ("r3", "333", "09:10", "abandoned", 3, None, None),
                ("r4", "444", "10:15", "abandoned", 40, None, None)]
        for lid, number, hhmm, disposition, wait, talk, agent in rows:
            conn.execute(
                "INSERT INTO calls (linkedid, tenant_id, caller_number, queue, agent_code, started_at, ended_at, "
                "wait_s, talk_s, disposition, complete) VALUES (%s, (SELECT id FROM tenants WHERE code = 'globex'), "
                "%s, 'globex-care', %s, %s, %s::timestamptz + interval '5 minutes', %s, %s, %s, true)",
                (lid, number, agent, f"2026-11-02 {hhmm}+00", f"2026-11-02 {hhmm}+00", wait, talk, disposition))
        for state, at in (("available", "08:55"), ("on_call", "09:00"), ("wrap_up", "09:20"), ("logged_out", "09:30")):
            conn.execute("INSERT INTO agent_state_history (agent_id, state, at) VALUES "
                         "((SELECT id FROM agents WHERE code = '2001'), %s, %s)", (state, f"2026-11-02 {at}+00"))
    done = cli(db_url, "report", "--from", "2026-11-02", "--by", "queue", "--json")
    assert done.returncode == 0, done.stderr
    total = json.loads(done.stdout)["rows"][-1]
    assert (total["offered"], total["answered"], total["abandoned"], total["abandoned_after_short"]) == (4, 2, 2, 1)
    assert (total["asa_s"], total["service_level"], total["longest_wait_s"]) == (20.0, 0.333, 40.0)
    assert total["occupancy"] == 0.857  # 30 min busy / 35 min staffed (08:55-09:30)
    hours = json.loads(cli(db_url, "report", "--from", "2026-11-02", "--by", "hour", "--json").stdout)["rows"]
    assert [r["group"] for r in hours] == ["2026-11-02 09:00", "2026-11-02 10:00", "total"]
    csv_out = cli(db_url, "report", "--from", "2026-11-02", "--csv", "--tenant", "globex").stdout.splitlines()
    assert csv_out[0].startswith("group,offered,answered") and csv_out[1].startswith("globex-care,4,2")
    charts = cli(db_url, "report", "--from", "2026-11-02", "--png", str(tmp_path / "charts"))
    assert charts.returncode == 0, charts.stderr
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "agent_occupancy.png", "service_level_by_hour.png", "volume_by_hour.png"]
    assert (tmp_path / "charts" / "volume_by_hour.png").read_bytes()[:4] == b"\x89PNG"
    for bad in (["--from", "2026-13-01"], ["--from", "2026-11-02", "--to", "2026-11-01"],
                ["--service-level", "-1"], ["--by", "planet"]):
        wrong = cli(db_url, "report", *bad)
        assert wrong.returncode != 0 and "Traceback" not in wrong.stderr, (bad, wrong.stderr)


def test_tenant_dialing_sets_the_policy_and_refuses_what_it_does_not_know(db_url: str) -> None:
    assert cli(db_url, "tenant", "add", "zeta", "--name", "Zeta").returncode == 0
    changed = cli(db_url, "tenant", "dialing", "zeta", "--country", "gb", "--allow-countries", "ie,fr",
                  "--allow-types", "premium_rate", "--callbacks-per-hour", "10", "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == [{"code": "zeta", "country": "GB", "allow_countries": "FR,IE",
                                           "allow_types": "premium_rate", "callbacks_per_number_day": 3,
                                           "callbacks_per_hour": 10}]
    wrong = cli(db_url, "tenant", "dialing", "zeta", "--allow-types", "mobile")
    assert wrong.returncode == 1 and "unknown number type(s) mobile" in wrong.stderr
    assert cli(db_url, "tenant", "dialing", "zeta", "--allow-countries", "").returncode == 0
    listed = json.loads(cli(db_url, "tenant", "list", "--json").stdout)
    assert (listed[0]["country"], listed[0]["dial_countries"], listed[0]["dial_number_types"]) == \
        ("GB", "", "premium_rate")
