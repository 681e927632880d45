"""Who is asking, once a credential has been checked: the role and the tenant (and agent) it speaks
for. Neutral ground: the API builds it from a token, ``store/tokens.py`` reads it from PostgreSQL, and
anything that scopes what a caller may see takes it, without importing the HTTP layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    token_id: int
    role: Role
    tenant_id: int | None  # None: a platform admin, every tenant
    tenant: str | None
    agent: str | None = None  # the agent an agent-role token speaks for

    def sees_tenant(self, tenant_id: int | None) -> bool:
        return self.tenant_id is None or tenant_id == self.tenant_id
