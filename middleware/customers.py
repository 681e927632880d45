"""A customer as the call center knows them: found by the IVR (caller ID, account), shown on the
agent's screen pop, carried in the call's record. Neutral: the IVR engine decides with it, the store
reads it, neither owns it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    account: str
    tier: str = ""
    language: str = ""
    notes: Mapping[str, object] = field(default_factory=dict)
