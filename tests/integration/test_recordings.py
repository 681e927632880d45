"""Every answered call is recorded (MixMonitor, b: only while bridged) as <dir>/<tenant>/<linkedid>.wav
and indexed with facts read from the file; the CLI searches, verifies, exports and purges."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import psycopg

from middleware.agents.state import AgentEvent
from middleware.recordings.media import MediaInfo
from middleware.runtime.demo_tenant import AGENTS
from middleware.store import recordings
from middleware.store.database import open_pool
from tests.integration.conftest import TEST_DID, call_record, cli, wait_until

ALICE = AGENTS[0]


async def _recording(db_url: str, linkedid: str) -> dict[str, Any] | None:
    with psycopg.connect(db_url) as conn:
        cur = conn.execute("SELECT id, path, duration_s, format, size_bytes, sha256, agent_code, caller_number "
                           "FROM recordings WHERE linkedid = %s", (linkedid,))
        row = cur.fetchone()
    return None if row is None else dict(zip(("id", "path", "duration_s", "format", "size_bytes", "sha256",
                                              "agent_code", "caller_number"), row, strict=True))


async def test_an_answered_call_is_recorded_indexed_and_managed(alice_desk, sipp, settings, db_url,
                                                                 tmp_path: Path) -> None:
    root = settings.recordings_root
    shutil.rmtree(root, ignore_errors=True)  # other tests' recordings belong to other databases
    root.mkdir(parents=True, exist_ok=True)
    shutil.chown(root, "root", "root")
    os.chmod(root, 0o777)
    service = await alice_desk()
    phone = await sipp.agent_phone(ALICE.endpoint, ALICE.secret, 7950)
    await service.agents.apply(ALICE.code, AgentEvent.LOGIN)

    run = await sipp.call(TEST_DID, caller="12125559001", port=8950, presses=[], hold_ms=6000, talk=True)
    assert await run.wait(60) == 0, run.errors()
    call = await wait_until(lambda: call_record(service, "12125559001"), 20, "the call record")
    rec = await wait_until(lambda: _recording(db_url, call["linkedid"]), 20, "the recording indexed")
    path = Path(rec["path"])
    assert path == root / "acme" / f"{call['linkedid']}.wav" and path.is_file()
    assert (rec["format"], rec["agent_code"], rec["caller_number"]) == ("wav", "1001", "12125559001")
    assert rec["size_bytes"] == path.stat().st_size
    # The file holds the bridged part of the call: the talk time, by the record and by the phone's clock.
    assert abs(float(rec["duration_s"]) - float(call["talk_s"])) <= 1.0, (rec, call["talk_s"])
    talked = phone.connected_calls()[0]
    assert abs(float(rec["duration_s"]) - (talked["ended_ms"] - talked["connected_ms"]) / 1000) <= 1.0

    found = json.loads((await cli(settings, "recordings", "search", "--agent", "1001", "--min-duration", "2",
                            "--json")).stdout)
    assert [r["id"] for r in found] == [rec["id"]]
    assert json.loads((await cli(settings, "recordings", "search", "--caller", "99999", "--json")).stdout) == []
    assert (await cli(settings, "recordings", "verify")).returncode == 0
    exported = await cli(settings, "recordings", "export", str(rec["id"]), "--to", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert (tmp_path / "out" / f"acme-{call['linkedid']}.wav").read_bytes() == path.read_bytes()

    # Tampering, a lost file and a stray file are all reported.
    (root / "acme" / "stray.wav").write_bytes(path.read_bytes())
    with open(path, "ab") as f:
        f.write(b"\0")
    report = await cli(settings, "recordings", "verify", "--json")
    assert report.returncode == 1
    problems = json.loads(report.stdout)
    assert problems["checksum_mismatch"] == [rec["id"]]
    assert problems["not_indexed"] == [str(root / "acme" / "stray.wav")]

    # Retention: 90 days by default; a recording made 100 days ago goes, a dry run first.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE recordings SET started_at = now() - interval '100 days' WHERE id = %s", (rec["id"],))
    dry = await cli(settings, "recordings", "purge", "--dry-run")
    assert "would delete" in dry.stdout and path.is_file()
    assert (await cli(settings, "recordings", "purge")).returncode == 0
    assert not path.exists() and await _recording(db_url, call["linkedid"]) is None


async def test_purge_stays_inside_each_tenants_folder_and_retention(settings, db_url, tmp_path) -> None:
    """`purge --older-than` used to override every tenant's retention, and unlink trusted the row's path."""
    root = tmp_path / "monitor"
    (root / "acme").mkdir(parents=True)
    (root / "globex").mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("not a recording")
    files = {name: root / tenant / f"{name}.wav" for name, tenant in
             (("old", "acme"), ("undated", "acme"), ("young", "acme"), ("globex-old", "globex"))}
    for path in files.values():
        path.write_bytes(b"RIFF")
    with psycopg.connect(db_url, autocommit=True) as conn:
        for code in ("acme", "globex"):
            conn.execute("INSERT INTO tenants (code, name, recording_retention_days) VALUES (%s, %s, 30)",
                         (code, code))
        rows = [("old", "acme", str(files["old"]), "100 days"), ("undated", "acme", str(files["undated"]), None),
                ("young", "acme", str(files["young"]), "10 days"),
                ("globex-old", "globex", str(files["globex-old"]), "100 days"),
                ("forged", "acme", str(root / "acme" / ".." / ".." / "precious.txt"), "100 days")]
        for linkedid, tenant, path, age in rows:
            conn.execute("INSERT INTO recordings (linkedid, tenant_id, path, format, started_at, created_at) "
                         "VALUES (%s, (SELECT id FROM tenants WHERE code = %s), %s, 'wav', "
                         "now() - %s::interval, now() - interval '40 days')", (linkedid, tenant, path, age))
    env_settings = settings.with_overrides(recordings_dir=root)
    refused = await cli(env_settings, "recordings", "purge", "--older-than", "5")
    assert refused.returncode != 0 and "--tenant" in refused.stderr and files["young"].exists()

    done = await cli(env_settings, "recordings", "purge")
    assert done.returncode == 1 and "precious.txt" in done.stderr and "kept" in done.stderr
    assert outside.read_text() == "not a recording"
    assert not files["old"].exists() and not files["undated"].exists() and not files["globex-old"].exists()
    assert files["young"].exists()
    with psycopg.connect(db_url) as conn:
        left = {r[0] for r in conn.execute("SELECT linkedid FROM recordings").fetchall()}
    assert left == {"young", "forged"}  # the forged row stays with its file: nothing was deleted for it

    one = await cli(env_settings, "recordings", "purge", "--tenant", "acme", "--older-than", "5")
    assert one.returncode == 1 and not files["young"].exists()


async def test_callers_hear_the_consent_prompt_before_anything_and_the_call_is_recorded(alice_desk, sipp, settings,
                                                                                       db_url) -> None:
    """The tenant's recording consent prompt ("this call is now being recorded") plays first, on the
    caller's channel, before the IVR or the queue."""
    service = await alice_desk(tenant_sql="UPDATE tenants SET record_calls = true, "
                                          "recording_consent_prompt = 'conf-now-recording' WHERE id = %s")
    await sipp.agent_phone(ALICE.endpoint, ALICE.secret, 7960)
    await service.agents.apply(ALICE.code, AgentEvent.LOGIN)
    full_log = settings.asterisk_root / "var" / "log" / "asterisk" / "full.log"
    start = full_log.stat().st_size  # channel names repeat after an Asterisk restart: only this test's lines
    run = await sipp.call(TEST_DID, caller="12125559002", port=8960, presses=[], hold_ms=4000)
    assert await run.wait(60) == 0, run.errors()
    call = await wait_until(lambda: call_record(service, "12125559002"), 20, "the call record")
    caller_channel = next(leg["channel"] for leg in call["legs"] if leg["role"] == "caller")
    with open(full_log, "rb") as f:
        f.seek(start)
        log = f.read().decode(errors="replace")
    mine = [line for line in log.splitlines() if caller_channel in line]  # (8 hex digits: no name prefixes another)
    played = [line.split("Playing '", 1)[1].split("'", 1)[0] for line in mine if "Playing '" in line]
    assert played and played[0] == "conf-now-recording.gsm", played
    first_queue = next(i for i, line in enumerate(mine) if "Queue(" in line)
    first_prompt = next(i for i, line in enumerate(mine) if "Playing 'conf-now-recording" in line)
    assert first_prompt < first_queue
    assert await wait_until(lambda: _recording(db_url, call["linkedid"]), 20, "the recording indexed")


async def test_add_many_indexes_new_files_once_each_with_their_tenant(db_url) -> None:
    """One statement for many files: a file already indexed, or twice in the batch, is added once; the
    tenant comes from its code (none for a code no tenant has)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (code, name) VALUES ('acme', 'Acme')")
    info = MediaInfo(format="wav", duration_s=4.5, size_bytes=72_044, sha256="ab" * 32)

    def new(linkedid: str, path: str, tenant: str = "acme") -> recordings.NewRecording:
        return recordings.NewRecording(linkedid, tenant, path, info, None, "1001", "acme-support", "12125550100",
                                       "answered")

    pool = await open_pool(db_url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            assert await recordings.add(conn, **vars(new("a", "/r/acme/a.wav"))) is not None
            batch = [new("a", "/r/acme/a.wav"), new("b", "/r/acme/b.wav"), new("b", "/r/acme/b.wav"),
                     new("c", "/r/ghost/c.wav", tenant="ghost")]
            batch += [new(f"n{i}", f"/r/acme/n{i}.wav") for i in range(recordings.ADD_MANY_ROWS)]  # two statements
            assert await recordings.add_many(conn, batch) == 2 + recordings.ADD_MANY_ROWS
    finally:
        await pool.close()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT r.linkedid, t.code, r.duration_s, r.sha256 FROM recordings r "
                            "LEFT JOIN tenants t ON t.id = r.tenant_id WHERE r.linkedid IN ('a', 'b', 'c') "
                            "ORDER BY r.linkedid").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("a", "acme"), ("b", "acme"), ("c", None)]
    assert float(rows[1][2]) == 4.5 and rows[1][3] == "ab" * 32
