"""AMI reconnect, re-login and state resync: after a dropped connection or an Asterisk restart, the
queues in Asterisk again hold exactly the agents PostgreSQL says are logged in."""

from __future__ import annotations

import asyncio

from middleware.agents.state import AgentEvent
from middleware.runtime import asterisk
from middleware.runtime.demo_tenant import AGENTS, seed
from tests.integration.conftest import wait_until
from tests.integration.tcp_proxy import CuttableProxy

BOB, CAROL = AGENTS[1], AGENTS[2]


def members(settings, queue: str) -> str:
    return asterisk.rx(settings, f"queue show {queue}")


async def test_dropped_ami_connection_reconnects_and_repairs_queue_members(make_service, settings) -> None:
    proxy = CuttableProxy(settings.ami_host, settings.ami_port)
    await proxy.start()
    try:
        service = await make_service(ami_port=proxy.port, ami_host="127.0.0.1")
        await seed(service.pool, agents=(BOB, CAROL))
        await service.resync()
        await service.agents.apply(CAROL.code, AgentEvent.LOGIN)
        assert "PJSIP/acme-1003" in members(settings, "acme-support")
        assert "PJSIP/acme-1002" not in members(settings, "acme-support")

        # While the middleware is cut off, Asterisk drifts: Carol is removed, Bob added by hand.
        resyncs_before = service.resyncs
        proxy.cut()
        asterisk.rx(settings, "queue remove member PJSIP/acme-1003 from acme-support")
        asterisk.rx(settings, "queue add member PJSIP/acme-1002 to acme-support")
        await wait_until(lambda: _logins_at_least(service, 2), 20, "the AMI client to log in again")
        await wait_until(lambda: _resyncs_at_least(service, resyncs_before + 1), 20, "the resync after the new login")

        support = members(settings, "acme-support")
        assert "PJSIP/acme-1003" in support  # back: PostgreSQL says Carol is logged in
        assert "PJSIP/acme-1002" not in support  # gone: Bob is logged out
        assert proxy.connections >= 2
        assert service.ami is not None and service.ami.connected
    finally:
        await proxy.close()


async def test_watchdog_aborts_a_silent_ami_connection(make_service, settings) -> None:
    proxy = CuttableProxy(settings.ami_host, settings.ami_port)
    await proxy.start()
    try:
        service = await make_service(ami_port=proxy.port, ami_watchdog_interval=0.5)
        proxy.freeze()  # TCP stays up, nothing comes back: panoramisk alone would wait forever
        await wait_until(lambda: _not_connected(service), 10, "the watchdog to notice the silence")
        await wait_until(lambda: _logins_at_least(service, 2), 20, "a fresh login on a new connection")
        pong = await service.ami.action({"Action": "Ping"})
        assert pong[0]["ping"] == "Pong" and proxy.connections >= 2
    finally:
        await proxy.close()


async def test_asterisk_restart_restores_provisioning_and_members(make_service, settings) -> None:
    service = await make_service()
    await seed(service.pool, agents=(CAROL,))
    await service.resync()
    await service.agents.apply(CAROL.code, AgentEvent.LOGIN)
    before = service.ami.logins
    resyncs_before = service.resyncs

    await asyncio.to_thread(asterisk.stop, settings)
    await wait_until(lambda: _not_connected(service), 10, "the AMI client to notice Asterisk is gone")
    await asyncio.to_thread(asterisk.start, settings)
    await wait_until(lambda: _logins_at_least(service, before + 1), 30, "the AMI client to log in again")
    await wait_until(lambda: _resyncs_at_least(service, resyncs_before + 1), 30, "the resync after the restart")

    assert "PJSIP/acme-1003" in members(settings, "acme-support")
    assert "acme-1003" in asterisk.rx(settings, "pjsip show endpoints")
    health = await service.health()
    assert health["ami"]["ok"] and health["database"]["ok"]


async def _logins_at_least(service, n: int) -> bool:
    return service.ami.logins >= n and service.ami.connected


async def _resyncs_at_least(service, n: int) -> bool:
    return service.resyncs >= n


async def _not_connected(service) -> bool:
    return not service.ami.connected
