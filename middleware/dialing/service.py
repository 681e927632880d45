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

from middleware import constants as cc
from middleware.agi.session import AgiSession
from middleware.dialing.emergency import emergency_numbers
from middleware.dialing.manual import check_permission, keyed_number
from middleware.dialing.policy import Destination, DialingPolicy, NumberRefused, callback_rate, judge
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent, endpoint_of_channel
from middleware.store import agents as agent_store
from middleware.store import callbacks, calls, campaigns, tenants
from middleware.store.database import Pool
from middleware.trunks.routes import NoRoute, dial_string
from middleware.trunks.service import OutboundPlanner

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


class ManualDialer:
    """The ``outdial`` FastAGI route: an agent's own outside call from the phone (a return call, a
    follow-up). The phone's agent, the dialing policy, the agent's permission, the do-not-call lists,
    then the tenant's routes; the call is recorded as outbound and the agent's. An emergency number is
    sent to the emergency context instead (it never depends on any of this)."""

    def __init__(self, pool: Pool, gate: DialingGate, planner: OutboundPlanner) -> None:
        self._pool = pool
        self._gate = gate
        self._planner = planner

    async def handle(self, session: AgiSession) -> None:
        keyed = session.request.query.get("number", "")
        linkedid = session.request.query.get("linkedid", "")
        endpoint = endpoint_of_channel(session.request.channel)
        async with self._pool.connection() as conn:
            agent = await agent_store.agent_by_endpoint(conn, endpoint)
            if agent is None:
                return await self._refuse(session, "no_agent", f"phone {endpoint or '?'} belongs to no agent")
            tenant_id = await tenants.tenant_id(conn, agent.tenant_code)
            policy = await tenants.dialing_policy(conn, tenant_id) if tenant_id is not None else None
            if tenant_id is None or policy is None:
                return await self._refuse(session, "tenant", f"agent {agent.code} has no tenant")
            number = keyed_number(keyed)
            if number in emergency_numbers(policy.home_country):
                await session.set_variable(cc.CC_EMERGENCY_NUMBER, number)
                await session.set_variable(cc.CC_OUT_ROUTE, "emergency")
                return None
            try:
                destination = await self._gate.check(conn, tenant_id, number, "manual")
                check_permission(await agent_store.dial_permission(conn, agent.code) or "none", destination,
                                 policy.home_country)
            except NumberRefused as exc:
                if exc.reason == "permission":
                    self._gate.refused("manual", exc, agent=agent.code, number=number)
                return await self._refuse(session, exc.reason, str(exc))
            if listed := await campaigns.dnc_hits(conn, tenant_id, 0, destination.e164):
                return await self._refuse(session, "dnc", f"{destination.e164} is on the {', '.join(listed)} "
                                                          "do-not-call list")
            try:
                plan = await self._planner.plan(conn, tenant_id, destination.e164)
            except NoRoute as exc:
                return await self._refuse(session, "no_route", str(exc))
            caller_id = plan.caller_id or await tenants.first_did(conn, tenant_id) or ""
            record = await tenants.records_calls(conn, tenant_id)
            if linkedid:
                await calls.record_manual(conn, linkedid, tenant_id, agent.code, destination.e164)
        log.info("dialing.manual", agent=agent.code, number=destination.e164, route=plan.route,
                 trunks=[leg.trunk for leg in plan.legs])
        await session.set_variable(cc.CC_OUT_DIAL, dial_string(plan.legs))
        await session.set_variable(cc.CC_OUT_CID, caller_id)
        await session.set_variable(cc.CC_RECORD, "1" if record else "0")
        await session.set_variable(cc.CC_OUT_ROUTE, "trunk")
        return None

    async def _refuse(self, session: AgiSession, reason: str, detail: str) -> None:
        log.warning("dialing.manual_refused", reason=reason, detail=detail)
        await session.set_variable(cc.CC_AGI_ERROR, detail)
        await session.set_variable(cc.CC_OUT_ROUTE, "refused")
