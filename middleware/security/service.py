"""The SIP guard: the failed-authentication counter (auth_failures.py) fed by AMI security events,
its blocks stored in PostgreSQL and applied through res_pjsip_acl.

A block is stored (sip_blocks) and the ACL file regenerated and reloaded through provisioning, so a
restarted middleware or Asterisk keeps blocking; a periodic sweep lifts blocks that have run out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from middleware.ami.client import AmiActionFailed, AmiUnavailable
from middleware.clock import Clock, system_clock
from middleware.pbx_events import AmiEvent
from middleware.security.auth_failures import FAILURE_EVENTS, FailureCounter, Policy, remote_address
from middleware.store import sip_blocks
from middleware.store.database import DatabaseUnavailable, Pool

log = structlog.get_logger(__name__)
Reprovision = Callable[[], Awaitable[object]]


class SipGuard:
    EVENTS = tuple(sorted(FAILURE_EVENTS))

    def __init__(self, pool: Pool, policy: Policy, reprovision: Reprovision,
                 clock: Clock = system_clock) -> None:
        self._pool = pool
        self._reprovision = reprovision
        self._clock = clock
        self.counter = FailureCounter(policy)
        self.failures_seen = 0
        self.blocks = 0

    async def on_event(self, event: AmiEvent) -> None:
        if event.name not in FAILURE_EVENTS:
            return
        address = remote_address(event.get("remoteaddress"))
        if address is None:
            return
        self.failures_seen += 1
        account = event.get("accountid")
        log.info("security.sip_auth_failed", address=address, account=account, reason=event.name)
        block = self.counter.record(address, account, self._clock(), unknown_account=event.name == "InvalidAccountID")
        if block is None:
            return
        async with self._pool.connection() as conn:
            await sip_blocks.add(conn, block, self._clock())
        self.blocks += 1
        log.warning("security.sip_blocked", address=address, failures=block.failures, until=block.until.isoformat(),
                    account=account)
        await self._apply()

    async def _apply(self) -> None:
        try:
            await self._reprovision()
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.error("security.acl_not_reloaded", detail=str(exc)[:200])  # the next resync writes it

    async def sweep(self) -> int:
        """Lift the blocks that have run out; how many."""
        now = self._clock()
        async with self._pool.connection() as conn:
            lifted = await sip_blocks.expire(conn, now)
        self.counter.forget_before(now - timedelta(seconds=self.counter.policy.window_s))
        if lifted:
            log.info("security.sip_blocks_lifted", count=lifted)
            await self._apply()
        return lifted

    async def run(self, interval_s: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except DatabaseUnavailable as exc:
                log.warning("security.sweep_failed", detail=str(exc)[:200])
