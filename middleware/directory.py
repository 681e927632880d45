"""The tenant directory as configured: phones, DIDs and queues. Plain values read by ``store/`` and
rendered into Asterisk's files by ``provision/render.py`` (which must not import the store to do it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhoneRow:
    endpoint: str
    secret: str
    caller_name: str
    codecs: str
    tenant_code: str
    agent_code: str | None
    emergency_cid: str | None = None  # presented to the emergency services (the phone's location)


@dataclass(frozen=True)
class EmergencyPlan:
    """What a tenant's phones do when they dial an emergency number (dialing/emergency.py)."""
    numbers: tuple[str, ...]
    trunks: tuple[str, ...]  # tried in this order
    caller_id: str | None  # the tenant's default, for phones with no emergency caller ID of their own


@dataclass(frozen=True)
class DidRow:
    number: str
    tenant_id: int
    tenant_code: str
    fallback_queue: str
    flow: str | None
    record: bool = True  # the tenant records its answered calls
    consent_prompt: str = ""  # played to callers first when set ("this call may be recorded")
    csat_prompt: str = ""  # the survey question after the agent hangs up; empty: no survey


@dataclass(frozen=True)
class QueueRow:
    name: str
    tenant_code: str
    strategy: str
    ring_timeout_s: int
    wrapup_s: int
    service_level_s: int
    max_wait_s: int
    skill: str | None = None
    widen_steps: tuple[tuple[int, int], ...] = ()  # (seconds waited, worst proficiency allowed)
    extension: str | None = None  # the number agents dial to transfer a caller to this queue
    announce_every_s: int = 60  # repeat the position and wait announcement this often (0: on entry only)
    weight: int = 10  # app_queue serves a free agent's heavier queue first (campaign queues weigh less)
