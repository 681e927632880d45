"""An agent's membership of a queue: how the agent is reached, and the penalty (or exclusion) the
queue's skill gives them. Pure: ``store/agents.py`` reads the facts, this says what they mean."""

from __future__ import annotations

from dataclasses import dataclass

from middleware.agents.state import AgentState
from middleware.routing.skills import member_penalty


def member_interface(code: str, endpoint: str, session_mode: str) -> str:
    """For a persistent session, a Local channel into [agent-request] (AgentRequest: app_agent_pool
    bridges the call to the agent's open line without ringing); else the phone itself."""
    return f"Local/{code}@agent-request/n" if session_mode == "persistent" else f"PJSIP/{endpoint}"


@dataclass(frozen=True)
class Membership:
    agent_code: str
    endpoint: str
    queue: str
    state: AgentState
    state_reason: str
    session_mode: str = "ring"
    configured_penalty: int = 0  # queue_members.penalty, for a queue without a skill
    skill: str | None = None  # the queue's skill
    proficiency: int | None = None  # the agent's in it (None: lacks it)

    @property
    def _computed(self) -> int | None:
        skills = {self.skill: self.proficiency} if self.skill and self.proficiency else {}
        return member_penalty(self.skill, skills, self.configured_penalty)

    @property
    def penalty(self) -> int:
        """For a queue needing a skill: 5 - the agent's proficiency in it."""
        computed = self._computed
        return computed if computed is not None else self.configured_penalty

    @property
    def eligible(self) -> bool:
        """False: the queue needs a skill the agent lacks; keep them out of it."""
        return self._computed is not None

    @property
    def interface(self) -> str:
        return member_interface(self.agent_code, self.endpoint, self.session_mode)
