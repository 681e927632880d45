"""The dialer: paces each running campaign, claims leads from the hopper, originates the calls and
follows every attempt to its outcome. The decisions are pure, elsewhere in this folder: pacing.py
(how many to dial), compliance.py (windows, retry rules), attempts.py (an attempt's outcome),
outcomes.py (causes, blocked and lost attempts, dispositions) and observed.py (pacing's inputs); the
SQL is in ``store/campaigns.py`` and ``store/calls.py``.

Several middleware nodes may run the dialer for the same campaigns: a campaign is paced by one node at a
time (a transaction-scoped advisory lock), leads are claimed with SKIP LOCKED, and the calls in flight
that pacing counts are read from PostgreSQL, whichever node placed them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from middleware import constants as cc
from middleware.agi.session import AgiSession
from middleware.ami import actions, queries
from middleware.ami.actions import channel_text
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.clock import Clock, system_clock
from middleware.dialer import compliance, observed, outcomes, pacing
from middleware.dialer.attempts import CHANNEL_PREFIX, FAILOVER_CAUSES, Attempt, attempt_of, channel_id
from middleware.dialer.figures import CampaignCounts, campaign_figures
from middleware.dialer.observed import (
    RECENT_ATTEMPTS,
    CampaignPacing,
    InboundArrivals,
    Learning,
    agents_now,
    calls_now,
    day_start,
    inbound_expected,
)
from middleware.event_stream import EventStream
from middleware.pbx_events import AmiEvent, endpoint_of_channel
from middleware.store import agents as agent_store
from middleware.store import calls, reports, tenants
from middleware.store import campaigns as store
from middleware.store.database import Pool
from middleware.supervisor import every
from middleware.trunks.routes import NoRoute
from middleware.trunks.service import OutboundPlanner, Plan, TrunkMonitor

log = structlog.get_logger(__name__)

CONNECT_WITHIN_S = 2  # a live answer reaches an agent within this, or it is abandoned
STATS_EVERY_S = 5.0  # a campaign's dialer_stats event, at least this often while it runs (and at each launch)


class DialerService:
    EVENTS = ("UserEvent", "AgentConnect", "Hangup")  # of its own calls only: see owns()
    def __init__(self, pool: Pool, ami: AmiClient, events: EventStream | None = None, *,
                 node: str | None = None, clock: Clock = system_clock,
                 trunk_room: Callable[[str], int | None] = lambda trunk: None,
                 planner: OutboundPlanner | None = None) -> None:
        self._pool = pool
        self._trunk_room = trunk_room  # calls a trunk may still take (its max_channels), None: no cap
        self._planner = planner or OutboundPlanner(TrunkMonitor(pool, None))  # each call's trunks
        self._ami = ami
        self._events = events
        # Stable across restarts, so that a restarted node finds the attempts it left in flight.
        self.node = node or socket.gethostname()
        self._clock = clock
        self.attempts: dict[int, Attempt] = {}
        self._learning: dict[int, Learning] = {}  # campaign -> its statistics (observed.Learning)
        self._tasks: set[asyncio.Task[None]] = set()
        self.launched = 0
        self.last_decision: dict[str, pacing.Decision] = {}
        self._tenant_of: dict[str, str] = {}  # campaign code -> tenant code, for the events
        self._stats_at: dict[str, datetime] = {}
        self._settle_pending = False
        self.inbound = InboundArrivals(clock().timestamp())  # callers joining queues: see on_queue_join
        # attempt -> (campaign, plan, variables, next leg): what its Hangup dials if the carrier was congested
        self._next_legs: dict[int, tuple[store.CampaignRow, Plan, dict[str, object], int]] = {}

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

    async def _inbound_waiting(self) -> dict[str, int] | None:
        """Callers waiting per queue (QueueSummary): inbound queues come first for blended agents.
        None when Asterisk does not say (a campaign whose agents take inbound calls then waits)."""
        try:
            return await queries.waiting_per_queue(self._ami)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.warning("dialer.inbound_unknown", detail=str(exc)[:200])
            return None

    async def on_queue_join(self, event: AmiEvent) -> None:
        """A caller joined a queue (QueueCallerJoin): counted in the inbound arrival rate."""
        queue = event.get("queue")
        if queue and not queue.startswith(store.CAMPAIGN_QUEUE_PREFIX):
            self.inbound.joined(queue, event.at.timestamp())

    async def _learned_for(self, campaign: store.CampaignRow) -> pacing.Learned:
        """The campaign's statistics, rebuilt from PostgreSQL every observed.LEARNED_FOR_S (all nodes' attempts);
        this node's own attempts are folded in as they finish, in between. The calibration gain carries
        on (from the campaign's stored one on a node that starts pacing it) and is stored at each rebuild."""
        now_s = self._clock().timestamp()
        learning = self._learning.get(campaign.id)
        settings = (campaign.wrapup_s, campaign.abandon_target, campaign.amd_false_positive)
        if learning is None or (learning.wrapup_s, learning.target, learning.amd_false_positive) != settings:
            gain = learning.gain if learning is not None else campaign.pacing_gain
            learning = self._learning[campaign.id] = Learning(*settings, gain=gain)
        if not learning.due(now_s) and learning.learned is not None:
            return learning.learned
        async with self._pool.connection() as conn:
            rows = await store.recent_attempts(conn, campaign.id, RECENT_ATTEMPTS)
            learned = learning.rebuild(rows, now_s)
            await store.store_pacing_gain(conn, campaign.id, learned.gain)
        return learned

    async def pace(self, campaign: store.CampaignRow, inbound_waiting: dict[str, int] | None) -> int:
        now = self._clock()
        self._tenant_of[campaign.code] = campaign.tenant_code
        learned = await self._learned_for(campaign)
        async with self._pool.connection() as conn, conn.transaction():
            if not await store.try_pace(conn, campaign.id):
                return 0  # another node is pacing this campaign right now
            agent_rows = await store.campaign_agents(conn, campaign.queue)
            shared = await store.shared_queues(conn, campaign.queue)
            flight = await store.in_flight(conn, campaign.id)
            counts = await store.abandonment_counts(conn, campaign.id, now,
                                                    day_start(now, campaign.tenant_timezone))
            if shared and inbound_waiting is None:
                return 0  # the agents' inbound queues are not known now: dialling could take their agents
            agents = agents_now([(state, (now - since).total_seconds()) for _code, state, since in agent_rows],
                                observed.mean_talk_s(learned, campaign.wrapup_s),
                                sum((inbound_waiting or {}).get(q, 0) for q in shared),
                                inbound_expected(self.inbound.rate(shared, now.timestamp()), learned))
            calls = calls_now([((now - launched).total_seconds(), answered is not None, live is not None)
                               for launched, answered, live in flight])
            decision = observed.decide(pacing_of(campaign), learned, agents, calls, counts,
                                       self._trunk_room(campaign.trunk))
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
                "abandon_rate_today": _rate(counts.abandoned_today, counts.live_today),
                "abandon_rate_30d": _rate(counts.abandoned_window, counts.live_window)})
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
        plan: Plan | None = None
        async with self._pool.connection() as conn:
            blocked = await store.dnc_hits(conn, campaign.tenant_id, campaign.id, lead.number)
            record = await tenants.records_calls(conn, campaign.tenant_id)
            current = await store.get_campaign(conn, campaign.code)
            try:
                plan = await self._planner.plan(conn, campaign.tenant_id, lead.number, campaign.trunk)
            except NoRoute as exc:  # (TrunksFull too) a failed attempt: the retry rules call it again
                log.warning("dialer.no_way_out", attempt=attempt.id, number=lead.number, detail=str(exc))
        now = self._clock()
        running = current is not None and current.status == "running"
        if blocked or not running or not compliance.in_window(now, lead.timezone, campaign.window_start,
                                                              campaign.window_end):
            log.warning("dialer.blocked_at_dial_time", attempt=attempt.id, number=lead.number,
                        dnc=",".join(blocked), campaign_running=running)
            await self._finish(attempt, outcome_override="blocked")
            return
        if plan is None:
            attempt.reason = 0
            await self._finish(attempt)
            return
        variables = {cc.CC_ATTEMPT: attempt.id, cc.CC_CAMPAIGN: campaign.code, cc.CC_NUMBER: lead.number,
                     cc.CC_QUEUE: campaign.queue, cc.CC_CONNECT_S: CONNECT_WITHIN_S, cc.CC_AMD: int(campaign.amd),
                     cc.CC_MACHINE_ACTION: campaign.machine_action, cc.CC_MACHINE_PROMPT: campaign.machine_prompt,
                     cc.CC_SAFE_HARBOR: campaign.safe_harbor_prompt, cc.inherited(cc.CC_TENANT): campaign.tenant_code,
                     cc.CC_RECORD: int(record), cc.inherited(cc.CC_REASON): f"campaign {campaign.code}",
                     cc.inherited(cc.CC_CUSTOMER_NAME): channel_text(lead.name)}
        await self._dial_leg(campaign, attempt, plan, variables, 0)

    async def _dial_leg(self, campaign: store.CampaignRow, attempt: Attempt, plan: Plan,
                        variables: dict[str, object], leg_no: int) -> None:
        """Originate the attempt's call on its route's ``leg_no``-th trunk. Its Hangup finishes the
        attempt, or (unanswered, the carrier congested) has the next leg dialled: on_event."""
        leg = plan.legs[leg_no]
        attempt.channel = channel_id(attempt.id, leg_no)
        if leg_no + 1 < len(plan.legs):
            self._next_legs[attempt.id] = (campaign, plan, variables, leg_no + 1)
        else:
            self._next_legs.pop(attempt.id, None)
        try:
            fields = actions.originate(leg.dial, channel_id=attempt.channel, context="dialer",
                                       timeout_s=campaign.ring_timeout_s,
                                       caller_id=campaign.caller_id or plan.caller_id or "", variables=variables)
            messages = await self._ami.action(fields, timeout=campaign.ring_timeout_s + 15)
        except (AmiUnavailable, AmiActionFailed, actions.InvalidVariable) as exc:  # (a campaign prompt with a comma)
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

    @staticmethod
    def owns(event: AmiEvent) -> bool:
        """An event of a call the dialer placed (its linkedid names the attempt)."""
        return event.linkedid.startswith(CHANNEL_PREFIX)

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
            if attempt.channel and event.uniqueid != attempt.channel:
                return  # an earlier leg's (a trunk of its route that could not take the call)
            cause = int(event.get("cause")) if event.get("cause").isdigit() else 0
            following = self._next_legs.pop(attempt.id, None)
            if attempt.answered_at is None and cause in FAILOVER_CAUSES and following is not None:
                campaign, plan, variables, leg_no = following
                log.info("dialer.failover", attempt=attempt.id, cause=cause, trunk=plan.legs[leg_no - 1].trunk,
                         next=plan.legs[leg_no].trunk)
                task = asyncio.create_task(self._dial_leg(campaign, attempt, plan, variables, leg_no),
                                           name=f"dial-{attempt.id}-{leg_no}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            attempt.ended_at = event.at
            if attempt.answered_at is None and attempt.reason is None:
                attempt.reason = outcomes.reason_of_hangup(cause)
            await self._finish(attempt)

    async def _finish(self, attempt: Attempt, outcome_override: str | None = None) -> None:
        self._next_legs.pop(attempt.id, None)
        if self.attempts.pop(attempt.id, None) is None:
            return  # already finished
        now = self._clock()
        attempt.ended_at = attempt.ended_at or now
        outcome = outcome_override or attempt.outcome
        async with self._pool.connection() as conn, conn.transaction():
            campaign = await store.get_campaign(conn, attempt.campaign)
            if campaign is None:
                return
            tries, of_kind = await store.lead_attempts(conn, attempt.lead_id, outcome) or (campaign.max_attempts, 0)
            if outcome == "blocked":
                on_list = bool(await store.dnc_hits(conn, campaign.tenant_id, campaign.id, attempt.number))
                step = outcomes.after_blocked(on_list, now)
                await store.uncount_attempt(conn, attempt.lead_id)
            else:
                step = compliance.after_attempt(outcome, tries, of_kind + 1, campaign.max_attempts,
                                                campaign.retry_rules, now)
            await store.finish_attempt(conn, attempt.id, {
                "outcome": outcome, "linkedid": attempt.channel or channel_id(attempt.id),
                "answered_at": attempt.answered_at, "human_at": attempt.live_at,
                "connected_at": attempt.connected_at, "ended_at": attempt.ended_at, "ring_s": attempt.ring_s,
                "wait_s": attempt.wait_s, "talk_s": attempt.talk_s, "agent": attempt.agent or None,
                "amd_cause": attempt.amd_cause or None, "reason": attempt.reason}, attempt.lead_id,
                step.status, step.next_at)
            if outcome != "blocked":  # the call's record (written by the CDR assembler too) is outbound
                await calls.record_outbound(conn, attempt.channel or channel_id(attempt.id), campaign.tenant_id,
                                            campaign.code, attempt.number)
        learning = self._learning.get(campaign.id)
        if learning is not None and outcome != "blocked":
            learning.fold(outcome, attempt.ring_s, attempt.screen_s, attempt.talk_s)
        log.info("dialer.attempt", attempt=attempt.id, campaign=attempt.campaign, number=attempt.number,
                 outcome=outcome, ring_s=attempt.ring_s, wait_s=attempt.wait_s, talk_s=attempt.talk_s,
                 agent=attempt.agent, lead=step.status)
        await self._publish("dialer_attempt", {"campaign": attempt.campaign, "attempt": attempt.id,
                                               "outcome": outcome, "agent": attempt.agent})

    async def _screen_pop(self, attempt: Attempt, agent: str) -> None:
        async with self._pool.connection() as conn:
            lead = await store.lead_for_attempt(conn, attempt.id)
        await self._publish("screen_pop", {"linkedid": attempt.channel or channel_id(attempt.id), "agent": agent,
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
        if agent is not None and code in outcomes.DISPOSITIONS:
            result = "ok" if await self.set_disposition(agent.code, outcomes.DISPOSITIONS[code]) else "failed"
        await session.set_variable(cc.CC_AGENT_RESULT, result)

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
            orphans = await store.orphaned_attempts(conn, self.node, self._clock() - outcomes.ORPHAN_AGE)
            await store.settle_lost(conn, orphans, self._clock() + outcomes.LOST_RETRY)
        return len(orphans)

    async def settle_after_outage(self) -> int:
        """PostgreSQL is back: the hang-ups of attempts that ended meanwhile were never stored. Each attempt
        still 'dialing' whose channel Asterisk no longer has is settled as lost (retried after 72 h, as a
        possibly abandoned call must be); the ones still up get their events as usual."""
        self._settle_pending = True  # until it has been done (Asterisk may be away too)
        live = {attempt_of(c.linkedid) for c in await queries.active_channels(self._ami)}  # (any trunk's leg)
        async with self._pool.connection() as conn, conn.transaction():
            in_flight = await store.orphaned_attempts(conn, self.node, self._clock() - outcomes.ORPHAN_AGE)
            gone = [(a, lead) for a, lead in in_flight if a not in live]
            await store.settle_lost(conn, gone, self._clock() + outcomes.LOST_RETRY)
        for attempt_id, _lead in gone:
            self.attempts.pop(attempt_id, None)  # its events were skipped: what it knows is out of date
        self._settle_pending = False
        if gone:
            log.warning("dialer.attempts_settled_after_outage", attempts=len(gone))
        return len(gone)

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


def pacing_of(campaign: store.CampaignRow) -> CampaignPacing:
    return CampaignPacing(pacing.mode_of(campaign.mode), campaign.abandon_target, campaign.max_lines,
                          campaign.max_ratio, campaign.wrapup_s, campaign.amd_false_positive)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def apply_disposition(conn: Any, lead_id: int, number: str, campaign_id: int, disposition: str,
                            now: datetime) -> None:
    """Record an agent's disposition of a lead and do what it implies (outcomes.after_disposition: the
    campaign's recycling rules)."""
    attempts, of_kind = await store.set_disposition(conn, lead_id, disposition)
    campaign = await store.campaign_by_id(conn, campaign_id)
    if campaign is None:
        return
    change = outcomes.after_disposition(disposition, attempts, of_kind, campaign.max_attempts,
                                        campaign.retry_rules, now)
    if change.add_to_dnc:
        await store.add_dnc(conn, "campaign", None, campaign_id, [number], "agent disposition")
    if change.status is not None:
        await store.set_lead_status(conn, lead_id, change.status, change.next_at)


async def campaign_status(conn: Any, code: str, now: datetime) -> dict[str, Any] | None:
    """Live figures of a campaign (None if there is none): see figures.py."""
    campaign = await store.get_campaign(conn, code)
    if campaign is None:
        return None
    day = day_start(now, campaign.tenant_timezone)
    abandonment = await store.abandonment_counts(conn, campaign.id, now, day)
    agents = await store.campaign_agents(conn, campaign.queue)
    codes = {a for a, _, _ in agents}
    history = [h for h in await reports.state_history(conn, day, now, campaign.tenant_code) if h[0] in codes]
    counts = CampaignCounts(
        code=code, mode=campaign.mode, status=campaign.status, abandon_target=campaign.abandon_target,
        dial_rate_per_min=await store.dial_rate(conn, campaign.id, now - timedelta(minutes=1)),
        agent_states=[state for _, state, _ in agents], live_30d=abandonment.live_window,
        abandoned_30d=abandonment.abandoned_window, live_today=abandonment.live_today,
        abandoned_today=abandonment.abandoned_today,
        outcomes_today=await store.outcome_counts(conn, campaign.id, day),
        leads=await store.lead_status_counts(conn, campaign.id))
    return campaign_figures(counts, history, now)
