"""What the IVR learned about a call, and how it travels: columns on the call row, inheritable channel
variables that reach the agent's leg (and the agent phone's INVITE headers), and the screen-pop
event published when an agent connects. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from middleware.customers import Customer
from middleware.ivr.engine import FlowState

# Channel variables set with the "__" prefix on the caller, inherited by every leg the queue creates.
SCREEN_POP_VARIABLES: tuple[str, ...] = (
    "CC_CUSTOMER_ID", "CC_CUSTOMER_NAME", "CC_CUSTOMER_TIER", "CC_ACCOUNT", "CC_REASON", "CC_SKILLS",
    "CC_LANGUAGE", "CC_IVR_PATH",
)


@dataclass(frozen=True)
class IvrFacts:
    flow: str
    outcome: str
    digits: str
    path: tuple[Mapping[str, str], ...]
    language: str
    customer: Customer | None
    account: str | None
    reason: str | None
    skills: tuple[str, ...]
    priority: int | None


def facts_of(flow_name: str, state: FlowState, outcome: str) -> IvrFacts:
    return IvrFacts(
        flow=flow_name,
        outcome=outcome,
        digits=state.digits,
        path=tuple({"node": s.node, "input": s.input, "outcome": s.outcome} for s in state.path),
        language=state.language,
        customer=state.customer,
        account=state.variables.get("account"),
        reason=state.reason,
        skills=state.skills,
        priority=state.priority,
    )


_UNSAFE = set('"$[]{}\\;`')


def _clean(value: str) -> str:
    # These values reach dialplan expressions and SIP headers: one printable line, no expression syntax.
    return "".join(ch for ch in value if ch.isprintable() and ch not in _UNSAFE)[:200]


def channel_variables(facts: IvrFacts) -> dict[str, str]:
    """Variables for the caller's channel, named without the inheritance prefix."""
    c = facts.customer
    values = {
        "CC_CUSTOMER_ID": str(c.id) if c else "",
        "CC_CUSTOMER_NAME": c.name if c else "",
        "CC_CUSTOMER_TIER": c.tier if c else "",
        "CC_ACCOUNT": facts.account or "",
        "CC_REASON": facts.reason or "",
        "CC_SKILLS": ",".join(facts.skills),
        "CC_LANGUAGE": facts.language,
        "CC_IVR_PATH": ">".join(step["node"] for step in facts.path),
    }
    return {k: _clean(v) for k, v in values.items() if v}


def call_view(linkedid: str, tenant: str, did: str, caller_number: str, facts: IvrFacts) -> dict[str, Any]:
    """What ``screen_pop`` reads of the stored call row, from the facts the IVR has just stored (so the
    pop of a call this node's IVR answered needs no read back)."""
    c = facts.customer
    return {"linkedid": linkedid, "tenant": tenant, "caller_number": caller_number, "did": did,
            "customer_id": c.id if c else None, "customer_name": c.name if c else None,
            "customer_tier": c.tier if c else None, "account": facts.account, "reason": facts.reason,
            "skills": list(facts.skills), "language": facts.language, "ivr_path": [dict(s) for s in facts.path]}


def screen_pop(call: Mapping[str, Any], agent: str, queue: str) -> dict[str, Any]:
    """The event an agent's desktop receives when a call connects, from the stored call row."""
    return {
        "linkedid": call.get("linkedid"),
        "tenant": call.get("tenant"),
        "agent": agent,
        "queue": queue,
        "caller_number": call.get("caller_number"),
        "did": call.get("did"),
        "customer": {"id": call.get("customer_id"), "name": call.get("customer_name"),
                     "tier": call.get("customer_tier")} if call.get("customer_id") else None,
        "account": call.get("account"),
        "reason": call.get("reason"),
        "skills": list(call.get("skills") or []),
        "language": call.get("language"),
        "ivr_path": list(call.get("ivr_path") or []),
    }
