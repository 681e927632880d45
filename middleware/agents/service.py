"""Agent sessions: log in, log out, pause and unpause, in PostgreSQL and in Asterisk's queues.

PostgreSQL holds what should be; ``resync`` makes Asterisk match it after any (re)connect, so no
agent is left in a queue it logged out of, or missing from one it is logged into.
"""

from __future__ import annotations

import structlog
from psycopg_pool import AsyncConnectionPool

from middleware import constants as cc
from middleware.agents.state import AgentEvent, AgentState, InvalidTransition, next_state
from middleware.agi.session import AgiSession
from middleware.ami import actions
from middleware.ami.client import AmiActionFailed, AmiClient
from middleware.store import agents as agent_store
from middleware.store.agents import AgentRow

log = structlog.get_logger(__name__)


class AgentError(ValueError):
    """An agent request that cannot be carried out (unknown agent, no phone, wrong state)."""


# What the agent hears after a feature code.
PROMPTS = {
    AgentEvent.LOGIN: "agent-loginok",
    AgentEvent.LOGOUT: "agent-loggedoff",
    AgentEvent.PAUSE: "beep",
    AgentEvent.UNPAUSE: "beep",
}


class AgentService:
    def __init__(self, pool: AsyncConnectionPool, ami: AmiClient) -> None:
        self._pool = pool
        self._ami = ami

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
        interface = actions.pjsip_interface(agent.endpoint or "")
        if event is AgentEvent.LOGIN:
            for m in member_rows:
                await self._add(m.queue, interface, code, m.penalty, paused=False, reason="")
        elif event is AgentEvent.LOGOUT:
            for m in member_rows:
                await self._remove(m.queue, interface)
        elif event in (AgentEvent.PAUSE, AgentEvent.UNPAUSE):
            await self._ami.action(actions.queue_pause(interface, event is AgentEvent.PAUSE, reason))
        async with self._pool.connection() as conn:
            await agent_store.set_state(conn, agent.id, new, reason)
        log.info("agent.state", agent=code, action=event.value, state=new.value, reason=reason)
        return new

    async def _add(self, queue: str, interface: str, code: str, penalty: int, *, paused: bool,
                   reason: str) -> None:
        try:
            await self._ami.action(actions.queue_add(queue, interface, code, penalty=penalty,
                                                     paused=paused, reason=reason))
        except AmiActionFailed as exc:
            if "already there" not in str(exc).lower():
                raise
            await self._ami.action(actions.queue_pause(interface, paused, reason, queue=queue))

    async def _remove(self, queue: str, interface: str) -> None:
        try:
            await self._ami.action(actions.queue_remove(queue, interface))
        except AmiActionFailed as exc:
            text = str(exc).lower()
            if "not there" not in text and "no such queue" not in text:
                raise

    async def resync(self) -> int:
        """Make every queue's membership in Asterisk match PostgreSQL; return the members added."""
        async with self._pool.connection() as conn:
            rows = await agent_store.memberships(conn)
        added = failed = 0
        for m in rows:
            interface = actions.pjsip_interface(m.endpoint)
            try:
                if m.state is AgentState.LOGGED_OUT:
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

    async def handle_feature(self, session: AgiSession) -> None:
        """The ``agent`` FastAGI route: *45 login, *46 logout, *47 pause, *48 unpause."""
        action = session.request.query.get("action", "")
        try:
            event = AgentEvent(action)
        except ValueError:
            await session.set_variable(cc.CC_AGI_ERROR, f"unknown agent action {action!r}")
            return
        endpoint = actions.endpoint_of_channel(session.request.channel)
        async with self._pool.connection() as conn:
            agent = await agent_store.agent_by_endpoint(conn, endpoint)
        if agent is None:
            await session.set_variable(cc.CC_AGI_ERROR, f"phone {endpoint or '?'} belongs to no agent")
            return
        try:
            state = await self.apply(agent.code, event, reason="phone" if event is AgentEvent.PAUSE else "")
        except AgentError as exc:
            await session.set_variable(cc.CC_AGI_ERROR, str(exc))
            return
        await session.set_variable(cc.CC_AGENT_RESULT, state.value)
        await session.set_variable(cc.CC_AGENT_PROMPT, PROMPTS[event])
