"""SIP security on the real PBX: toll fraud (unauthenticated calls to outside numbers never reach a
trunk) and addresses that keep failing authentication being blocked, then unblocked."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from middleware.runtime.demo_tenant import AGENTS
from middleware.runtime.sipp import SippRun
from middleware.store import sip_blocks
from tests.integration.conftest import cli, wait_until

CAROL = AGENTS[2]
CARRIER = "127.0.0.1"   # carrier-sim's address (identified by IP, no credentials: reaches [from-trunk])
STRANGER = "127.0.0.3"  # nobody the PBX knows
ATTACKER = "127.0.0.2"
OUTSIDE = ["+442079460000", "0044207946000", "011442079460000", "19005550123", "2125550100", "900123456",
           "*43", CAROL.endpoint]


def final_code(run: SippRun) -> int | None:
    for line in run.log_lines():
        found = re.match(r"FINAL (\d{3}) ", line)
        if found:
            return int(found.group(1))
    return None


async def test_unauthenticated_calls_to_outside_numbers_never_reach_a_trunk(agent_on_duty, sipp) -> None:
    await agent_on_duty(CAROL, 7400)
    trunk = await sipp.customers(5080)  # the far end of the carrier-sim trunk: any call out lands here
    answers: dict[tuple[str, str, str], int | None] = {}
    port = 7420
    for source, from_user in ((STRANGER, "anonymous"), (CARRIER, "anonymous"), (CARRIER, CAROL.endpoint)):
        for number in OUTSIDE:
            port += 2
            run = await sipp.unauthenticated_call(number, port, local_ip=source, from_user=from_user)
            assert await run.wait(40) == 0, (source, number, run.errors())
            answers[(source, from_user, number)] = final_code(run)
    # A stranger is refused outright (challenged, then blocked); so is anyone claiming to be a phone
    # without its password; the carrier's own address reaches only the DIDs: "no such number".
    assert {answers[(STRANGER, "anonymous", n)] for n in OUTSIDE} <= {401, 403}
    assert {answers[(CARRIER, CAROL.endpoint, n)] for n in OUTSIDE} == {401}
    for n in OUTSIDE:  # dialable digits: [unknown-did] answers "no service" and hangs up; a name: 404
        assert answers[(CARRIER, "anonymous", n)] == (200 if re.fullmatch(r"[+*0-9]+", n) else 404), n
    assert trunk.numbers("INVITE") == [], "a call reached the trunk"


async def _denies(acl: Path, address: str) -> bool:
    return f"deny = {address}/32" in acl.read_text()


async def test_repeated_failed_authentications_block_the_address_until_lifted(agent_on_duty, sipp, settings
                                                                              ) -> None:
    service, _phone = await agent_on_duty(CAROL, 7500)
    acl = settings.generated_dir / "pjsip_acl.conf"
    assert "deny" not in acl.read_text()
    for i in range(5):
        run = await sipp.register_once(CAROL.endpoint, "not-the-password", 7510 + 2 * i, local_ip=ATTACKER)
        assert await run.wait(20) != 0

    async def blocked() -> list[str]:
        async with service.pool.connection() as conn:
            return await sip_blocks.active(conn, datetime.now(UTC))
    assert await wait_until(blocked, 10, "the attacker's block") == [ATTACKER]
    await wait_until(lambda: _denies(acl, ATTACKER), 10, "the ACL written and reloaded")
    # Blocked: even the right password from there is refused now; Carol's own address still works.
    run = await sipp.register_once(CAROL.endpoint, CAROL.secret, 7530, local_ip=ATTACKER)
    assert await run.wait(20) != 0
    run = await sipp.register_once(CAROL.endpoint, CAROL.secret, 7532, local_ip="127.0.0.1")
    assert await run.wait(20) == 0, run.errors()
    listed = await cli(settings, "security", "blocks", "--json")
    assert ATTACKER in listed.stdout and '"failures": 5' in listed.stdout, listed.stdout + listed.stderr

    lifted = await cli(settings, "security", "unblock", ATTACKER)
    assert lifted.returncode == 0, lifted.stderr
    assert "deny" not in acl.read_text()
    run = await sipp.register_once(CAROL.endpoint, CAROL.secret, 7534, local_ip=ATTACKER)
    assert await run.wait(20) == 0, run.errors()
    again = await cli(settings, "security", "unblock", ATTACKER)
    assert again.returncode == 1 and "is not blocked" in again.stderr
    assert service.sip_guard.failures_seen >= 5 and service.sip_guard.blocks == 1
