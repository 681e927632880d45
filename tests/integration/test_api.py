"""The supervisor API against a real PostgreSQL: tokens and roles, tenant isolation on every read
endpoint, input validation, recordings with HTTP Range, campaign writes, the event WebSocket,
/metrics, /healthz and the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import ClientSession, WSServerHandshakeError
from aiohttp.test_utils import TestServer

from middleware.api.app import Wiring, build_app, document
from middleware.api.metrics import Sample
from middleware.api.ratelimit import RateLimiter
from middleware.api.resources import OPERATIONS, Api
from middleware.config import load_settings
from middleware.event_stream import EventStream
from middleware.runtime import postgres
from middleware.store import database
from middleware.store.database import open_pool
from tests.integration.api_fixture import Seeded, Tenant, seed


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    server = load_settings().database_url
    postgres.ensure_server(server)
    data = seed(server, tmp_path / "recordings")
    try:
        yield data
    finally:
        database.drop_database(data.url)


class Client:
    def __init__(self, session: ClientSession, base: str, events: EventStream) -> None:
        self.session = session
        self.base = base
        self.events = events

    async def get(self, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("GET", path, token, **kw)

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any, Any]:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base + path, headers=headers, **kw) as r:
            body = await r.read()
            ctype = r.headers.get("Content-Type", "")
            return r.status, json.loads(body) if ctype.startswith("application/json") else body, r.headers


@pytest.fixture
async def api(seeded: Seeded) -> AsyncIterator[Client]:
    pool = await open_pool(seeded.url, min_size=1, max_size=4)
    events = EventStream(None)

    async def health() -> dict[str, Any]:
        return {"database": {"ok": True}}

    wiring = Wiring(api=Api(pool, lambda: datetime.now(UTC), seeded.recordings_root), health=health,
                    metrics=lambda: [Sample("callcenter_up", "gauge", "up", 1),
                                     Sample("callcenter_journal_backlog", "gauge", "backlog", 3)],
                    events=events)
    server = TestServer(build_app(wiring), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as session:
            yield Client(session, f"http://127.0.0.1:{server.port}", events)
    finally:
        await server.close()
        await pool.close()


def concrete(path: str, t: Tenant) -> str:
    """An operation's path filled in with the tenant's own identifiers."""
    return (path.replace("{code}", t.campaign if "/campaigns/" in path else t.agent)
            .replace("{name}", "main" if "/ivr-flows/" in path else t.queue)
            .replace("{linkedid}", t.calls[0]).replace("{id}", str(t.recording_id)))


READS = [op for op in OPERATIONS if op.method == "GET" and op.role != "agent"]


@pytest.mark.parametrize("op", READS, ids=[op.operation_id for op in READS])
async def test_a_tenant_token_never_reads_another_tenants_data(api: Client, seeded: Seeded, op: Any) -> None:
    acme, globex = seeded.acme, seeded.globex
    acme_path = concrete(op.path, acme)
    # acme's own supervisor sees acme's object (so the check below can fail)...
    status, body, _ = await api.get(acme_path, acme.supervisor)
    assert status == 200, body
    own = body if isinstance(body, bytes) else json.dumps(body)
    # ...globex's supervisor is told it does not exist, or gets lists without a trace of acme.
    status, body, _ = await api.get(acme_path, globex.supervisor)
    if "{" in op.path and op.operation_id != "get_flow":  # flows are named per tenant: globex has a "main" too
        assert status == 404 and body == {"error": body["error"]}, (status, body)
        return
    assert status == 200
    text = json.dumps(body)
    for secret in (acme.agent, acme.queue, acme.campaign, acme.phone, *acme.calls, '"acme"', "+12025550111",
                   "acme's own flow"):
        assert secret not in text, f"{op.path} showed globex {secret}"
    if op.operation_id not in ("wallboard", "report"):
        assert acme.code in str(own) or acme.agent in str(own) or "+12025550111" in str(own), own
    # and the admin of the platform sees both
    status, body, _ = await api.get(acme_path, seeded.admin)
    assert status == 200


async def test_untenanted_call_records_belong_to_their_queues_tenant(api: Client, seeded: Seeded) -> None:
    _, mine, _ = await api.get("/api/v1/calls", seeded.acme.supervisor)
    _, theirs, _ = await api.get("/api/v1/calls", seeded.globex.supervisor)
    assert "acme-untenanted" in {c["linkedid"] for c in mine}
    assert "acme-untenanted" not in {c["linkedid"] for c in theirs}
    status, _, _ = await api.get("/api/v1/calls/acme-untenanted", seeded.globex.supervisor)
    assert status == 404


async def test_tokens_and_roles(api: Client, seeded: Seeded) -> None:
    status, body, headers = await api.get("/api/v1/agents")
    assert status == 401 and "bearer" in body["error"] and headers["WWW-Authenticate"].startswith("Bearer")
    assert (await api.get("/api/v1/agents", headers={"Authorization": "Basic abc"}))[0] == 401
    assert (await api.get("/api/v1/agents", "cc_short"))[0] == 401
    assert (await api.get("/api/v1/agents", seeded.revoked))[1] == {"error": "unknown or revoked token"}
    status, body, _ = await api.get("/api/v1/agents", seeded.acme.agent_token)
    assert status == 403 and "supervisor" in body["error"]
    status, body, _ = await api.get("/api/v1/me", seeded.acme.agent_token)
    assert status == 200 and body["role"] == "agent" and body["agent"]["code"] == seeded.acme.agent
    with psycopg.connect(seeded.url) as conn:
        used = conn.execute("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL").fetchone()
        assert used is not None and used[0] == 1


async def test_bad_input_gets_a_clear_4xx(api: Client, seeded: Seeded) -> None:
    token = seeded.acme.supervisor
    leads = f"/api/v1/campaigns/{seeded.acme.campaign}/leads"
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", leads, {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
        ("POST", leads, {"json": {"number": 12025550133}}, 400, "number: expected a string"),
        ("POST", leads, {"json": {"number": "+12025550133", "colour": "red"}}, 400, "unknown field(s): colour"),
        ("POST", leads, {"json": {}}, 400, "missing field number"),
        ("POST", leads, {"json": ["+12025550133"]}, 400, "must be a JSON object"),
        ("POST", leads, {"json": {"number": "555"}}, 400, "not a valid number"),
        ("POST", leads, {"data": b"number=1", "headers": {"Content-Type": "text/plain"}}, 415, "application/json"),
        ("POST", leads, {"json": {"number": "x" * 70_000}}, 413, "larger than"),
        ("GET", "/api/v1/calls?limit=0", {}, 400, "limit: must be between 1 and 1000"),
        ("GET", "/api/v1/calls?limit=ten", {}, 400, "not an integer"),
        ("GET", "/api/v1/calls?since=yesterday", {}, 400, "ISO 8601"),
        ("GET", "/api/v1/calls?since=2026-11-22T00:00:00", {}, 400, "UTC offset"),
        ("GET", "/api/v1/calls?limit=1&limit=2", {}, 400, "more than once"),
        ("GET", "/api/v1/calls?colour=red", {}, 400, "unknown query parameter"),
        ("GET", "/api/v1/agents?state=asleep", {}, 400, "state: must be one of"),
        ("GET", "/api/v1/recordings/abc", {}, 400, "not an integer"),
        ("GET", "/api/v1/nothing-here", {}, 404, "Not Found"),
        ("DELETE", "/api/v1/agents", {}, 405, "Method Not Allowed"),
    ]
    for method, path, kw, want, words in cases:
        status, body, _ = await api.call(method, path, token, **kw)
        assert (status, words in body.get("error", "")) == (want, True), (method, path, status, body)


async def test_recording_download_honours_http_range(api: Client, seeded: Seeded) -> None:
    path = f"/api/v1/recordings/{seeded.acme.recording_id}/audio"
    whole = (seeded.recordings_root / "acme" / f"{seeded.acme.calls[0]}.wav").read_bytes()
    status, body, headers = await api.get(path, seeded.acme.supervisor)
    assert status == 200 and body == whole and headers["Content-Type"] == "audio/wav"
    status, body, headers = await api.get(path, seeded.acme.supervisor, headers={"Range": "bytes=44-143"})
    assert status == 206 and body == whole[44:144]
    assert headers["Content-Range"] == f"bytes 44-143/{len(whole)}"
    status, body, _ = await api.get(path, seeded.acme.supervisor, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert status == 416
    assert (await api.get(path, seeded.globex.supervisor))[0] == 404


async def test_campaign_control_and_leads_stay_in_their_tenant(api: Client, seeded: Seeded) -> None:
    start = f"/api/v1/campaigns/{seeded.acme.campaign}/start"
    status, _, _ = await api.call("POST", start, seeded.globex.supervisor)
    assert status == 404
    status, body, _ = await api.call("POST", start, seeded.acme.agent_token)
    assert status == 403
    status, body, _ = await api.call("POST", start, seeded.acme.supervisor)
    assert status == 200 and body["status"] == "running"
    status, body, _ = await api.call("POST", f"/api/v1/campaigns/{seeded.acme.campaign}/leads", seeded.acme.supervisor,
                                     json={"number": "(202) 555-0143", "name": "Ann Example"})
    assert status == 201 and body["added"] and body["lead"]["number"] == "+12025550143", body
    assert body["lead"]["timezone"] == "America/New_York"
    status, _, _ = await api.call("POST", f"/api/v1/campaigns/{seeded.acme.campaign}/leads",
                                  seeded.globex.supervisor, json={"number": "+12025550144"})
    assert status == 404
    with psycopg.connect(seeded.url) as conn:
        rows = conn.execute("SELECT c.code, c.status, count(l.id) FROM campaigns c "
                            "JOIN leads l ON l.campaign_id = c.id GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert rows == [("acme-win", "running", 2), ("globex-win", "stopped", 1)]
    lists = f"/api/v1/campaigns/{seeded.acme.campaign}/lists"
    status, body, _ = await api.call("GET", lists, seeded.acme.supervisor)
    assert status == 200 and [(r["list"], r["priority"], r["active"], r["ready"]) for r in body] == [
        ("default", 5, True, 2)], body
    assert (await api.call("GET", lists, seeded.globex.supervisor))[0] == 404
    status, body, _ = await api.call("POST", f"/api/v1/campaigns/{seeded.acme.campaign}/leads", seeded.acme.supervisor,
                                     json={"number": "+12025550145", "list": "autumn"})
    assert status == 404 and "no list 'autumn'" in body["error"], body


async def test_event_websocket_shows_each_tenant_its_own_events(api: Client, seeded: Seeded) -> None:
    url = api.base.replace("http", "ws") + "/api/v1/events"
    async with api.session.ws_connect(url, headers={"Authorization": f"Bearer {seeded.globex.supervisor}"}) as g, \
            api.session.ws_connect(f"{url}?token={seeded.acme.supervisor}") as a:
        assert json.loads((await g.receive(timeout=5)).data)["tenant"] == "globex"
        assert json.loads((await a.receive(timeout=5)).data)["tenant"] == "acme"
        await api.events.publish("call_queued", {"tenant": "acme", "queue": "acme-support", "linkedid": "x1"})
        await api.events.publish("call_queued", {"tenant": "globex", "queue": "globex-support", "linkedid": "y1"})
        got_a = json.loads((await a.receive(timeout=5)).data)
        got_g = json.loads((await g.receive(timeout=5)).data)
        assert (got_a["linkedid"], got_g["linkedid"]) == ("x1", "y1")
        with pytest.raises(asyncio.TimeoutError):
            await a.receive(timeout=0.5)  # globex's event never reaches acme
    with pytest.raises(WSServerHandshakeError) as denied:
        await api.session.ws_connect(f"{url}?token={seeded.acme.agent_token}")
    assert denied.value.status == 403


async def test_openapi_metrics_and_health(api: Client, seeded: Seeded) -> None:
    status, doc, _ = await api.get("/openapi.json")
    assert status == 200 and doc == json.loads(json.dumps(document()))
    served = {(op.method.lower(), op.path) for op in OPERATIONS}
    assert served == {(m, p) for p, ms in doc["paths"].items() for m in ms if p.startswith("/api/")}
    status, text, headers = await api.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"# TYPE callcenter_journal_backlog gauge\ncallcenter_journal_backlog 3\n" in text
    status, body, _ = await api.get("/healthz")
    assert status == 200 and body == {"database": {"ok": True}}
    status, page, _ = await api.get("/wallboard")
    assert status == 200 and b"/api/v1/events" in page


async def test_events_published_by_another_process_reach_the_socket(api: Client, seeded: Seeded) -> None:
    """The CLI and other nodes NOTIFY their events; the API's relay LISTENs and passes them on."""
    relay = asyncio.create_task(api.events.relay(seeded.url))
    pool = await open_pool(seeded.url, min_size=1, max_size=2)
    try:
        other = EventStream(pool)  # another origin: as `callcenter agent pause` would publish
        url = api.base.replace("http", "ws") + f"/api/v1/events?token={seeded.acme.supervisor}"
        async with api.session.ws_connect(url) as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["kind"] == "hello"
            await wait_for_relay(api.events, seeded.url)
            await other.publish("agent_state", {"tenant": "acme", "agent": seeded.acme.agent, "state": "paused"})
            await api.events.publish("agent_state", {"tenant": "acme", "agent": "local", "state": "available"})
            got = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
            assert sorted(e["agent"] for e in got) == sorted([seeded.acme.agent, "local"])
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0.5)  # the local event is not delivered twice by the relay
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await pool.close()


async def wait_for_relay(events: EventStream, url: str) -> None:
    """Until the relay's LISTEN is in place (a probe NOTIFY from another origin comes back)."""
    probe = EventStream(None, origin="probe")
    queue = events.subscribe()
    try:
        for _ in range(50):
            with psycopg.connect(url) as conn:
                conn.execute("SELECT pg_notify('callcenter_events', %s)",
                             (json.dumps({"kind": "probe", "origin": probe.origin}),))
                conn.commit()
            try:
                while (await asyncio.wait_for(queue.get(), 0.2))["kind"] != "probe":
                    pass
                return
            except TimeoutError:
                continue
        pytest.fail("the relay never started listening")
    finally:
        events.unsubscribe(queue)


async def test_agent_actions_are_scoped_and_need_asterisk(api: Client, seeded: Seeded) -> None:
    path = f"/api/v1/agents/{seeded.acme.agent}/pause"
    assert (await api.call("POST", path, seeded.globex.supervisor, json={"reason": "lunch"}))[0] == 404
    assert (await api.call("POST", path, seeded.acme.agent_token))[0] == 403
    status, body, headers = await api.call("POST", path, seeded.acme.supervisor, json={"reason": "lunch"})
    assert status == 503 and "AMI" in body["error"] and headers["Retry-After"] == "5"  # this node has no AMI
    status, body, _ = await api.call("POST", path, seeded.acme.supervisor, json={"reason": 5})
    assert status == 400 and "reason: expected a string" in body["error"]


async def test_api_leads_pass_the_tenants_dialing_policy(api: Client, seeded: Seeded) -> None:
    """API-added leads used to accept premium-rate and foreign numbers, and a caller-chosen time zone."""
    path = f"/api/v1/campaigns/{seeded.acme.campaign}/leads"
    for body, reason in (({"number": "+1 900 555 0143"}, "premium-rate"),
                         ({"number": "+33 1 45 67 89 00"}, "not a country this tenant may call"),
                         ({"number": "+88216123456"}, "no country"),
                         ({"number": "+1 202 555 0145", "timezone": "Pacific/Honolulu"}, "America/New_York")):
        status, answer, _ = await api.call("POST", path, seeded.acme.supervisor, json=body)
        assert status == 400 and reason in answer["error"], (body, answer)
    with psycopg.connect(seeded.url) as conn:
        conn.execute("UPDATE tenants SET dial_countries = '{FR}' WHERE code = 'acme'")
    status, answer, _ = await api.call("POST", path, seeded.acme.supervisor, json={"number": "+33 1 45 67 89 00"})
    assert status == 201 and answer["lead"]["timezone"] == "Europe/Paris", answer


async def test_a_token_past_its_budget_gets_429_with_retry_after(seeded: Seeded) -> None:
    pool = await open_pool(seeded.url, min_size=1, max_size=2)

    async def health() -> dict[str, Any]:
        return {"database": {"ok": True}}

    wiring = Wiring(api=Api(pool, lambda: datetime.now(UTC), seeded.recordings_root), health=health,
                    metrics=list, limiter=RateLimiter(rate_per_s=0.5, burst=3))
    server = TestServer(build_app(wiring), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}", EventStream(None))
            codes = [(await client.get("/api/v1/queues", seeded.acme.supervisor))[0] for _ in range(3)]
            status, body, headers = await client.get("/api/v1/queues", seeded.acme.supervisor)
            other, _, _ = await client.get("/api/v1/queues", seeded.globex.supervisor)
    finally:
        await server.close()
        await pool.close()
    assert codes == [200, 200, 200] and status == 429 and int(headers["Retry-After"]) >= 1, body
    assert other == 200  # every token has its own budget
