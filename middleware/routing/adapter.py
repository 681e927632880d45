"""Live queue state for the pure routing cores: wait estimates from Asterisk (callers waiting) and
PostgreSQL (agent states, handle times), and the overflow loop that adds and removes teams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import structlog

from middleware.agi.session import AgiSession
from middleware.ami import actions, queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.dialing.policy import NumberRefused
from middleware.dialing.service import DialingGate
from middleware.routing import announce
from middleware.routing.choose import place_in_queue
from middleware.routing.overflow import OverflowAction, decide
from middleware.routing.wait_estimate import QueueSnapshot, announcement, estimate_wait
from middleware.store import agents as agent_store
from middleware.store import calls, customers, flows, teams, tenants
from middleware.store.database import Pool
from middleware.supervisor import every

log = structlog.get_logger(__name__)
DEFAULT_AHT_S = 180.0
BUSY = frozenset({"ringing", "on_call", "wrap_up"})


class QueueState:
    def __init__(self, pool: Pool, ami: AmiClient) -> None:
        self._pool = pool
        self._ami = ami

    async def snapshot(self, queue: str) -> QueueSnapshot | None:
        """The state a caller about to join ``queue`` meets; None when Asterisk cannot be asked."""
        try:
            messages = await self._ami.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("routing.no_queue_status", queue=queue, detail=str(exc))
            return None
        waiting = sum(1 for m in messages if m.get("event") == "QueueEntry")
        return await self.snapshot_at(queue, waiting + 1)

    async def place_of(self, queue: str, joined_at: datetime) -> int | None:
        """The place a caller who first joined ``queue`` at ``joined_at`` holds among those waiting now
        (behind the earlier ones); None when Asterisk cannot be asked."""
        try:
            messages = await self._ami.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("routing.no_queue_status", queue=queue, detail=str(exc))
            return None
        now = time.time()
        joined = [now - float(m.get("wait", "0") or 0) for m in messages if m.get("event") == "QueueEntry"]
        return place_in_queue(joined_at.timestamp(), joined)

    async def snapshot_at(self, queue: str, position: int) -> QueueSnapshot:
        """The state a caller at ``position`` in ``queue`` meets."""
        async with self._pool.connection() as conn:
            members = [m for m in await agent_store.memberships(conn) if m.queue == queue and m.eligible]
            aht = await calls.average_handle_time(conn, queue)
        free = sum(1 for m in members if m.state.value == "available")
        busy = [0.0 for m in members if m.state.value in BUSY]
        return QueueSnapshot(position=position, free_agents=free, busy_elapsed_s=busy,
                             aht_s=aht if aht is not None else DEFAULT_AHT_S)


class Announcer:
    """Every few seconds: each caller due a position/wait announcement gets one whispered into their
    channel (ChanSpy w, from a Local channel whose other half plays it over FastAGI) while they stay
    in the queue: no place, ring or widening step is lost; the whisper is cut when an agent answers."""

    def __init__(self, pool: Pool, ami: AmiClient, state: QueueState,
                 clock: Callable[[], float]) -> None:
        self._pool = pool
        self._ami = ami
        self._state = state
        self._clock = clock
        self.joined_at: dict[str, float] = {}  # uniqueid -> when it joined its queue
        self.last_announced: dict[str, float] = {}
        self.playing: dict[str, str] = {}  # uniqueid -> queue, while its announcement plays
        self.announced = 0

    async def waiting(self, queue: str) -> list[announce.WaitingCaller]:
        messages = await self._ami.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        now = self._clock()
        out = []
        for m in messages:
            if m.get("event") != "QueueEntry":
                continue
            uid = m.get("uniqueid", "")
            wait = float(m.get("wait", "0") or 0)
            joined = self.joined_at.setdefault(uid, now - wait)
            out.append(announce.WaitingCaller(uid, m.get("channel", ""), int(m.get("position", "1") or 1), joined))
        return out

    async def tick(self) -> int:
        async with self._pool.connection() as conn:
            queues = [q for q in await tenants.list_queues(conn) if q.announce_every_s > 0]
        seen: set[str] = set()
        started = 0
        for q in queues:
            callers = await self.waiting(q.name)
            seen.update(c.uniqueid for c in callers)
            now = self._clock()
            for c in announce.due(callers, self.last_announced, q.announce_every_s, now):
                if c.uniqueid in self.playing or not announce.SAFE_UNIQUEID.match(c.uniqueid):
                    continue
                self.last_announced[c.uniqueid] = now
                self.playing[c.uniqueid] = q.name
                try:
                    await self._ami.action(actions.whisper(c.uniqueid, c.channel))
                except AmiActionFailed as exc:  # answered or gone meanwhile
                    self.playing.pop(c.uniqueid, None)
                    log.info("routing.announce_skipped", queue=q.name, channel=c.channel, detail=str(exc))
                    continue
                started += 1
        for uid in set(self.joined_at) - seen:  # answered or gone
            self.joined_at.pop(uid, None)
            self.last_announced.pop(uid, None)
        self.announced += started
        return started

    async def handle_agi(self, session: AgiSession) -> None:
        """The ``announce`` route, on the whispering channel: position and expected wait, fresh."""
        uid = session.request.query.get("caller", "")
        queue = self.playing.get(uid)
        if queue is None:
            log.warning("routing.announce_unknown_caller", caller=uid)
            return
        try:
            callers = await self.waiting(queue)
            me = next((c for c in callers if c.uniqueid == uid), None)
            if me is None:
                return  # answered meanwhile
            estimate = estimate_wait(await self._state.snapshot_at(queue, me.position))
            log.info("routing.announce", queue=queue, caller=uid, position=me.position, estimate_s=estimate)
            if estimate == 0:
                return  # an agent is free for them: silence rather than talk about waiting
            for kind, value in announcement(me.position, estimate):
                if uid not in self.playing:
                    return  # an agent answered: stop
                if kind == "number":
                    await session.command("SAY NUMBER", value, "")
                else:
                    await session.stream_file(str(value))
        finally:
            self.playing.pop(uid, None)

    async def stop(self, uniqueid: str) -> None:
        """An agent answered the caller (or the caller left): cut any announcement at once."""
        if self.playing.pop(uniqueid, None) is None:
            return
        try:
            await self._ami.action(actions.hangup_regex(announce.whisper_channel_pattern(uniqueid)))
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.info("routing.announce_stop_failed", caller=uniqueid, detail=str(exc))

    async def run(self, interval_s: float = 2.0) -> None:
        await every(interval_s, self.tick, "routing.announce_tick_failed")


class OverflowService:
    """Every few seconds: for each queue with an overflow rule, let its team join or leave."""

    def __init__(self, pool: Pool, ami: AmiClient, state: QueueState) -> None:
        self._pool = pool
        self._ami = ami
        self._state = state

    async def tick(self) -> list[tuple[str, OverflowAction]]:
        async with self._pool.connection() as conn:
            rules = await teams.overflow_rules(conn)
        changes = []
        for q in rules:
            snapshot = await self._state.snapshot(q.queue)
            if snapshot is None:
                continue  # Asterisk unreachable: change nothing blind
            waiting = snapshot.position - 1
            expected = estimate_wait(snapshot)
            action = decide(q.rule, q.active, expected, waiting)
            async with self._pool.connection() as conn:
                agents = await teams.team_agents(conn, q.rule.team, q.queue)
            helpers = [a for a in agents if not a.regular_member and a.state != "logged_out"]
            if action is OverflowAction.JOIN or (action is OverflowAction.STAY and q.active):
                for a in helpers:  # idempotent: also puts them back after an Asterisk restart
                    await self._add(q.queue, a)
            elif action is OverflowAction.LEAVE:
                for a in agents:
                    if not a.regular_member:
                        await self._remove(q.queue, a)
            if action is not OverflowAction.STAY:
                async with self._pool.connection() as conn:
                    await teams.log_overflow(conn, q.queue, q.rule.team, action.value,
                                             None if expected == float("inf") else round(expected, 1), waiting)
                log.info("routing.overflow", queue=q.queue, team=q.rule.team, action=action.value,
                         expected_wait_s=expected, callers_waiting=waiting)
                changes.append((q.queue, action))
        return changes

    async def _add(self, queue: str, agent: teams.TeamAgent) -> None:
        try:
            await self._ami.action(actions.queue_add(queue, agent.interface, agent.code,
                                                     paused=agent.state == "paused"))
        except AmiActionFailed as exc:
            if "already there" not in str(exc).lower():
                raise

    async def _remove(self, queue: str, agent: teams.TeamAgent) -> None:
        try:
            await self._ami.action(actions.queue_remove(queue, agent.interface))
        except AmiActionFailed as exc:
            if "not there" not in str(exc).lower():
                raise

    async def run(self, interval_s: float = 2.0) -> None:
        await every(interval_s, self.tick, "routing.overflow_tick_failed")


class CallbackDialer:
    """Places stored callbacks through the queue itself: the callback waits as a caller would have,
    at the place the caller left (ahead of everyone who joined after them), routed by the queue's
    strategy and skills; when an agent answers, the dialplan ([callback-out]) dials the customer
    through the tenant's trunk, so the agent is on the line first. Unanswered customers are retried
    (``MAX_ATTEMPTS``, ``RETRY_AFTER_S`` apart). The number is judged again by the tenant's dialing
    policy just before it is dialled (the policy may have changed since the request)."""

    MAX_ATTEMPTS = 3
    RETRY_AFTER_S = 60.0

    def __init__(self, pool: Pool, ami: AmiClient, gate: DialingGate | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._pool = pool
        self._ami = ami
        self._gate = gate or DialingGate()
        self._clock = clock
        self._dialing: set[int] = set()
        self._not_before: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settle_pending = False

    async def tick(self) -> int:
        if self._settle_pending:
            await self.settle_after_outage()
        async with self._pool.connection() as conn:
            pending = [c for c in await customers.pending_callbacks(conn)
                       if c.id not in self._dialing and self._not_before.get(c.id, 0.0) <= self._clock()]
        started = 0
        for cb in pending:
            async with self._pool.connection() as conn:
                trunks = await flows.allowed_trunks(conn, cb.tenant_id)
                queue = await tenants.get_queue(conn, cb.queue)
                record = await tenants.records_calls(conn, cb.tenant_id)
                try:
                    destination = await self._gate.check(conn, cb.tenant_id, cb.number, "callback")
                except NumberRefused as exc:
                    destination, refusal = None, str(exc)
            if not trunks or queue is None or destination is None:
                detail = ("the queue is gone" if queue is None else "tenant has no allowed trunk" if not trunks
                          else f"the dialing policy refuses it: {refusal}")
                log.error("callback.impossible", callback=cb.id, queue=cb.queue, detail=detail)
                async with self._pool.connection() as conn:
                    await customers.set_callback_status(conn, cb.id, "failed")
                continue
            position = await self._place_in(cb)
            self._dialing.add(cb.id)
            task = asyncio.create_task(self._place(cb, destination.e164, queue.tenant_code, sorted(trunks)[0],
                                                   position, queue.max_wait_s, record), name=f"callback-{cb.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _place_in(self, cb: customers.CallbackRow) -> int:
        """The callback's place: behind the callers still waiting who joined before the original call."""
        messages = await self._ami.action({"Action": "QueueStatus", "Queue": cb.queue}, as_list=True)
        now = self._clock()
        joined = [now - float(m.get("wait", "0") or 0) for m in messages if m.get("event") == "QueueEntry"]
        return place_in_queue(cb.joined_at.timestamp(), joined)

    async def _place(self, cb: customers.CallbackRow, number: str, tenant: str, trunk: str, position: int,
                     max_wait_s: int, record: bool) -> None:
        try:
            await self._originate(cb, number, tenant, trunk, position, max_wait_s, record)
        except Exception:  # its own task: nothing else would see it, and the callback must not stay 'dialing'
            log.exception("callback.place_failed", callback=cb.id)
            self._dialing.discard(cb.id)
            self._settle_pending = True  # its status is set right on the next tick

    async def _originate(self, cb: customers.CallbackRow, number: str, tenant: str, trunk: str, position: int,
                         max_wait_s: int, record: bool) -> None:
        log.info("callback.queued", callback=cb.id, queue=cb.queue, position=position, number=number)
        async with self._pool.connection() as conn:
            await customers.set_callback_status(conn, cb.id, "dialing", attempt=True)
        # "__": both halves of the Local channel and the customer's leg keep the tenant (transfer
        # context, recording directory).
        variables = ",".join([f"CC_CALLBACK_ID={cb.id}", f"CC_CALLBACK_NUMBER={number}",
                              f"CC_CALLBACK_TRUNK={trunk}", f"CC_QUEUE={cb.queue}", f"__CC_TENANT={tenant}",
                              f"CC_CALLBACK_POSITION={position}", f"CC_CALLBACK_CID={cb.did}",
                              f"CC_RECORD={int(record)}"])
        ok = False
        try:
            # Answered when an agent takes the queued callback (then [callback-out] runs), or failed
            # when the queue gave up on it.
            messages = await self._ami.action(
                {"Action": "Originate", "Channel": f"Local/{cb.id}@callback-queue/n", "Context": "callback-out",
                 "Exten": "s", "Priority": "1", "Async": "true", "Timeout": str((max_wait_s + 30) * 1000),
                 "CallerID": f"Callback <{number}>", "Variable": variables}, timeout=max_wait_s + 60)
            ok = not any(m.get("event") == "OriginateResponse" and m.get("response") == "Failure" for m in messages)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("callback.originate_failed", callback=cb.id, detail=str(exc))
        if not ok:  # no agent took it in time: try again later
            await self._finish(cb.id, talked=False)

    async def on_done(self, callback_id: int, dial_status: str) -> None:
        """UserEvent CCCallbackDone from [callback-done]: the callback call is over."""
        await self._finish(callback_id, talked=dial_status == "ANSWER")

    async def settle_after_outage(self) -> int:
        """Callbacks left 'dialing' whose call Asterisk no longer has (their end came while PostgreSQL was
        away, or their task died): retried or failed by the usual rule. AmiUnavailable leaves it for the
        next tick."""
        self._settle_pending = True
        live = [c.channel for c in await queries.active_channels(self._ami)]
        async with self._pool.connection() as conn:
            dialing = await customers.callbacks_in_status(conn, "dialing")
        placing = {t.get_name() for t in self._tasks if not t.done()}  # Originate sent, channel maybe not yet up
        stale = [i for i in dialing if f"callback-{i}" not in placing
                 and not any(ch.startswith(f"Local/{i}@callback-queue") for ch in live)]
        for callback_id in stale:
            await self._finish(callback_id, talked=False)
        self._settle_pending = False
        if stale:
            log.warning("callback.settled_after_outage", callbacks=len(stale))
        return len(stale)

    async def _finish(self, callback_id: int, talked: bool) -> None:
        self._dialing.discard(callback_id)
        async with self._pool.connection() as conn:
            status = await customers.callback_status(conn, callback_id)
            if status is not None and status[0] == "dialing":
                retry = not talked and status[1] < self.MAX_ATTEMPTS
                if retry:
                    self._not_before[callback_id] = self._clock() + self.RETRY_AFTER_S
                await customers.set_callback_status(conn, callback_id, "done" if talked else
                                                    ("pending" if retry else "failed"))
        log.info("callback.finished", callback=callback_id, talked=talked)

    async def run(self, interval_s: float = 1.0) -> None:
        try:
            await every(interval_s, self.tick, "callback.tick_failed")
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
