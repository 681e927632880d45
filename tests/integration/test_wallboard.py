"""The supervisor's live view on the real stack: a call through IVR, queue and agent shows on the event
WebSocket (arrived, queued, answered, screen pop, agent states) and on the wallboard, which headless
Chromium renders from the same API, with a screenshot kept for people to look at."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from middleware.api import auth
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, DID
from middleware.store import tokens
from tests.integration.conftest import call_record, wait_until

CAROL = AGENTS[2]
CALLER = "12125550177"
BUSINESS_HOURS = "2026-11-23T12:00:00-05:00"
SCREENSHOT = Path(__file__).resolve().parents[2] / ".cache" / "wallboard.png"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is not installed (`make test` installs it)")
    return found


async def supervisor_token(service: Any) -> str:
    """A new supervisor token of the demo tenant."""
    token = auth.new_token(secrets.token_bytes(32))
    async with service.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenants WHERE code = 'acme'")
        row = await cur.fetchone()
        assert row is not None
        await tokens.create(conn, digest=auth.token_digest(token), role="supervisor", tenant_id=row[0], agent=None,
                            name="test")
    return token


async def headless(browser: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--window-size=1280,900", "--virtual-time-budget=4000", *args, url]
    return await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=90)


async def test_a_call_shows_live_on_the_event_stream_and_the_wallboard(agent_on_duty, sipp, settings) -> None:
    service, _phone = await agent_on_duty(CAROL, 7300, clock=BUSINESS_HOURS)
    token = await supervisor_token(service)
    base = f"http://{settings.http_host}:{settings.http_port}"
    seen: list[dict[str, Any]] = []
    async with ClientSession() as http, http.ws_connect(f"{base.replace('http', 'ws')}/api/v1/events",
                                                        headers={"Authorization": f"Bearer {token}"}) as ws:
        caller = await sipp.call(DID, digits="2", caller=CALLER, port=8300, dtmf_after_ms=3000, hold_ms=3200)

        async def collect() -> None:
            async for msg in ws:
                seen.append(json.loads(msg.data))
                if any(e["kind"] == "agent_state" and e.get("state") == "wrap_up" for e in seen):
                    return
        await asyncio.wait_for(collect(), 60)
        assert await caller.wait(60) == 0, caller.errors()
        call = await wait_until(lambda: call_record(service, CALLER), 20, "the call record")
        async with http.get(f"{base}/api/v1/wallboard", headers={"Authorization": f"Bearer {token}"}) as r:
            board = await r.json()
        async with http.get(f"{base}/metrics") as r:
            metrics = await r.text()

    kinds = [e["kind"] for e in seen]
    linked = [e for e in seen if e.get("linkedid") == call["linkedid"]]
    assert kinds[0] == "hello"
    for kind in ("call_arrived", "call_queued", "call_answered", "screen_pop"):
        assert kind in [e["kind"] for e in linked], (kind, kinds)
    order = [e["kind"] for e in linked]
    assert order.index("call_arrived") < order.index("call_queued") < order.index("call_answered")
    states = [e["state"] for e in seen if e["kind"] == "agent_state" and e["agent"] == CAROL.code]
    assert "on_call" in states and states[-1] == "wrap_up", states
    assert all(e.get("tenant") == "acme" for e in seen[1:]), seen
    answered = next(e for e in linked if e["kind"] == "call_answered")
    assert answered["queue"] == "acme-support" and answered["agent"] == CAROL.code

    support = next(q for q in board["queues"] if q["queue"] == "acme-support")
    assert (support["offered"], support["answered"], support["waiting"]) == (1, 1, 0)
    assert support["service_level"] == 1.0
    assert "callcenter_agi_sessions_total" in metrics and "callcenter_ami_connected 1" in metrics

    # The wallboard page, rendered by a real browser from the same API and WebSocket.
    browser = chromium()
    page = f"{base}/wallboard#token={token}"
    dom = await headless(browser, page, "--dump-dom")
    assert 'data-queue="acme-support"' in dom.stdout, dom.stderr[-2000:]
    assert 'data-live="1"' in dom.stdout  # the page's WebSocket was accepted
    row = dom.stdout.split('data-queue="acme-support"')[1].split("</tr>")[0]
    assert "100.0 %" in row  # service level today
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = await headless(browser, page, f"--screenshot={SCREENSHOT}")
    assert SCREENSHOT.is_file() and SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.stderr[-2000:]


async def test_a_supervisor_pauses_and_logs_out_an_agent_over_the_api(agent_on_duty, settings) -> None:
    service, _phone = await agent_on_duty(CAROL, 7350)
    token = await supervisor_token(service)
    base = f"http://{settings.http_host}:{settings.http_port}/api/v1/agents/{CAROL.code}"
    headers = {"Authorization": f"Bearer {token}"}
    async with ClientSession() as http:
        async with http.post(f"{base}/pause", json={"reason": "coaching"}, headers=headers) as r:
            assert r.status == 200 and (await r.json())["state"] == "paused"
        members = asterisk.rx(settings, "queue show acme-support")
        assert any(CAROL.endpoint in line and "paused" in line.lower() for line in members.splitlines()), members
        async with http.post(f"{base}/logout", headers=headers) as r:
            assert r.status == 200 and (await r.json())["state"] == "logged_out"
        async with http.post(f"{base}/unpause", headers=headers) as r:
            assert r.status == 409 and "cannot unpause while logged_out" in (await r.json())["error"]
    assert f"PJSIP/{CAROL.endpoint}" not in asterisk.rx(settings, "queue show acme-support")
