"""Callbacks, from the request to the customer on the line.

Requests: the IVR's "call me back" node (``request``) and key 1 pressed while waiting in a queue (the
``callback`` FastAGI route, ``handle_request``). Each is judged by the tenant's dialing policy and its
rate limits before it is stored; a refused caller hears why and, from a queue, goes back in at the place
they held.

Placing: a stored callback waits in the queue itself, at the place the caller left (ahead of everyone
who joined after them), routed by the queue's strategy and skills; when an agent answers, the dialplan
([callback-out]) dials the customer through the tenant's trunk, so the agent is on the line first.
Unanswered customers are retried (rules.MAX_ATTEMPTS, RETRY_AFTER_S apart). The number is judged again
just before it is dialled (the policy may have changed since the request).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from psycopg import AsyncConnection

from middleware import constants as cc
from middleware.agi.session import AgiSession
from middleware.ami import actions, queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.callbacks import rules
from middleware.clock import Clock, system_clock
from middleware.dialing.policy import Destination, NumberRefused
from middleware.dialing.service import DialingGate
from middleware.health import DatabaseHealth
from middleware.pbx_events import AmiEvent
from middleware.store import callbacks as store
from middleware.store import tenants
from middleware.store.database import Pool
from middleware.supervisor import every
from middleware.trunks.routes import NoRoute, TrunksFull, dial_string
from middleware.trunks.service import OutboundPlanner, Plan, TrunkMonitor

log = structlog.get_logger(__name__)
DONE_EVENT = "CCCallbackDone"  # UserEvent from [callback-done]: the callback call is over


async def request(conn: AsyncConnection, gate: DialingGate, tenant_id: int, linkedid: str, number: str, queue: str,
                  now: datetime, *, joined_at: datetime | None = None, did: str = "") -> tuple[int, Destination] | None:
    """Store a callback to ``number`` if the tenant's policy and rate limits allow it (None if not)."""
    try:
        destination = await gate.check_callback(conn, tenant_id, number, now)
    except NumberRefused:
        return None
    callback_id = await store.add_callback(conn, tenant_id, linkedid, destination.e164, queue, joined_at, did=did)
    return callback_id, destination


class CallbackService:
    EVENTS = ("UserEvent",)
    # A caller must not wait in silence on a database that does not answer: past this, the route fails
    # and the dialplan's fallback takes the call (as for the IVR).
    REQUEST_DB_WAIT_S = 0.8

    def __init__(self, pool: Pool, ami: AmiClient, gate: DialingGate | None = None,
                 clock: Clock = system_clock, db: DatabaseHealth | None = None,
                 planner: OutboundPlanner | None = None) -> None:
        self._pool = pool
        self._planner = planner or OutboundPlanner(TrunkMonitor(pool, None))  # the way out of each callback
        self._db = db
        self._ami = ami
        self._gate = gate or DialingGate()
        self._clock = clock
        self._dialing: set[int] = set()
        self._not_before: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settle_pending = False

    def _now(self) -> float:
        return self._clock().timestamp()

    async def _place_of(self, queue: str, joined_at: datetime) -> int:
        """The place of a caller who first joined ``queue`` at ``joined_at``: behind the callers still
        waiting who joined before them."""
        status = await queries.queue_status(self._ami, queue)
        now = self._now()
        return rules.place_in_queue(joined_at.timestamp(), [now - e.wait_s for e in status.waiting(queue)])

    # -- requests --

    async def handle_request(self, session: AgiSession) -> None:
        """The ``callback`` route: a caller in a queue pressed 1 to be called back instead of waiting.
        Stored (CC_CALLBACK_ID set, the dialplan hangs up) only for a number the tenant's dialing policy
        lets it call back, within its rate limits; otherwise the caller hears why and goes back into
        the queue at the place they held (CC_CALLBACK_REFUSED, CC_REQUEUE_POSITION)."""
        query = session.request.query
        queue = query.get("queue", "")
        linkedid = query.get("linkedid") or session.request.uniqueid
        number = session.request.caller_id
        joined = rules.joined_at_of(query.get("joined", ""))
        async with (self._db.connection(self.REQUEST_DB_WAIT_S) if self._db is not None
                    else self._pool.connection(timeout=self.REQUEST_DB_WAIT_S)) as conn:
            row = await tenants.get_queue(conn, queue)
            tenant_id = await tenants.tenant_id(conn, row.tenant_code) if row else None
            stored = None
            if tenant_id is not None:
                stored = await request(conn, self._gate, tenant_id, linkedid, number, queue, self._clock(),
                                       joined_at=joined, did=rules.did_of(query.get("did", "")))
        if stored is None:
            log.warning("callback.refused", queue=queue, number=number)
            position = None
            if joined is not None:
                try:
                    position = await self._place_of(queue, joined)
                except (AmiUnavailable, AmiActionFailed) as exc:
                    log.warning("routing.no_queue_status", queue=queue, detail=str(exc))
            await session.set_variable(cc.CC_CALLBACK_REFUSED, "1")
            if position is not None:
                await session.set_variable(cc.CC_REQUEUE_POSITION, str(position))
            for prompt in rules.REFUSED_PROMPTS:
                await session.stream_file(prompt)
            return
        callback_id, destination = stored
        await session.set_variable(cc.CC_CALLBACK_ID, str(callback_id))
        log.info("callback.requested", queue=queue, number=destination.e164, callback=callback_id)
        await session.stream_file("queue-thankyou")

    # -- placing --

    async def tick(self) -> int:
        if self._settle_pending:
            await self.settle_after_outage()
        async with self._pool.connection() as conn:
            pending = [c for c in await store.pending_callbacks(conn)
                       if c.id not in self._dialing and self._not_before.get(c.id, 0.0) <= self._now()]
        started = 0
        for cb in pending:
            async with self._pool.connection() as conn:
                queue = await tenants.get_queue(conn, cb.queue)
                record = await tenants.records_calls(conn, cb.tenant_id)
                destination: Destination | None
                plan: Plan | None = None
                refusal = ""
                try:
                    destination = await self._gate.check(conn, cb.tenant_id, cb.number, "callback")
                    plan = await self._planner.plan(conn, cb.tenant_id, destination.e164)
                except TrunksFull as exc:  # at their channel caps now: the next tick tries again
                    log.info("callback.trunks_full", callback=cb.id, detail=str(exc))
                    continue
                except NumberRefused as exc:
                    destination, refusal = None, f"the dialing policy refuses it: {exc}"
                except NoRoute as exc:
                    refusal = str(exc)
            if queue is None or destination is None or plan is None:
                detail = "the queue is gone" if queue is None else refusal
                log.error("callback.impossible", callback=cb.id, queue=cb.queue, detail=detail)
                async with self._pool.connection() as conn:
                    await store.set_callback_status(conn, cb.id, "failed")
                continue
            position = await self._place_of(cb.queue, cb.joined_at)
            self._dialing.add(cb.id)
            task = asyncio.create_task(self._place(cb, destination.e164, queue.tenant_code, plan,
                                                   position, queue.max_wait_s, record), name=rules.task_name(cb.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _place(self, cb: store.CallbackRow, number: str, tenant: str, plan: Plan, position: int,
                     max_wait_s: int, record: bool) -> None:
        try:
            await self._originate(cb, number, tenant, plan, position, max_wait_s, record)
        except Exception:  # its own task: nothing else would see it, and the callback must not stay 'dialing'
            log.exception("callback.place_failed", callback=cb.id)
            self._dialing.discard(cb.id)
            self._settle_pending = True  # its status is set right on the next tick

    async def _originate(self, cb: store.CallbackRow, number: str, tenant: str, plan: Plan, position: int,
                         max_wait_s: int, record: bool) -> None:
        log.info("callback.queued", callback=cb.id, queue=cb.queue, position=position, number=number)
        async with self._pool.connection() as conn:
            await store.set_callback_status(conn, cb.id, "dialing", attempt=True)
        # Inherited: both halves of the Local channel and the customer's leg keep the tenant (transfer
        # context, recording directory).
        variables = {cc.CC_CALLBACK_ID: cb.id, cc.CC_CALLBACK_NUMBER: number,
                     cc.CC_CALLBACK_DIAL: dial_string(plan.legs),
                     cc.CC_QUEUE: cb.queue, cc.inherited(cc.CC_TENANT): tenant, cc.CC_CALLBACK_POSITION: position,
                     cc.CC_CALLBACK_CID: cb.did, cc.CC_RECORD: int(record)}
        ok = False
        try:
            # Answered when an agent takes the queued callback (then [callback-out] runs), or failed
            # when the queue gave up on it.
            messages = await self._ami.action(
                actions.originate(rules.local_channel(cb.id), context="callback-out", timeout_s=max_wait_s + 30,
                                  caller_id=f"Callback <{number}>", variables=variables), timeout=max_wait_s + 60)
            ok = not any(m.get("event") == "OriginateResponse" and m.get("response") == "Failure" for m in messages)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("callback.originate_failed", callback=cb.id, detail=str(exc))
        if not ok:  # no agent took it in time: try again later
            await self._finish(cb.id, talked=False)

    async def on_event(self, event: AmiEvent) -> None:
        """UserEvent CCCallbackDone from [callback-done]: the callback call is over."""
        if event.get("userevent") != DONE_EVENT:
            return
        callback_id = event.get("callbackid")
        if callback_id.isdigit():
            await self.on_done(int(callback_id), event.get("dialstatus"))

    async def on_done(self, callback_id: int, dial_status: str) -> None:
        await self._finish(callback_id, talked=dial_status == "ANSWER")

    async def settle_after_outage(self) -> int:
        """Callbacks left 'dialing' whose call Asterisk no longer has (their end came while PostgreSQL was
        away, or their task died): retried or failed by the usual rule. AmiUnavailable leaves it for the
        next tick."""
        self._settle_pending = True
        live = [c.channel for c in await queries.active_channels(self._ami)]
        async with self._pool.connection() as conn:
            dialing = await store.callbacks_in_status(conn, "dialing")
        placing = {t.get_name() for t in self._tasks if not t.done()}  # Originate sent, channel maybe not yet up
        stale = rules.lost(dialing, placing, live)
        for callback_id in stale:
            await self._finish(callback_id, talked=False)
        self._settle_pending = False
        if stale:
            log.warning("callback.settled_after_outage", callbacks=len(stale))
        return len(stale)

    async def _finish(self, callback_id: int, talked: bool) -> None:
        self._dialing.discard(callback_id)
        async with self._pool.connection() as conn:
            status = await store.callback_status(conn, callback_id)
            if status is not None and status[0] == "dialing":
                new = rules.status_after_call(talked, status[1])
                if new == "pending":
                    self._not_before[callback_id] = self._now() + rules.RETRY_AFTER_S
                await store.set_callback_status(conn, callback_id, new)
        log.info("callback.finished", callback=callback_id, talked=talked)

    async def run(self, interval_s: float = 1.0) -> None:
        try:
            await every(interval_s, self.tick, "callback.tick_failed")
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
