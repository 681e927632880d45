"""The dialer: paces each running campaign, claims leads from the hopper, originates the calls and
follows every attempt to its outcome. Thin: the decisions are in pacing.py, compliance.py and
attempts.py.

Several middleware nodes may run the dialer for the same campaigns: a campaign is paced by one node at a
time (a transaction-scoped advisory lock), leads are claimed with SKIP LOCKED, and the calls in flight
that pacing counts are read from PostgreSQL, whichever node placed them.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from middleware.agi.session import AgiSession
from middleware.ami import queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.dialer import compliance, pacing
from middleware.dialer.attempts import Attempt, attempt_of, channel_id
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent, endpoint_of_channel
from middleware.store import agents as agent_store
from middleware.store import campaigns as store
from middleware.store import tenants
from middleware.store.database import Pool
from middleware.supervisor import every

log = structlog.get_logger(__name__)

CONNECT_WITHIN_S = 2  # a live answer reaches an agent within this, or it is abandoned
STATS_EVERY_S = 5.0  # a campaign's dialer_stats event, at least this often while it runs (and at each launch)
BUSY_STATES = ("on_call", "ringing")
# Agents' disposition keys (*44<code> on the phone, or `callcenter lead disposition`).
DISPOSITIONS = {"1": "sale", "2": "not_interested", "3": "callback", "4": "wrong_number", "9": "do_not_call"}


def channel_text(text: str, limit: int = 80) -> str:
    """Text safe in an Originate's Variable header and a SIP header: no separators, no control characters."""
    return "".join(" " if ch in ",;|\"\\" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)[:limit].strip()


def agents_now(rows: list[tuple[str, str, datetime]], now: datetime, mean_talk_s: float,
               inbound_waiting: int = 0) -> pacing.AgentsNow:
    """The campaign's agents as pacing sees them. Callers waiting in the agents' inbound queues will
    take the first agents to come free (inbound keeps priority), so as many ready agents are not ours."""
    ready = 0
    busy: list[float] = []
    for _code, state, since in rows:
        elapsed = max(0.0, (now - since).total_seconds())
        if state == "available":
            ready += 1
        elif state in BUSY_STATES:
            busy.append(elapsed)
        elif state == "wrap_up":
            busy.append(mean_talk_s + elapsed)
    taken = min(ready, inbound_waiting)
    return pacing.AgentsNow(ready - taken, tuple(busy) + (0.0,) * taken)


def calls_now(rows: list[tuple[Any, ...]], now: datetime) -> pacing.CallsNow:
    """In-flight attempts (launched, answered, live) as pacing sees them."""
    ringing: list[float] = []
    screening = waiting = 0
    for launched, answered, live in rows:
        if answered is None:
            ringing.append(max(0.0, (now - launched).total_seconds()))
        elif live is None:
            screening += 1
        else:
            waiting += 1
    return pacing.CallsNow(tuple(ringing), screening, waiting)


def learned_from(rows: list[tuple[Any, ...]], wrapup_s: float) -> pacing.Learned:
    learned = pacing.Learned()
    for outcome, ring_s, screen_s, talk_s in rows:
        live = outcome in (compliance.CONNECTED, compliance.ABANDONED)
        if ring_s is not None:
            learned.attempt(live=live, ring_s=float(ring_s), screen_s=None if screen_s is None else float(screen_s))
        if live:
            learned.outcome(abandoned=outcome == compliance.ABANDONED)
        if talk_s is not None:
            learned.handled(float(talk_s) + wrapup_s)
    return learned


class DialerService:
    def __init__(self, pool: Pool, ami: AmiClient, events: EventStream | None = None, *,
                 node: str | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._pool = pool
        self._ami = ami
        self._events = events
        # Stable across restarts, so that a restarted node finds the attempts it left in flight.
        self.node = node or socket.gethostname()
        self._clock = clock
        self.attempts: dict[int, Attempt] = {}
        self._learned: dict[int, tuple[float, pacing.Learned]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.launched = 0
        self.last_decision: dict[str, pacing.Decision] = {}
        self._tenant_of: dict[str, str] = {}  # campaign code -> tenant code, for the events
        self._stats_at: dict[str, datetime] = {}
        self._settle_pending = False

    # -- pacing --

    async def tick(self) -> int:
        if self._settle_pending:
            await self.settle_after_outage()
        async with self._pool.connection() as conn:
            running = await store.list_campaigns(conn, "running")
        if not running:
            return 0
        waiting = await self._inbound_waiting()
        launched = 0
        for campaign in running:
            launched += await self.pace(campaign, waiting)
        return launched

    async def _inbound_waiting(self) -> dict[str, int]:
        """Callers waiting per queue (QueueSummary): inbound queues come first for blended agents."""
        try:
            messages = await self._ami.action({"Action": "QueueSummary"}, as_list=True)
        except (AmiUnavailable, AmiActionFailed):
            return {}
        return {m.get("queue", ""): int(m.get("callers", "0") or 0) for m in messages
                if m.get("event") == "QueueSummary"}

    async def _learned_for(self, campaign: store.CampaignRow) -> pacing.Learned:
        """The campaign's statistics, rebuilt from PostgreSQL every 30 s (all nodes' attempts)."""
        cached = self._learned.get(campaign.id)
        if cached is not None and time.monotonic() - cached[0] < 30:
            return cached[1]
        async with self._pool.connection() as conn:
            rows = await store.recent_attempts(conn, campaign.id)
        learned = learned_from(rows, campaign.wrapup_s)
        self._learned[campaign.id] = (time.monotonic(), learned)
        return learned

    async def pace(self, campaign: store.CampaignRow, inbound_waiting: dict[str, int]) -> int:
        now = self._clock()
        self._tenant_of[campaign.code] = campaign.tenant_code
        learned = await self._learned_for(campaign)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (0x0D1A, campaign.id))
            row = await cur.fetchone()
            if not row or not row[0]:
                return 0  # another node is pacing this campaign right now
            agent_rows = await store.campaign_agents(conn, campaign.queue)
            shared = await _shared_queues(conn, campaign.queue)
            flight = await store.in_flight(conn, campaign.id)
            day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            a30, b30, aday, bday = await store.abandonment_counts(conn, campaign.id, now, day_start)
            mean_talk = max(0.0, learned.handle.mean(learned.prior_handle_s) - campaign.wrapup_s)
            agents = agents_now(agent_rows, now, mean_talk, sum(inbound_waiting.get(q, 0) for q in shared))
            decision = pacing.decide(campaign.mode, agents, calls_now(flight, now), learned,  # type: ignore[arg-type]
                                     pacing.Budget(campaign.abandon_target, a30, b30, aday, bday),
                                     pacing.Limits(campaign.max_lines, campaign.max_ratio))
            self.last_decision[campaign.code] = decision
            claimed = await store.claim_leads(conn, campaign, decision.launch, self.node, now)
        for lead in claimed:
            self._launch(campaign, lead, now)
        last = self._stats_at.get(campaign.code)
        if claimed or last is None or (now - last).total_seconds() >= STATS_EVERY_S:
            self._stats_at[campaign.code] = now
            await self._publish("dialer_stats", {
                "campaign": campaign.code, "launched": len(claimed), "reason": decision.reason,
                "ready_agents": agents.ready, "busy_agents": len(agents.busy_elapsed), "in_flight": len(flight),
                "expected_abandon_rate": round(decision.expected_abandon_rate, 4),
                "abandon_rate_today": round(bday / aday, 4) if aday else None,
                "abandon_rate_30d": round(b30 / a30, 4) if a30 else None})
        if claimed:
            log.info("dialer.launch", campaign=campaign.code, calls=len(claimed), reason=decision.reason,
                     ready=agents.ready, busy=len(agents.busy_elapsed), in_flight=len(flight),
                     expected_abandon=round(decision.expected_abandon_rate, 4))
        return len(claimed)

    def _launch(self, campaign: store.CampaignRow, lead: store.Claimed, now: datetime) -> None:
        attempt = Attempt(lead.attempt_id, campaign.code, lead.lead_id, lead.number, now)
        self.attempts[attempt.id] = attempt
        self.launched += 1
        delay = campaign.preview_s if campaign.mode == "preview" else 0
        task = asyncio.create_task(self._originate(campaign, lead, attempt, delay), name=f"dial-{attempt.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate(self, campaign: store.CampaignRow, lead: store.Claimed, attempt: Attempt,
                         preview_s: int) -> None:
        if preview_s:
            await self._publish("dialer_preview", {"campaign": campaign.code, "attempt": attempt.id,
                                                   "number": lead.number, "name": lead.name, "data": lead.data,
                                                   "dial_in_s": preview_s})
            await asyncio.sleep(preview_s)
        # Checked again at the last moment: a number put on a list, a window that closed, or the campaign
        # stopped or paused (during a preview's wait) since the claim.
        async with self._pool.connection() as conn:
            blocked = await store.dnc_hits(conn, campaign.tenant_id, campaign.id, lead.number)
            record = await tenants.records_calls(conn, campaign.tenant_id)
            current = await store.get_campaign(conn, campaign.code)
        now = self._clock()
        running = current is not None and current.status == "running"
        if blocked or not running or not compliance.in_window(now, lead.timezone, campaign.window_start,
                                                              campaign.window_end):
            log.warning("dialer.blocked_at_dial_time", attempt=attempt.id, number=lead.number,
                        dnc=",".join(blocked), campaign_running=running)
            await self._finish(attempt, outcome_override="blocked")
            return
        variables = {"CC_ATTEMPT": attempt.id, "CC_CAMPAIGN": campaign.code, "CC_NUMBER": lead.number,
                     "CC_QUEUE": campaign.queue, "CC_CONNECT_S": CONNECT_WITHIN_S, "CC_AMD": int(campaign.amd),
                     "CC_MACHINE_ACTION": campaign.machine_action, "CC_MACHINE_PROMPT": campaign.machine_prompt,
                     "CC_SAFE_HARBOR": campaign.safe_harbor_prompt, "__CC_TENANT": campaign.tenant_code,
                     "CC_RECORD": int(record), "__CC_REASON": f"campaign {campaign.code}",
                     "__CC_CUSTOMER_NAME": channel_text(lead.name)}
        fields = {"Action": "Originate", "Channel": f"PJSIP/{lead.number}@{campaign.trunk}",
                  "ChannelId": channel_id(attempt.id), "Context": "dialer", "Exten": "s", "Priority": "1",
                  "Timeout": str(campaign.ring_timeout_s * 1000), "CallerID": campaign.caller_id, "Async": "true",
                  "Variable": ",".join(f"{k}={v}" for k, v in variables.items())}
        try:
            messages = await self._ami.action(fields, timeout=campaign.ring_timeout_s + 15)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("dialer.originate_failed", attempt=attempt.id, detail=str(exc)[:200])
            attempt.reason = 0
            await self._finish(attempt)
            return
        response = next((m for m in messages if m.get("event") == "OriginateResponse"), None)
        if response is not None and response.get("response") == "Failure":
            attempt.reason = int(response.get("reason", "0") or 0)
            if attempt.answered_at is None:
                await self._finish(attempt)
        # Success: the call is up in [dialer]; its Hangup finishes the attempt.

    # -- following the calls --

    async def on_event(self, event: AmiEvent) -> None:
        attempt_id = attempt_of(event.linkedid)
        if attempt_id is None:
            return
        attempt = self.attempts.get(attempt_id)
        if attempt is None:
            return  # another node's call
        if event.name == "UserEvent" and event.get("userevent") == "CCDialer":
            stage = event.get("stage")
            attempt.stage(stage, event.at, event.get("status"), event.get("cause"))
            async with self._pool.connection() as conn:
                if stage in ("answered", "live"):
                    await store.mark_stage(conn, attempt.id, "answered_at" if stage == "answered" else "human_at",
                                           event.at)
                elif stage == "amd" and attempt.machine:
                    await store.mark_machine(conn, attempt.id, attempt.amd_cause)  # needs no agent: not paced
        elif event.name == "AgentConnect":
            hold = event.get("holdtime")
            attempt.connect(event.get("membername"), event.at, float(hold) if hold.isdigit() else None)
            async with self._pool.connection() as conn:
                await store.mark_stage(conn, attempt.id, "connected_at", event.at)
            await self._screen_pop(attempt, event.get("membername"))
        elif event.name == "Hangup" and event.uniqueid == event.linkedid:
            attempt.ended_at = event.at
            if attempt.answered_at is None and attempt.reason is None:
                attempt.reason = {17: 5, 19: 3, 34: 8}.get(int(event.get("cause") or 0), 0)  # busy/no answer/congestion
            await self._finish(attempt)

    async def _finish(self, attempt: Attempt, outcome_override: str | None = None) -> None:
        if self.attempts.pop(attempt.id, None) is None:
            return  # already finished
        now = self._clock()
        attempt.ended_at = attempt.ended_at or now
        outcome = outcome_override or attempt.outcome
        async with self._pool.connection() as conn, conn.transaction():
            campaign = await store.get_campaign(conn, attempt.campaign)
            if campaign is None:
                return
            cur = await conn.execute("SELECT attempts FROM leads WHERE id = %s", (attempt.lead_id,))
            row = await cur.fetchone()
            tries = int(row[0]) if row else campaign.max_attempts
            if outcome == "blocked":
                step = compliance.NextStep("dnc", None) if await store.dnc_hits(
                    conn, campaign.tenant_id, campaign.id, attempt.number) else compliance.NextStep(
                    "ready", now + timedelta(minutes=15))
                await conn.execute("UPDATE leads SET attempts = attempts - 1 WHERE id = %s", (attempt.lead_id,))
            else:
                step = compliance.after_attempt(outcome, tries, campaign.max_attempts, campaign.retry_rules, now)
            await store.finish_attempt(conn, attempt.id, {
                "outcome": outcome, "linkedid": channel_id(attempt.id),
                "answered_at": attempt.answered_at, "human_at": attempt.live_at,
                "connected_at": attempt.connected_at, "ended_at": attempt.ended_at, "ring_s": attempt.ring_s,
                "wait_s": attempt.wait_s, "talk_s": attempt.talk_s, "agent": attempt.agent or None,
                "amd_cause": attempt.amd_cause or None, "reason": attempt.reason}, attempt.lead_id,
                step.status, step.next_at)
            if outcome != "blocked":  # the call's record (written by the CDR assembler too) is outbound
                await conn.execute(
                    """INSERT INTO calls (linkedid, tenant_id, direction, campaign, caller_number)
                       VALUES (%s, %s, 'outbound', %s, %s)
                       ON CONFLICT (linkedid) DO UPDATE SET direction = 'outbound', campaign = EXCLUDED.campaign,
                           caller_number = EXCLUDED.caller_number,
                           tenant_id = COALESCE(calls.tenant_id, EXCLUDED.tenant_id)""",
                    (channel_id(attempt.id), campaign.tenant_id, campaign.code, attempt.number))
        cached = self._learned.get(campaign.id)
        if cached is not None and outcome != "blocked":
            if attempt.ring_s is not None:
                cached[1].attempt(live=attempt.live, ring_s=attempt.ring_s, screen_s=attempt.screen_s)
            if attempt.live:
                cached[1].outcome(abandoned=outcome == compliance.ABANDONED)
            if attempt.talk_s is not None:
                cached[1].handled(attempt.talk_s + campaign.wrapup_s)
        log.info("dialer.attempt", attempt=attempt.id, campaign=attempt.campaign, number=attempt.number,
                 outcome=outcome, ring_s=attempt.ring_s, wait_s=attempt.wait_s, talk_s=attempt.talk_s,
                 agent=attempt.agent, lead=step.status)
        await self._publish("dialer_attempt", {"campaign": attempt.campaign, "attempt": attempt.id,
                                               "outcome": outcome, "agent": attempt.agent})

    async def _screen_pop(self, attempt: Attempt, agent: str) -> None:
        async with self._pool.connection() as conn:
            lead = await store.lead_for_attempt(conn, attempt.id)
        await self._publish("screen_pop", {"linkedid": channel_id(attempt.id), "agent": agent,
                                           "campaign": attempt.campaign,
                                           "direction": "outbound", "lead": lead})

    async def _publish(self, kind: str, payload: dict[str, Any]) -> None:
        if self._events is not None:
            tenant = self._tenant_of.get(str(payload.get("campaign")))
            await self._events.publish(kind, {"tenant": tenant, **payload}, at=self._clock())

    # -- dispositions --

    async def handle_disposition(self, session: AgiSession) -> None:
        """*44<code> from an agent's phone: the disposition of their last campaign call."""
        code = session.request.query.get("code", "")
        endpoint = endpoint_of_channel(session.request.channel)
        async with self._pool.connection() as conn:
            agent = await agent_store.agent_by_endpoint(conn, endpoint)
        result = "failed"
        if agent is not None and code in DISPOSITIONS:
            result = "ok" if await self.set_disposition(agent.code, DISPOSITIONS[code]) else "failed"
        await session.set_variable("CC_AGENT_RESULT", result)

    async def set_disposition(self, agent_code: str, disposition: str) -> bool:
        async with self._pool.connection() as conn, conn.transaction():
            last = await store.last_connected_attempt(conn, agent_code)
            if last is None:
                return False
            _attempt, lead_id, number, campaign_id = last
            await apply_disposition(conn, lead_id, number, campaign_id, disposition, self._clock())
        log.info("dialer.disposition", agent=agent_code, lead=lead_id, disposition=disposition)
        return True

    # -- lifecycle --

    async def recover(self) -> int:
        """Attempts this node left in flight when it stopped (and any node's, hours old): their outcome
        is unknown; the lead is retried later (never sooner than an abandoned call would be, in case it
        was one)."""
        async with self._pool.connection() as conn, conn.transaction():
            orphans = await store.orphaned_attempts(conn, self.node, self._clock() - timedelta(hours=6))
            await self._settle_lost(conn, orphans)
        return len(orphans)

    async def settle_after_outage(self) -> int:
        """PostgreSQL is back: the hang-ups of attempts that ended meanwhile were never stored. Each attempt
        still 'dialing' whose channel Asterisk no longer has is settled as lost (retried after 72 h, as a
        possibly abandoned call must be); the ones still up get their events as usual."""
        self._settle_pending = True  # until it has been done (Asterisk may be away too)
        live = {c.linkedid for c in await queries.active_channels(self._ami)}
        async with self._pool.connection() as conn, conn.transaction():
            in_flight = await store.orphaned_attempts(conn, self.node, self._clock() - timedelta(hours=6))
            gone = [(a, lead) for a, lead in in_flight if channel_id(a) not in live]
            await self._settle_lost(conn, gone)
        for attempt_id, _lead in gone:
            self.attempts.pop(attempt_id, None)  # its events were skipped: what it knows is out of date
        self._settle_pending = False
        if gone:
            log.warning("dialer.attempts_settled_after_outage", attempts=len(gone))
        return len(gone)

    async def _settle_lost(self, conn: Any, attempts: list[tuple[int, int]]) -> None:
        for attempt_id, lead_id in attempts:
            await conn.execute("UPDATE dial_attempts SET status = 'done', outcome = 'lost', ended_at = now() "
                               "WHERE id = %s", (attempt_id,))
            await conn.execute("UPDATE leads SET status = 'ready', next_at = now() + interval '72 hours' "
                               "WHERE id = %s AND status = 'dialing'", (lead_id,))

    async def run(self, interval_s: float = 1.0) -> None:
        try:
            try:
                if lost := await self.recover():
                    log.warning("dialer.attempts_lost_in_restart", attempts=lost)
            except Exception as exc:  # the database may be down at start: pacing retries on its own
                log.error("dialer.recover_failed", detail=str(exc)[:200])
            await every(interval_s, self.tick, "dialer.tick_failed")
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def apply_disposition(conn: Any, lead_id: int, number: str, campaign_id: int, disposition: str,
                            now: datetime) -> None:
    await store.set_disposition(conn, lead_id, disposition)
    if disposition == "do_not_call":
        await store.add_dnc(conn, "campaign", None, campaign_id, [number], "agent disposition")
        await conn.execute("UPDATE leads SET status = 'dnc' WHERE id = %s", (lead_id,))
    elif disposition == "callback":
        await conn.execute("UPDATE leads SET status = 'ready', next_at = %s WHERE id = %s AND status <> 'dnc'",
                           (now + timedelta(hours=24), lead_id))


async def _shared_queues(conn: Any, campaign_queue: str) -> list[str]:
    """The other queues the campaign's agents belong to."""
    cur = await conn.execute(
        """SELECT DISTINCT q2.name FROM queue_members m JOIN queues q ON q.id = m.queue_id
             JOIN queue_members m2 ON m2.agent_id = m.agent_id JOIN queues q2 ON q2.id = m2.queue_id
            WHERE q.name = %s AND q2.name <> %s""", (campaign_queue, campaign_queue))
    return [r[0] for r in await cur.fetchall()]
