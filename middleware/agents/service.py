"""Agent sessions: log in, log out, pause and unpause, in PostgreSQL and in Asterisk's queues.

PostgreSQL holds what should be; ``resync`` makes Asterisk match it after any (re)connect, so no
agent is left in a queue it logged out of, or missing from one it is logged into.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from middleware import constants as cc
from middleware.agents import tracking
from middleware.agents.state import AgentEvent, AgentState, InvalidTransition, next_state
from middleware.agents.supervision import SpyMode, chanspy_options, spy_target
from middleware.agi.session import AgiSession
from middleware.ami import actions, members, queries
from middleware.ami.client import AmiActionFailed, AmiClient
from middleware.clock import Clock, system_clock
from middleware.errors import Invalid
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent, endpoint_of_channel
from middleware.store import agents as agent_store
from middleware.store.agents import AgentRow
from middleware.store.database import Pool
from middleware.supervisor import every

log = structlog.get_logger(__name__)


class AgentError(Invalid):
    """An agent request that cannot be carried out (unknown agent, no phone, wrong state)."""


# What the agent hears after a feature code.
PROMPTS = {
    AgentEvent.LOGIN: "agent-loginok",
    AgentEvent.LOGOUT: "agent-loggedoff",
    AgentEvent.PAUSE: "beep",
    AgentEvent.UNPAUSE: "beep",
}


SESSION_MODES = ("ring", "persistent")


class AgentService:
    # The AMI events that move agents: app_queue's, per member, and app_agent_pool's persistent sessions.
    QUEUE_EVENTS = ("AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "QueueMemberStatus")
    EVENTS = (*QUEUE_EVENTS, "AgentLogin", "AgentLogoff")

    def __init__(self, pool: Pool, ami: AmiClient, events: EventStream | None = None,
                 clock: Clock = system_clock) -> None:
        self._pool = pool
        self._ami = ami
        self._events = events
        self._clock = clock
        # Agents this service last moved into ringing (by AgentCalled, or by a reconcile): the only
        # ones an idle-device QueueMemberStatus can move, so the others' cost no round trip. Only this
        # node's queue events ring an agent through its Asterisk; after a restart, reconcile rebuilds it.
        self._ringing: set[str] = set()

    async def on_event(self, event: AmiEvent) -> None:
        if event.name == "AgentLogin":
            await self.on_agent_login(event)
        elif event.name == "AgentLogoff":
            await self.on_agent_logoff(event)
        else:
            await self.on_queue_event(event)

    async def _published(self, agent: AgentRow, new: AgentState, reason: str) -> None:
        if self._events is not None:
            await self._events.publish("agent_state", {"tenant": agent.tenant_code, "agent": agent.code,
                                                       "state": new.value, "reason": reason})

    async def _agent(self, code: str) -> AgentRow:
        async with self._pool.connection() as conn:
            agent = await agent_store.get_agent(conn, code)
        if agent is None:
            raise AgentError(f"no agent {code!r}")
        if agent.endpoint is None:
            raise AgentError(f"agent {code} has no phone: `callcenter phone add --agent {code}` first")
        return agent

    async def apply(self, code: str, event: AgentEvent, reason: str = "") -> AgentState:
        """Move agent ``code`` by a session event and make Asterisk's queues follow."""
        agent = await self._agent(code)
        try:
            new = next_state(agent.state, event)
        except InvalidTransition as exc:
            raise AgentError(f"agent {code}: {exc}") from exc
        async with self._pool.connection() as conn:
            member_rows = await agent_store.memberships(conn, code)
        interface = agent.interface
        if event is AgentEvent.LOGIN and agent.session_mode == "persistent":
            pass  # members are added on app_agent_pool's AgentLogin, once the line is really held
        elif event is AgentEvent.LOGIN:
            for m in member_rows:
                if m.eligible:
                    await self._add(m.queue, interface, code, m.penalty, paused=False, reason="")
        elif event is AgentEvent.LOGOUT:
            for m in member_rows:
                await self._remove(m.queue, interface)
        elif event in (AgentEvent.PAUSE, AgentEvent.UNPAUSE):
            await self._ami.action(actions.queue_pause(interface, event is AgentEvent.PAUSE, reason))
        async with self._pool.connection() as conn:
            written = await agent_store.set_state(conn, agent.id, new, reason, expected=agent.state)
            now = None if written else await agent_store.get_agent(conn, code)
        if now is not None:
            # Asterisk moved the agent meanwhile (AgentConnect while we paused): the state it reported
            # stands; a pause or unpause sent to the queues is taken back, and the caller is told.
            if event in (AgentEvent.PAUSE, AgentEvent.UNPAUSE):
                await self._ami.action(actions.queue_pause(interface, event is AgentEvent.UNPAUSE, ""))
            log.warning("agent.state_conflict", agent=code, action=event.value, was=agent.state.value,
                        now=now.state.value)
            raise AgentError(f"agent {code} became {now.state.value} meanwhile: {event.value} not applied")
        self._note_ringing(code, new)
        log.info("agent.state", agent=code, action=event.value, state=new.value, reason=reason)
        await self._published(agent, new, reason)
        return new

    async def _add(self, queue: str, interface: str, code: str, penalty: int, *, paused: bool,
                   reason: str) -> None:
        await members.ensure_member(self._ami, queue, interface, code, penalty=penalty, paused=paused, reason=reason)

    async def _remove(self, queue: str, interface: str) -> None:
        await members.ensure_removed(self._ami, queue, interface)

    async def resync(self) -> int:
        """Make every queue's membership in Asterisk match PostgreSQL; return the members added."""
        async with self._pool.connection() as conn:
            rows = await agent_store.memberships(conn)
        added = failed = 0
        for m in rows:
            interface = m.interface
            try:
                if m.state is AgentState.LOGGED_OUT or not m.eligible:
                    await self._remove(m.queue, interface)
                    continue
                await self._add(m.queue, interface, m.agent_code, m.penalty,
                                paused=m.state is AgentState.PAUSED, reason=m.state_reason)
                added += 1
            except AmiActionFailed as exc:
                # One bad row (a queue Asterisk does not know yet) must not stop the others.
                failed += 1
                log.error("agent.resync_member_failed", agent=m.agent_code, queue=m.queue, detail=str(exc))
        log.info("agent.resync", members=added, memberships=len(rows), failed=failed)
        return added

    # -- the state Asterisk's queues put agents in --

    async def _move(self, agent: AgentRow, new: AgentState, reason: str,
                    wrap_up_until: datetime | None = None) -> bool:
        """Write what Asterisk's queues say, unless the agent changed since ``agent`` was read."""
        async with self._pool.connection() as conn:
            written = await agent_store.set_state(conn, agent.id, new, reason, wrap_up_until, expected=agent.state)
        if not written:
            return False
        self._note_ringing(agent.code, new)
        log.info("agent.state", agent=agent.code, state=new.value, reason=reason)
        await self._published(agent, new, reason)
        return True

    async def on_queue_event(self, event: AmiEvent) -> None:
        """Agent*/QueueMemberStatus events move the agent named by MemberName. What the event can do
        is worked out first (``tracking.moves``): most member-status events move nobody and cost no
        round trip; the others are one compare-and-set statement on the agent's current state."""
        code = event.get("membername")
        if not code:
            return
        moves = tracking.moves(event.name, event.get("status"))
        if not moves:
            return
        if event.name == "QueueMemberStatus" and code not in self._ringing:
            return  # it only ends a ring, and this node rang nobody by that name: no round trip
        async with self._pool.connection() as conn:
            moved = await agent_store.follow(conn, code, moves, event.name, event.at, event.get("queue"))
        if moved is None:
            return
        await self._moved(moved, event.name)

    async def _moved(self, moved: agent_store.Moved, reason: str) -> None:
        self._note_ringing(moved.code, moved.state)
        log.info("agent.state", agent=moved.code, state=moved.state.value, reason=reason)
        if self._events is not None:
            await self._events.publish("agent_state", {"tenant": moved.tenant_code, "agent": moved.code,
                                                       "state": moved.state.value, "reason": reason})

    def _note_ringing(self, code: str, state: AgentState) -> None:
        if state is AgentState.RINGING:
            self._ringing.add(code)
        else:
            self._ringing.discard(code)

    async def expire_wrap_ups(self, now: datetime) -> int:
        """Make available every agent whose wrap-up is over (one statement for all of them)."""
        async with self._pool.connection() as conn:
            done = await agent_store.end_wrap_ups(conn, now, next_state(AgentState.WRAP_UP, AgentEvent.WRAP_UP_DONE),
                                                  "wrap-up over")
        for moved in done:
            await self._moved(moved, "wrap-up over")
        return len(done)

    async def run_wrap_up_clock(self, interval_s: float = 0.5) -> None:
        await every(interval_s, lambda: self.expire_wrap_ups(self._clock()), "agent.wrap_up_clock_failed")

    async def reconcile(self, now: datetime) -> int:
        """Make every logged-in agent's state match what Asterisk's queues show; return the changes."""
        status = await queries.queue_status(self._ami, timeout=10)
        by_member: dict[str, list[tracking.MemberStatus]] = {}
        for m in status.members:
            by_member.setdefault(m.name, []).append(tracking.MemberStatus(m.queue, m.name, m.status, m.paused,
                                                                          m.in_call))
        async with self._pool.connection() as conn:
            agents = await agent_store.list_agents(conn)
        changed = 0
        for agent in agents:
            for _ in range(3):  # an event may move the agent between our read and write: read again
                real = tracking.reconcile(agent.state, by_member.get(agent.code, []), agent.wrap_up_until, now)
                if real is agent.state:
                    self._note_ringing(agent.code, real)  # (a ring that outlived a restart ends by its event)
                    break
                if await self._move(agent, real, f"reconciled (was {agent.state.value})", agent.wrap_up_until):
                    changed += 1
                    break
                async with self._pool.connection() as conn:
                    fresh = await agent_store.get_agent(conn, agent.code)
                if fresh is None:
                    break
                agent = fresh
        log.info("agent.reconciled", agents=len(agents), changed=changed)
        return changed

    async def supervise(self, code: str, supervisor_endpoint: str, mode: SpyMode) -> None:
        """Ring the supervisor's phone; when answered, ChanSpy on the agent's call in the chosen mode."""
        agent = await self._agent(code)
        if agent.state is not AgentState.ON_CALL:
            raise AgentError(f"agent {code} is {agent.state.value}, not on a call")
        async with self._pool.connection() as conn:
            phones = {p.endpoint: p for p in await agent_store.list_phones(conn)}
        supervisor = phones.get(supervisor_endpoint)
        if supervisor is None or supervisor.tenant_code != agent.tenant_code:
            raise AgentError(f"phone {supervisor_endpoint} is not one of tenant {agent.tenant_code}'s phones")
        variables = {cc.CC_SPY_TARGET: spy_target(agent.endpoint or ""), cc.CC_SPY_OPTIONS: chanspy_options(mode)}
        await self._ami.action(
            actions.originate(actions.pjsip_interface(supervisor_endpoint), context="supervise", timeout_s=20,
                              caller_id=f"Supervise {code} <{code}>", variables=variables), timeout=30)
        log.info("agent.supervised", agent=code, supervisor=supervisor_endpoint, mode=mode.value)

    async def switch_mode(self, code: str, mode: str) -> None:
        """Ring the phone, or hold a persistent session: a logged-in agent changing mode logs out of
        the queues under the old interface first."""
        agent = await self._agent(code)
        if agent.session_mode == mode:
            return
        if agent.state is not AgentState.LOGGED_OUT:
            await self.apply(code, AgentEvent.LOGOUT)
        async with self._pool.connection() as conn:
            await agent_store.set_session_mode(conn, code, mode)
        log.info("agent.session_mode", agent=code, mode=mode)

    async def on_agent_login(self, event: AmiEvent) -> None:
        """app_agent_pool's AgentLogin: the persistent session holds the line; join the queues now
        (added earlier, app_queue would keep the member's state from before the login: unavailable)."""
        code = event.get("agent")
        async with self._pool.connection() as conn:
            agent = await agent_store.get_agent(conn, code)
            member_rows = await agent_store.memberships(conn, code) if agent else []
        if agent is None or agent.session_mode != "persistent" or agent.state is AgentState.LOGGED_OUT:
            return
        for m in member_rows:
            if m.eligible:
                await self._add(m.queue, m.interface, code, m.penalty, paused=agent.state is AgentState.PAUSED,
                                reason=agent.state_reason)
        log.info("agent.session_held", agent=code, queues=len(member_rows))

    async def on_agent_logoff(self, event: AmiEvent) -> None:
        """app_agent_pool's AgentLogoff: the agent hung up their persistent session's line."""
        code = event.get("agent")
        async with self._pool.connection() as conn:
            agent = await agent_store.get_agent(conn, code)
        if agent is None or agent.session_mode != "persistent" or agent.state is AgentState.LOGGED_OUT:
            return
        await self.apply(code, AgentEvent.LOGOUT)

    async def handle_feature(self, session: AgiSession) -> None:
        """The ``agent`` FastAGI route: *45 login, *46 logout, *47 pause, *48 unpause."""
        action = session.request.query.get("action", "")
        try:
            event = AgentEvent(action)
        except ValueError:
            await session.set_variable(cc.CC_AGI_ERROR, f"unknown agent action {action!r}")
            return
        mode = session.request.query.get("mode", "ring")
        if mode not in SESSION_MODES:
            await session.set_variable(cc.CC_AGI_ERROR, f"unknown session mode {mode!r}")
            return
        endpoint = endpoint_of_channel(session.request.channel)
        async with self._pool.connection() as conn:
            agent = await agent_store.agent_by_endpoint(conn, endpoint)
        if agent is None:
            await session.set_variable(cc.CC_AGI_ERROR, f"phone {endpoint or '?'} belongs to no agent")
            return
        try:
            if event is AgentEvent.LOGIN:
                await self.switch_mode(agent.code, mode)
            state = await self.apply(agent.code, event, reason="phone" if event is AgentEvent.PAUSE else "")
        except AgentError as exc:
            await session.set_variable(cc.CC_AGI_ERROR, str(exc))
            return
        await session.set_variable(cc.CC_AGENT_CODE, agent.code)
        await session.set_variable(cc.CC_AGENT_RESULT, state.value)
        await session.set_variable(cc.CC_AGENT_PROMPT, PROMPTS[event])
