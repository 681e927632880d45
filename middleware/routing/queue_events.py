"""Callers joining a queue, leaving it unanswered and being answered, as the live events wallboards
and desktops follow (``call_queued``, ``call_abandoned``, ``call_answered``). Pure."""

from __future__ import annotations

from typing import Any

from middleware.pbx_events import AmiEvent

KINDS = {"QueueCallerJoin": "call_queued", "QueueCallerAbandon": "call_abandoned", "AgentConnect": "call_answered"}


def live_event(event: AmiEvent, tenant: str | None) -> tuple[str, dict[str, Any]]:
    """The kind and payload of the live event for one of the KINDS' AMI events."""
    payload: dict[str, Any] = {"tenant": tenant, "queue": event.get("queue"), "linkedid": event.linkedid}
    if event.name == "QueueCallerJoin":
        payload["position"] = event.get("position")
    elif event.name == "QueueCallerAbandon":
        payload["waited_s"] = event.get("holdtime")
    else:
        payload.update(agent=event.get("membername"), waited_s=event.get("holdtime"))
    return KINDS[event.name], payload
