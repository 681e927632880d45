"""The dialing gate: every part that would send a number to a trunk asks here first.

Loads the tenant's policy, judges the number (policy.py), applies the callback rate limits, and logs
and counts each refusal by purpose and reason (``callcenter_dial_refusals_total`` in /metrics). And
the alert on every emergency call (which never comes through the gate: emergency.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import structlog
from psycopg import AsyncConnection

from middleware.dialing.policy import Destination, DialingPolicy, NumberRefused, callback_rate, judge
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent
from middleware.store import callbacks, tenants

log = structlog.get_logger(__name__)


class DialingGate:
    def __init__(self) -> None:
        self.refusals: Counter[tuple[str, str]] = Counter()  # (purpose, reason) -> count

    async def policy(self, conn: AsyncConnection, tenant_id: int) -> DialingPolicy:
        policy = await tenants.dialing_policy(conn, tenant_id)
        if policy is None:
            raise NumberRefused("tenant", f"no tenant {tenant_id}")
        return policy

    async def check(self, conn: AsyncConnection, tenant_id: int, number: str, purpose: str, *,
                    timezone: str = "", region: str | None = None) -> Destination:
        """The destination, or NumberRefused (logged and counted)."""
        try:
            return judge(number, await self.policy(conn, tenant_id), timezone=timezone, region=region)
        except NumberRefused as exc:
            self.refused(purpose, exc, tenant_id=tenant_id, number=number)
            raise

    async def check_callback(self, conn: AsyncConnection, tenant_id: int, number: str, now: datetime) -> Destination:
        """As check, plus the tenant's limits on callbacks per number and per hour."""
        destination = await self.check(conn, tenant_id, number, "callback")
        per_number, per_tenant = await callbacks.recent_callback_requests(conn, tenant_id, destination.e164, now)
        try:
            callback_rate(per_number, per_tenant, await self.policy(conn, tenant_id))
        except NumberRefused as exc:
            self.refused("callback", exc, tenant_id=tenant_id, number=number)
            raise
        return destination

    def refused(self, purpose: str, exc: NumberRefused, **context: object) -> None:
        self.refusals[(purpose, exc.reason)] += 1
        log.warning("dialing.refused", purpose=purpose, reason=exc.reason, detail=str(exc), **context)


class EmergencyAlerts:
    """Every emergency call, told at once: a warning log line and an ``emergency_call`` live event for
    the tenant's supervisors (the dialplan's CCEmergency; the call itself never waited for this)."""

    EVENTS = ("UserEvent",)

    def __init__(self, events: EventStream) -> None:
        self._events = events
        self.calls = 0

    async def on_event(self, event: AmiEvent) -> None:
        if event.get("userevent") != "CCEmergency":
            return
        self.calls += 1
        payload = {"tenant": event.get("tenant"), "phone": event.get("phone"), "number": event.get("number"),
                   "caller_id": event.get("callerid"), "linkedid": event.linkedid}
        log.warning("emergency.call", **payload)
        await self._events.publish("emergency_call", payload, at=event.at)
