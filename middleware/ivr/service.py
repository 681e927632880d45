"""The IVR's application service, the one module of this feature that touches FastAGI and SQL.

The ``ivr`` FastAGI route runs the DID's flow through the engine, carries out each action over AGI,
stores what was learned and hands the call to the dialplan (queue, voicemail, transfer or hang-up).
Flow files are stored here too, after the tenant's queues and trunks are checked.

Also publishes the screen pop when an agent connects (AMI AgentConnect), and runs the post-call
survey (the ``csat`` route)."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import time
from datetime import datetime
from typing import Any

import structlog
from psycopg import AsyncConnection

from middleware import constants as cc
from middleware.agi.session import AgiHangup, AgiSession
from middleware.announcements.service import say_wait
from middleware.callbacks import rules as callback_rules
from middleware.callbacks import service as callbacks
from middleware.clock import Clock
from middleware.config_cache import ConfigCache
from middleware.dialing.policy import DialingPolicy, NumberRefused, judge
from middleware.dialing.service import DialingGate
from middleware.directory import DidRow, QueueRow
from middleware.event_stream import EventStream
from middleware.health import DatabaseHealth
from middleware.ivr import engine
from middleware.ivr.facts import IvrFacts, call_view, channel_variables, facts_of, screen_pop
from middleware.ivr.flow import Flow, InvalidFlow, Problem, PromptExists, queues, transfer_numbers, trunks
from middleware.ivr.library import read_document
from middleware.ivr.validation import parse_flow
from middleware.pbx_events import AmiEvent
from middleware.routing.service import QueueState
from middleware.routing.skills import WidenStep, initial_max_penalty
from middleware.routing.wait_estimate import estimate_wait
from middleware.store import calls, customers, flows, tenants
from middleware.store.database import DatabaseUnavailable, Pool
from middleware.trunks.routes import NoRoute, dial_string
from middleware.trunks.service import OutboundPlanner, TrunkMonitor

log = structlog.get_logger(__name__)


class IvrService:
    EVENTS = ("AgentConnect",)

    # A caller must not wait in silence on a database that does not answer: past this, the dialplan's
    # fallback queue takes the call.
    DB_WAIT_S = 0.8
    RECENT_S = 900.0  # a routed call not connected within this is read back from the database

    def __init__(self, pool: Pool, clock: Clock, events: EventStream,
                 queue_state: QueueState | None = None, gate: DialingGate | None = None,
                 db: DatabaseHealth | None = None, config: ConfigCache | None = None,
                 planner: OutboundPlanner | None = None) -> None:
        self._pool = pool
        self._planner = planner or OutboundPlanner(TrunkMonitor(pool, None))
        # DIDs and queues as the first AGI step reads them, until they change (a cache that is not
        # watching keeps nothing: every call reads them).
        self._config = config or ConfigCache()
        self._db = db
        self._clock = clock
        self._events = events
        self._queue_state = queue_state
        self._gate = gate or DialingGate()
        self._flows: dict[tuple[str, str], tuple[datetime, Flow]] = {}
        # linkedid -> (stored at, the call as the screen pop reads it): calls routed by this node's IVR,
        # until their agent connects (or RECENT_S passes); the others are read from the database.
        self._recent: dict[str, tuple[float, dict[str, Any]]] = {}

    def _connection(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A pooled connection within DB_WAIT_S (at once DatabaseUnavailable while PostgreSQL is known down)."""
        if self._db is not None:
            return self._db.connection(self.DB_WAIT_S)
        return self._pool.connection(timeout=self.DB_WAIT_S)

    async def _flow(self, tenant: str, name: str, loaded_at: datetime | None) -> Flow:
        """The compiled flow; read and compiled again only when its stored version changed."""
        if loaded_at is None:
            raise InvalidFlow([])
        cached = self._flows.get((tenant, name))
        if cached is not None and cached[0] == loaded_at:
            return cached[1]
        async with self._connection() as conn:
            row = await flows.get_flow(conn, tenant, name)
        if row is None:
            raise InvalidFlow([])
        flow = parse_flow(row.definition, default_timezone=row.tenant_timezone)  # prompts checked at load time
        self._flows[(tenant, name)] = (row.loaded_at, flow)
        return flow

    async def handle(self, session: AgiSession) -> None:
        try:
            await self._handle(session)
        except DatabaseUnavailable as exc:  # the fallback queue answers at once
            log.error("ivr.database_unavailable", detail=str(exc))
            await session.set_variable(cc.CC_AGI_ERROR, "database unavailable")

    async def _handle(self, session: AgiSession) -> None:
        request = session.request
        did = request.query.get("did") or (await session.get_variable(cc.CC_DID)) or ""
        linkedid = request.query.get("linkedid") or request.uniqueid
        entry = await self._config.get(("did", did), lambda: self._did_entry(did))
        if entry is None:
            log.warning("ivr.unknown_did", did=did)
            await session.set_variable(cc.CC_AGI_ERROR, f"unknown DID {did}")
            return
        did_row, flow_loaded_at = entry
        if did_row.flow is None:
            await self._announce_wait(session, linkedid, did_row.fallback_queue)
            await self._route(session, cc.ROUTE_QUEUE, await self._queue_variables(did_row.fallback_queue, None))
            return
        try:
            flow = await self._flow(did_row.tenant_code, did_row.flow, flow_loaded_at)
        except InvalidFlow as exc:
            log.error("ivr.flow_unusable", flow=did_row.flow, detail=str(exc) or "not loaded")
            await session.set_variable(cc.CC_AGI_ERROR, f"flow {did_row.flow} unusable")
            return
        await self._events.publish("call_arrived", {"tenant": did_row.tenant_code, "linkedid": linkedid, "did": did,
                                                    "caller": request.caller_id, "flow": did_row.flow})
        ctx = engine.CallContext(tenant=did_row.tenant_code, did=did, caller_id=request.caller_id,
                                 language=request.env.get("agi_language", "en"))
        state: engine.FlowState | None = None
        outcome = "caller hung up"
        stored = False
        try:
            state, action = engine.begin(flow, ctx, self._clock())
            while not engine.is_terminal(action):
                event = await self._perform(session, did_row.tenant_id, linkedid, action)
                state, action = engine.advance(flow, ctx, state, event, self._clock())
            outcome = describe(action)
            facts = facts_of(flow.name, state, outcome)
            wait = await self._estimate(action.queue) if isinstance(action, engine.ToQueue) else None
            # Stored before the call moves on, so the screen pop finds it when an agent answers.
            await self._store(linkedid, did_row.tenant_id, did, request.caller_id, facts, wait)
            stored = True
            self._remember(linkedid, call_view(linkedid, did_row.tenant_code, did, request.caller_id, facts))
            for name, value in channel_variables(facts).items():
                await session.set_variable(cc.inherited(name), value)  # every leg inherits it
            if isinstance(action, engine.ToQueue) and wait is not None:
                await self._say_wait(session, action.queue, *wait)
            await self._finish(session, action, did_row.tenant_id)
            log.info("ivr.routed", flow=flow.name, outcome=outcome, digits=state.digits,
                     path=">".join(s.node for s in state.path))
        except engine.FlowLoop as exc:
            outcome = "flow loop: fallback queue"
            log.error("ivr.flow_loop", flow=flow.name, detail=str(exc))
            await session.set_variable(cc.CC_AGI_ERROR, "flow loop")
        except AgiHangup:
            log.info("ivr.caller_left", flow=flow.name, node=state.node if state else flow.start)
            raise
        finally:
            if state is not None and not stored:
                await self._store(linkedid, did_row.tenant_id, did, request.caller_id,
                                  facts_of(flow.name, state, outcome))

    async def _perform(self, session: AgiSession, tenant_id: int, linkedid: str,
                       action: engine.Action) -> engine.Event:
        """Carry out one non-terminal action and return what happened, as an engine event."""
        if isinstance(action, engine.Play):
            for prompt in action.prompts:
                await session.stream_file(prompt)
            return engine.PlayDone()
        if isinstance(action, engine.Ask):
            return await ask(session, action)
        if isinstance(action, engine.Lookup):
            async with self._connection() as conn:
                if action.by == "caller_id":
                    customer = await customers.find_by_phone(conn, tenant_id, action.value)
                else:
                    customer = await customers.find_by_account(conn, tenant_id, action.value)
            return engine.LookupResult(customer)
        if isinstance(action, engine.SetLanguage):
            await session.set_variable("CHANNEL(language)", action.language)
            return engine.Done()
        if isinstance(action, engine.RequestCallback):
            async with self._connection() as conn:
                stored = await callbacks.request(conn, self._gate, tenant_id, linkedid, action.number, action.queue,
                                                 self._clock())
            if stored is None:
                for prompt in callback_rules.REFUSED_PROMPTS:  # the caller hears why, rather than wait for nothing
                    await session.stream_file(prompt)
                return engine.Done()
            callback_id, destination = stored
            log.info("ivr.callback_requested", queue=action.queue, number=destination.e164, callback=callback_id)
            for prompt in action.prompts:
                await session.stream_file(prompt)
            return engine.Done()
        raise engine.UnexpectedInput(f"no action handler for {type(action).__name__}")

    async def _finish(self, session: AgiSession, action: engine.Action, tenant_id: int) -> None:
        if isinstance(action, engine.ToQueue):
            await self._route(session, cc.ROUTE_QUEUE, await self._queue_variables(action.queue, action.priority))
        elif isinstance(action, engine.ToVoicemail):
            await self._route(session, cc.ROUTE_VOICEMAIL, {cc.CC_MAILBOX: action.mailbox})
        elif isinstance(action, engine.ToTransfer):
            if action.number is not None:  # to a trunk: the tenant's dialing policy decides
                async with self._connection() as conn:
                    try:
                        destination = await self._gate.check(conn, tenant_id, action.number, "transfer")
                    except NumberRefused as exc:  # (logged and counted by the gate) the fallback queue takes it
                        await session.set_variable(cc.CC_AGI_ERROR, f"transfer refused: {exc.reason}")
                        return
                    try:
                        plan = await self._planner.plan(conn, tenant_id, destination.e164, action.trunk)
                    except NoRoute as exc:  # the fallback queue takes it
                        log.warning("ivr.transfer_no_way_out", number=destination.e164, detail=str(exc))
                        await session.set_variable(cc.CC_AGI_ERROR, f"transfer refused: {exc}")
                        return
                await self._route(session, cc.ROUTE_TRANSFER, {cc.CC_TRANSFER_DIAL: dial_string(plan.legs),
                                                               cc.CC_TRANSFER_CID: plan.caller_id or ""})
                return
            await self._route(session, cc.ROUTE_TRANSFER, {cc.CC_TRANSFER_DIAL: transfer_dial(action),
                                                           cc.CC_TRANSFER_CID: ""})
        else:
            assert isinstance(action, engine.Hangup)
            for prompt in action.prompts:
                await session.stream_file(prompt)
            await self._route(session, cc.ROUTE_HANGUP, {})

    async def _estimate(self, queue: str) -> tuple[float, int] | None:
        """The caller's expected wait (seconds, inf when nobody serves the queue) and position, if known."""
        if self._queue_state is None:
            return None
        snapshot = await self._queue_state.snapshot(queue)
        if snapshot is None:
            return None
        return estimate_wait(snapshot), snapshot.position

    async def _say_wait(self, session: AgiSession, queue: str, estimate: float, position: int) -> None:
        log.info("ivr.wait_estimate", queue=queue, position=position, estimate_s=estimate)
        if estimate == 0:
            return  # an agent is free: connect now rather than talk about waiting
        await say_wait(session, position, estimate)

    async def _announce_wait(self, session: AgiSession, linkedid: str, queue: str) -> None:
        """A DID without a flow: tell the caller their position and expected wait; keep the estimate to
        compare with the wait."""
        wait = await self._estimate(queue)
        if wait is None:
            return
        estimate, position = wait
        async with self._connection() as conn:
            await calls.record_estimate(conn, linkedid, _stored_estimate(estimate), position)
        await self._say_wait(session, queue, estimate, position)

    async def _queue_variables(self, queue: str, priority: int | None) -> dict[str, str]:
        variables = {cc.CC_QUEUE: queue}
        if priority is not None:
            variables[cc.QUEUE_PRIO] = str(priority)
        row = await self._config.get(("queue", queue), lambda: self._queue(queue))
        if row is not None and row.widen_steps:
            first = initial_max_penalty([WidenStep(s, p) for s, p in row.widen_steps])
            if first is not None:
                variables[cc.QUEUE_MAX_PENALTY] = str(first)  # the rule's first step, from the first ring
        return variables

    async def _did_entry(self, did: str) -> tuple[DidRow, datetime | None] | None:
        async with self._connection() as conn:
            return await flows.did_entry(conn, did)

    async def _queue(self, name: str) -> QueueRow | None:
        async with self._connection() as conn:
            return await tenants.get_queue(conn, name)

    async def _route(self, session: AgiSession, route: str, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            await session.set_variable(name, value)
        await session.set_variable(cc.CC_ROUTE, route)

    async def _store(self, linkedid: str, tenant_id: int, did: str, caller: str, facts: IvrFacts,
                     wait: tuple[float, int] | None = None) -> None:
        estimate = (_stored_estimate(wait[0]), wait[1]) if wait is not None else None
        async with self._connection() as conn:
            await calls.record_ivr(conn, linkedid=linkedid, tenant_id=tenant_id, did=did, caller_number=caller,
                                   facts=facts, estimate=estimate)

    async def handle_csat(self, session: AgiSession) -> None:
        """The ``csat`` route: after the agent hung up, the tenant's question and one digit, 1-5."""
        linkedid = session.request.query.get("linkedid") or session.request.uniqueid
        prompt = session.request.query.get("prompt", "")
        if not re.fullmatch(r"[A-Za-z0-9_/-]{1,80}", prompt):
            log.warning("ivr.csat_bad_prompt", prompt=prompt)
            return
        score = None
        for _ in range(2):  # one retry after an invalid key or silence
            digits, _timed_out = await session.get_data(prompt, 5000, 1)
            score = survey_score(digits)
            if score is not None:
                break
        if score is None:
            log.info("ivr.csat_no_answer", linkedid=linkedid)
            return
        async with self._connection() as conn:
            await calls.record_csat(conn, linkedid, score)
        log.info("ivr.csat", linkedid=linkedid, score=score)
        await session.stream_file("auth-thankyou")

    async def on_event(self, event: AmiEvent) -> None:
        await self.on_agent_connect(event)

    def _remember(self, linkedid: str, call: dict[str, Any]) -> None:
        now = time.monotonic()
        recent = self._recent
        for oldest, (at, _) in list(itertools.islice(recent.items(), 2)):  # two out for each one in
            if now - at < self.RECENT_S:
                break
            del recent[oldest]
        recent.pop(linkedid, None)  # (re-inserted last: the order stays the order of storing)
        recent[linkedid] = (now, call)

    async def on_agent_connect(self, event: AmiEvent) -> None:
        """Publish the screen pop for the agent who just got the call: from what this node's IVR stored,
        or (a second agent, a call another node answered) from the call's row."""
        held = self._recent.pop(event.linkedid, None)
        if held is not None:
            call: dict[str, Any] | None = held[1]
        else:
            async with self._connection() as conn:
                call = await calls.get_call(conn, event.linkedid)
        if call is None:
            call = {"linkedid": event.linkedid}
        payload = screen_pop(call, agent=event.get("membername"), queue=event.get("queue"))
        await self._events.publish("screen_pop", payload, at=event.at)
        log.info("ivr.screen_pop", linkedid=event.linkedid, agent=payload["agent"],
                 customer=(payload["customer"] or {}).get("name"))


DTMF = "0123456789*#"


def survey_score(digits: str) -> int | None:
    """One key, 1 to 5; anything else is no answer."""
    return int(digits) if len(digits) == 1 and digits in "12345" else None


async def ask(session: AgiSession, action: engine.Ask) -> engine.Digits:
    """Play the prompts and collect digits. GET DATA takes one prompt file, so earlier prompts are
    streamed with every digit as an escape: a caller who knows the menu can press during any of them."""
    first = ""
    for prompt in action.prompts[:-1]:
        first = await session.stream_file(prompt, DTMF)
        if first:
            break
    if not first:
        digits, timed_out = await session.get_data(action.prompts[-1], action.timeout_ms, action.max_digits)
        return engine.Digits(digits, timed_out)
    if first == "#":
        return engine.Digits("", False)
    if action.max_digits == 1:
        return engine.Digits(first, False)
    rest, timed_out = await session.get_data("silence/1", action.timeout_ms, action.max_digits - 1)
    return engine.Digits(first + rest, timed_out and not rest)


async def load(pool: Pool, tenant: str, text: str,
               prompt_exists: PromptExists | None) -> tuple[Flow, int]:
    """Validate and store one flow for a tenant; return it and its stored version."""
    document = read_document(text)
    flow = parse_flow(document, prompt_exists)
    async with pool.connection() as conn, conn.transaction():
        tenant_id = await tenants.tenant_id(conn, tenant)
        if tenant_id is None:
            raise InvalidFlow([Problem("(tenant)", f"no tenant {tenant!r}")])
        problems = []
        known_queues = await tenants.tenant_queues(conn, tenant_id)
        for queue in queues(flow):
            if queue not in known_queues:
                problems.append(Problem("nodes", f"queue {queue!r} is not one of tenant {tenant}'s queues"))
        allowed = await flows.allowed_trunks(conn, tenant_id)
        for trunk in trunks(flow):
            if trunk not in allowed:
                problems.append(Problem("nodes", f"trunk {trunk!r} is not allowed for tenant {tenant}"))
        policy = await tenants.dialing_policy(conn, tenant_id)
        for node, number in transfer_numbers(flow):
            try:
                judge(number, policy or DialingPolicy())
            except NumberRefused as exc:
                problems.append(Problem(f"nodes.{node}.number", f"tenant {tenant}'s dialing policy refuses it: {exc}"))
        if problems:
            raise InvalidFlow(problems)
        version = await flows.save_flow(conn, tenant_id, flow.name, flow.description, document, text)
    return flow, version


def transfer_dial(action: engine.ToTransfer) -> str:
    if action.extension:
        return f"PJSIP/{action.extension}"
    return f"PJSIP/{action.number}@{action.trunk}"


def describe(action: engine.Action) -> str:
    if isinstance(action, engine.ToQueue):
        return f"queue {action.queue}"
    if isinstance(action, engine.ToVoicemail):
        return f"voicemail {action.mailbox}"
    if isinstance(action, engine.ToTransfer):
        return f"transfer {transfer_dial(action)}"
    return "hangup"


def _stored_estimate(estimate: float) -> float | None:
    """The estimate as the calls table keeps it: None for "nobody serves the queue" (inf)."""
    return None if math.isinf(estimate) else round(estimate, 3)
