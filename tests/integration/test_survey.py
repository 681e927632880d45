"""The post-call survey: the agent hangs up, the caller stays on the line (Queue option c), hears the
tenant's question, presses 4; the answer is stored with the call and reported."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import wave
from typing import Any

from middleware.agents.state import AgentEvent
from middleware.runtime.demo_tenant import AGENTS
from tests.integration.conftest import TEST_DID, call_record, wait_until

ALICE = AGENTS[0]


def question_wav(seconds: float = 1.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x08\x00\xf8" * int(seconds * 4000))
    return buf.getvalue()


async def _score(service: Any, caller: str) -> int | None:
    call = await call_record(service, caller)
    return None if call is None else call.get("csat_score")


async def test_the_caller_rates_the_call_after_the_agent_hangs_up(alice_desk, sipp, settings) -> None:
    sounds = settings.asterisk_root / "usr/share/asterisk/sounds/custom"
    sounds.mkdir(parents=True, exist_ok=True)
    (sounds / "cc-test-survey.wav").write_bytes(question_wav())
    service = await alice_desk(tenant_sql="UPDATE tenants SET csat_prompt = 'custom/cc-test-survey' WHERE id = %s")
    phone = await sipp.agent_phone(ALICE.endpoint, ALICE.secret, 7970, hangup_after_ms=4000)
    await service.agents.apply(ALICE.code, AgentEvent.LOGIN)

    caller = "12125559101"
    run = await sipp.call(TEST_DID, caller=caller, port=8970, presses=[(8000, "4")], hold_ms=6000)
    await run.wait(60)  # the PBX hangs up after "thank you"; the caller's own BYE may find no call
    assert [line for line in phone.answering.log_lines() if line.startswith("HUNGUP")]  # the agent ended it
    assert await wait_until(lambda: _score(service, caller), 20, "the survey answer") == 4
    call = await call_record(service, caller)
    assert call is not None and call["disposition"] == "answered" and call["agent_code"] == "1001"
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "middleware", "report", "--by", "agent",
                                                   "--json"], capture_output=True, text=True, env=env, timeout=60)
    rows = json.loads(out.stdout)["rows"]
    assert (rows[0]["group"], rows[0]["csat_avg"], rows[0]["csat_responses"]) == ("1001", 4.0, 1)
