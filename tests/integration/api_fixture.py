"""Two tenants' worth of data in a fresh database, with tokens of every kind, for the API tests.

acme and globex each get a queue, an agent with a phone, an IVR flow named "main", a campaign with
leads, call records and a recording on disk; acme also has a call record without a tenant (known by
its queue). The tests then check what each token sees.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

import psycopg

from middleware.api import auth
from middleware.store import database


@dataclass(frozen=True)
class Tenant:
    code: str
    queue: str
    agent: str
    phone: str
    campaign: str
    calls: tuple[str, ...]
    recording_id: int
    supervisor: str  # tokens
    agent_token: str


@dataclass(frozen=True)
class Seeded:
    url: str
    acme: Tenant
    globex: Tenant
    admin: str
    revoked: str
    recordings_root: Path


def _token(conn: psycopg.Connection, role: str, tenant_id: int | None, agent: str | None,
           revoked: bool = False) -> str:
    token = auth.new_token(uuid.uuid4().bytes + uuid.uuid4().bytes)
    conn.execute("""INSERT INTO api_tokens (token_hash, role, tenant_id, agent_code, revoked_at)
                    VALUES (%s, %s, %s, %s, CASE WHEN %s THEN now() END)""",
                 (auth.token_digest(token), role, tenant_id, agent, revoked))
    return token


def wav_bytes(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(int(16000 * seconds)))
    return out.getvalue()


def _tenant(conn: psycopg.Connection, code: str, root: Path) -> Tenant:
    tid = conn.execute("INSERT INTO tenants (code, name) VALUES (%s, %s) RETURNING id", (code, code.title())
                       ).fetchone()[0]  # type: ignore[index]
    queue, agent, phone, campaign = f"{code}-support", f"{code}-agent", f"{code}-phone", f"{code}-win"
    qid = conn.execute("INSERT INTO queues (tenant_id, name) VALUES (%s, %s) RETURNING id", (tid, queue)
                       ).fetchone()[0]  # type: ignore[index]
    dq = conn.execute("INSERT INTO queues (tenant_id, name) VALUES (%s, %s) RETURNING id", (tid, f"dialer-{campaign}")
                      ).fetchone()[0]  # type: ignore[index]
    aid = conn.execute("INSERT INTO agents (tenant_id, code, name, state) VALUES (%s, %s, %s, 'available') "
                       "RETURNING id", (tid, agent, f"Agent of {code}")).fetchone()[0]  # type: ignore[index]
    conn.execute("INSERT INTO phones (tenant_id, agent_id, endpoint, secret) VALUES (%s, %s, %s, 'sekrit-123')",
                 (tid, aid, phone))
    conn.execute("INSERT INTO queue_members (queue_id, agent_id, penalty) VALUES (%s, %s, 1)", (qid, aid))
    conn.execute("INSERT INTO ivr_flows (tenant_id, name, definition, source) VALUES (%s, 'main', '{}', %s)",
                 (tid, f"# {code}'s own flow\n"))
    cid = conn.execute(
        """INSERT INTO campaigns (tenant_id, code, queue_id, caller_id, trunk, safe_harbor_prompt)
           VALUES (%s, %s, %s, '+12025550100', 'carrier-sim', 'please-try-call-later') RETURNING id""",
        (tid, campaign, dq)).fetchone()[0]  # type: ignore[index]
    lid = conn.execute("INSERT INTO lead_lists (campaign_id, name, priority) VALUES (%s, 'default', 5) RETURNING id",
                       (cid,)).fetchone()[0]  # type: ignore[index]
    conn.execute("INSERT INTO leads (campaign_id, list_id, number, timezone, name) "
                 "VALUES (%s, %s, %s, 'America/New_York', %s)",
                 (cid, lid, "+12025550111" if code == "acme" else "+12025550122", f"Lead of {code}"))
    calls = (f"{code}-call-1", f"{code}-call-2")
    for i, linkedid in enumerate(calls):
        conn.execute(
            """INSERT INTO calls (linkedid, tenant_id, caller_number, started_at, connected_at, ended_at, queue,
                                  agent_code, wait_s, talk_s, duration_s, disposition, complete)
               VALUES (%s, %s, %s, now() - interval '1 hour', now() - interval '59 minutes',
                       now() - interval '55 minutes', %s, %s, 12, 240, 300, 'answered', true)""",
            (linkedid, tid, f"+1202555{i:04d}", queue, agent))
    folder = root / code
    folder.mkdir(parents=True)
    path = folder / f"{calls[0]}.wav"
    path.write_bytes(wav_bytes(2.0))
    rid = conn.execute(
        """INSERT INTO recordings (linkedid, tenant_id, path, format, started_at, duration_s, size_bytes, sha256,
                                   agent_code, queue, caller_number, disposition)
           VALUES (%s, %s, %s, 'wav', now() - interval '1 hour', 2.0, %s, %s, %s, %s, '+12025550000', 'answered')
           RETURNING id""",
        (calls[0], tid, str(path), path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest(), agent, queue)
    ).fetchone()[0]  # type: ignore[index]
    return Tenant(code, queue, agent, phone, campaign, calls, rid, supervisor=_token(conn, "supervisor", tid, None),
                  agent_token=_token(conn, "agent", tid, agent))


def seed(server_url: str, root: Path) -> Seeded:
    url = database.with_database(server_url, f"cc_test_{uuid.uuid4().hex[:12]}")
    database.ensure_database(url)
    database.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        acme = _tenant(conn, "acme", root)
        globex = _tenant(conn, "globex", root)
        conn.execute("""INSERT INTO calls (linkedid, caller_number, started_at, ended_at, queue, disposition, complete)
                        VALUES ('acme-untenanted', '+12025559999', now() - interval '2 hours',
                                now() - interval '119 minutes', 'acme-support', 'abandoned', true)""")
        acme = Tenant(**{**acme.__dict__, "calls": (*acme.calls, "acme-untenanted")})
        admin = _token(conn, "admin", None, None)
        acme_id = conn.execute("SELECT id FROM tenants WHERE code = 'acme'").fetchone()[0]  # type: ignore[index]
        revoked = _token(conn, "supervisor", acme_id, None, revoked=True)
    return Seeded(url, acme, globex, admin, revoked, root)
