"""The API's resources: one handler per operation and the table of operations (path, role, params,
response schema) that registers them. Handlers are thin: checked input in, a tenant-scoped store
query, rows out. Another tenant's object is "not found", never "forbidden": its existence is not
revealed either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from psycopg import errors as pg_errors

from middleware.agents.service import AgentError
from middleware.agents.state import AgentEvent, AgentState
from middleware.ami.client import AmiActionFailed, AmiUnavailable
from middleware.api.spec import (
    BOOL,
    INT,
    NUM,
    STR,
    TIME,
    BadRequest,
    Conflict,
    Json,
    NotFound,
    Operation,
    Param,
    Request,
    Unavailable,
    array,
    nullable,
    obj,
)
from middleware.dialer.leads import make_lead
from middleware.dialer.service import campaign_status
from middleware.principal import Principal
from middleware.reports import kpis
from middleware.store import campaigns as campaign_store
from middleware.store import recordings as recording_store
from middleware.store import reports as report_store
from middleware.store import tenant_views as views
from middleware.store import tenants as tenant_store
from middleware.store.database import Pool

AUDIO_TYPES = {"wav": "audio/wav", "gsm": "audio/x-gsm", "ogg": "audio/ogg"}
LiveQueues = Callable[[], Awaitable[dict[str, dict[str, Any]] | None]]

CODE = r"^[A-Za-z0-9_-]{1,32}$"
NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
AGENT_STATES = ("logged_out", "available", "ringing", "on_call", "wrap_up", "paused")


class AgentActions(Protocol):
    async def apply(self, code: str, event: AgentEvent, reason: str = "") -> AgentState: ...


@dataclass
class Api:
    """What the handlers need: the pool, the clock, where recordings live, and (on a node with an AMI
    connection; None elsewhere) live queue figures and agent actions."""
    pool: Pool
    clock: Callable[[], datetime]
    recordings_root: Path
    live_queues: LiveQueues | None = None
    agents: AgentActions | None = None


def _scope(principal: Principal) -> int | None:
    return principal.tenant_id


def _found(row: Any, what: str) -> Any:
    if row is None:
        raise NotFound(f"no such {what}")
    return row


# agents ----------------------------------------------------------------------------------------

AGENT = obj(code=STR, name=STR, tenant=STR, state=STR, state_reason=STR, state_since=TIME, session_mode=STR,
            queues=array(STR))


async def list_agents(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return await views.agents(conn, _scope(req.principal), req.query["state"])


async def get_agent(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return _found(await views.agent(conn, _scope(req.principal), req.path["code"]), "agent")


def _agent_action(event: AgentEvent) -> Callable[[Api, Request], Awaitable[Any]]:
    async def act(api: Api, req: Request) -> Any:
        code = req.path["code"]
        async with api.pool.connection() as conn:
            _found(await views.agent(conn, _scope(req.principal), code), "agent")
        if api.agents is None:
            raise Unavailable("this node has no AMI connection (serve it with the ami part)")
        try:
            await api.agents.apply(code, event, (req.body.get("reason") or "")[:80])
        except AgentError as exc:
            raise Conflict(str(exc)) from None
        except (AmiUnavailable, AmiActionFailed) as exc:
            raise Unavailable(f"Asterisk did not take it: {exc}") from None
        async with api.pool.connection() as conn:
            return await views.agent(conn, _scope(req.principal), code)
    act.__name__ = f"{event.value}_agent"
    return act


async def get_me(api: Api, req: Request) -> Any:
    p: Principal = req.principal
    agent = None
    if p.agent is not None:
        async with api.pool.connection() as conn:
            agent = await views.agent(conn, p.tenant_id, p.agent)
    return {"token_id": p.token_id, "role": p.role, "tenant": p.tenant, "agent": agent}


# phones, queues, flows -------------------------------------------------------------------------

PHONE = obj(endpoint=STR, tenant=STR, agent=nullable(STR), caller_name=STR, codecs=STR)
QUEUE = obj(name=STR, tenant=STR, description=STR, strategy=STR, ring_timeout_s=INT, wrapup_s=INT,
            service_level_s=INT, max_wait_s=INT, skill=nullable(STR), weight=INT, overflow_team=nullable(STR),
            overflow_active=BOOL, members=array(STR))
FLOW = obj(name=STR, tenant=STR, description=STR, version=INT, loaded_at=TIME)
FLOW_SOURCE = obj(name=STR, tenant=STR, description=STR, version=INT, loaded_at=TIME, source=STR)


async def list_phones(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return await views.phones(conn, _scope(req.principal))


async def list_queues(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return await views.queues(conn, _scope(req.principal))


async def get_queue(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return _found(await views.queue(conn, _scope(req.principal), req.path["name"]), "queue")


async def list_flows(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return await views.flows(conn, _scope(req.principal))


async def get_flow(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        rows = await views.flow(conn, _scope(req.principal), req.path["name"])
    return _found(rows or None, "IVR flow")


# campaigns and leads -----------------------------------------------------------------------------

CAMPAIGN = obj(code=STR, tenant=STR, name=STR, mode=STR, status=STR, caller_id=STR, abandon_target=NUM,
               window_start=STR, window_end=STR, max_attempts=INT, amd=BOOL, machine_action=STR, queue=STR)
RATE = nullable(NUM)
CAMPAIGN_STATUS = obj(
    campaign=STR, mode=STR, status=STR, dial_rate_per_min=INT,
    agents={"type": "object", "additionalProperties": INT},
    today=obj(outcomes={"type": "object", "additionalProperties": INT}, live_answers=INT, abandoned=INT,
              abandon_rate=RATE),
    last_30_days=obj(live_answers=INT, abandoned=INT, abandon_rate=RATE),
    abandon_target=NUM, occupancy_today=RATE, leads={"type": "object", "additionalProperties": INT})
LEAD = obj(id=INT, list=STR, number=STR, name=STR, timezone=STR, status=STR, attempts=INT, next_at=TIME,
           last_outcome=nullable(STR), disposition=nullable(STR))


async def list_campaigns(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return await views.campaigns(conn, _scope(req.principal), req.query["status"])


async def get_campaign(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        _found(await views.campaign(conn, _scope(req.principal), req.path["code"]), "campaign")
        status = await campaign_status(conn, req.path["code"], api.clock())
    return _found(status, "campaign")


def _status_change(status: str) -> Callable[[Api, Request], Awaitable[Any]]:
    async def change(api: Api, req: Request) -> Any:
        async with api.pool.connection() as conn:
            _found(await views.campaign(conn, _scope(req.principal), req.path["code"]), "campaign")
            await campaign_store.set_status(conn, req.path["code"], status)
            return await views.campaign(conn, _scope(req.principal), req.path["code"])
    change.__name__ = {"running": "start_campaign", "paused": "pause_campaign", "stopped": "stop_campaign"}[status]
    return change


async def list_leads(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        _found(await views.campaign(conn, _scope(req.principal), req.path["code"]), "campaign")
        return await views.leads(conn, _scope(req.principal), req.path["code"], req.query["status"],
                                 req.query["limit"])


async def list_lead_lists(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        _found(await views.campaign(conn, _scope(req.principal), req.path["code"]), "campaign")
        campaign = await campaign_store.get_campaign(conn, req.path["code"])
        assert campaign is not None
        return await campaign_store.lead_lists(conn, campaign.id)


async def add_lead(api: Api, req: Request) -> Any:
    body = req.body
    async with api.pool.connection() as conn:
        campaign = await campaign_store.get_campaign(conn, req.path["code"])
        row = await views.campaign(conn, _scope(req.principal), req.path["code"])
        if campaign is None or row is None:
            raise NotFound("no such campaign")
        policy = await tenant_store.dialing_policy(conn, campaign.tenant_id)
        assert policy is not None
        try:
            lead = make_lead(0, body["number"], body["timezone"] or "", body["name"] or "", {}, policy,
                             body["region"] or None)
        except ValueError as exc:  # NumberRefused too: the tenant's dialing policy says no
            raise BadRequest(str(exc)) from None
        if body["list"] and await campaign_store.list_id(conn, campaign.id, body["list"]) is None:
            raise NotFound(f"campaign {campaign.code} has no list {body['list']!r}")
        added = await campaign_store.import_leads(conn, campaign.id, [lead],
                                                  body["list"] or campaign_store.DEFAULT_LIST)
        stored = await views.lead(conn, _scope(req.principal), req.path["code"], lead.number)
    return {"added": bool(added), "lead": stored}


# calls, recordings, reports ----------------------------------------------------------------------

CALL_FIELDS: dict[str, Json] = dict(
    linkedid=STR, tenant=nullable(STR), direction=STR, caller_number=nullable(STR), did=nullable(STR),
    queue=nullable(STR), agent=nullable(STR), campaign=nullable(STR), started_at=nullable(TIME),
    answered_at=nullable(TIME), connected_at=nullable(TIME), ended_at=nullable(TIME), wait_s=RATE,
    talk_s=RATE, duration_s=RATE, disposition=nullable(STR), csat_score=nullable(INT), complete=BOOL)
CALL = obj(**CALL_FIELDS)
CALL_DETAIL = obj(**CALL_FIELDS, legs=array({"type": "object"}), transfers=array({"type": "object"}),
                  ivr_path=array({}))
RECORDING = obj(id=INT, linkedid=STR, tenant=nullable(STR), format=STR, started_at=nullable(TIME),
                duration_s=RATE, size_bytes=nullable(INT), sha256=nullable(STR), agent=nullable(STR),
                queue=nullable(STR), campaign=nullable(STR), caller_number=nullable(STR),
                disposition=nullable(STR))
KPI_ROW = obj(group=STR, offered=INT, answered=INT, abandoned=INT, abandoned_after_short=INT, asa_s=RATE,
              aht_s=RATE, service_level=RATE, longest_wait_s=RATE, fcr=RATE, occupancy=RATE, utilisation=RATE,
              transfer_rate=RATE, csat_avg=RATE, csat_responses=INT)


async def list_calls(api: Api, req: Request) -> Any:
    q = req.query
    async with api.pool.connection() as conn:
        return await views.calls(conn, _scope(req.principal), since=q["since"], until=q["until"], queue=q["queue"],
                                 agent=q["agent"], direction=q["direction"], limit=q["limit"])


async def get_call(api: Api, req: Request) -> Any:
    async with api.pool.connection() as conn:
        return _found(await views.call(conn, _scope(req.principal), req.path["linkedid"]), "call")


def _recording(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "linkedid", "tenant", "format", "started_at", "size_bytes", "sha256", "queue",
                               "campaign", "caller_number", "disposition")}
    out["agent"] = row["agent_code"]
    out["duration_s"] = None if row["duration_s"] is None else float(row["duration_s"])
    return out


async def search_recordings(api: Api, req: Request) -> Any:
    q = req.query
    search = recording_store.Search(tenant=req.principal.tenant, agent=q["agent"], caller=q["caller"],
                                    queue=q["queue"], campaign=q["campaign"], since=q["since"], until=q["until"],
                                    min_duration_s=q["min_duration_s"], disposition=q["disposition"],
                                    limit=q["limit"])
    async with api.pool.connection() as conn:
        return [_recording(r) for r in await recording_store.search(conn, search)]


async def _visible_recording(api: Api, req: Request) -> dict[str, Any]:
    async with api.pool.connection() as conn:
        row = await recording_store.get(conn, req.path["id"])
    p: Principal = req.principal
    if row is None or (p.tenant_id is not None and row["tenant"] != p.tenant):
        raise NotFound("no such recording")
    return row


async def get_recording(api: Api, req: Request) -> Any:
    return _recording(await _visible_recording(api, req))


async def download_recording(api: Api, req: Request) -> Any:
    """The audio file; aiohttp's FileResponse answers Range requests (206) and If-Range itself."""
    row = await _visible_recording(api, req)
    path = Path(row["path"]).resolve()
    if not path.is_relative_to(api.recordings_root.resolve()) or not path.is_file():
        raise NotFound("the recording's file is not on this host (recordings verify tells more)")
    media = AUDIO_TYPES.get(row["format"], "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": media,
                                           "Content-Disposition": f'attachment; filename="{path.name}"'})


async def report(api: Api, req: Request) -> Any:
    q = req.query
    end = q["until"] or api.clock()
    start = q["since"] or end - timedelta(days=1)
    if start >= end:
        raise BadRequest("since must come before until")
    if end - start > timedelta(days=366):
        raise BadRequest("a report covers at most 366 days")
    tenant = req.principal.tenant
    async with api.pool.connection() as conn:
        facts = await report_store.call_facts(conn, start, end, tenant)
        history = await report_store.state_history(conn, start, end, tenant)
    # A year of calls is seconds of pure computation: in a thread, so FastAGI and AMI keep being served.
    rows = await asyncio.to_thread(_kpi_rows, facts, history, q["by"], start, end, q["sla_s"], q["fcr_hours"])
    return {"since": start, "until": end, "by": q["by"], "rows": [kpi.__dict__ for kpi in rows]}


def _kpi_rows(facts: Any, history: Any, by: str, start: datetime, end: datetime, sla_s: int,
              fcr_hours: int) -> list[Any]:
    spans = kpis.spans_from_history(history, end)
    return kpis.report(facts, spans, by, start, end, service_level_s=sla_s, fcr_window=timedelta(hours=fcr_hours))


REPORT = obj(since=TIME, until=TIME, by=STR, rows=array(KPI_ROW))


# wallboard ---------------------------------------------------------------------------------------

WALLBOARD = obj(
    at=TIME,
    queues=array(obj(queue=STR, waiting=nullable(INT), longest_wait_s=RATE, offered=INT, answered=INT,
                     abandoned=INT, service_level=RATE, service_level_s=INT)),
    agents={"type": "object", "additionalProperties": INT},
    campaigns=array(obj(campaign=STR, status=STR, abandon_rate_today=RATE, abandon_rate_30d=RATE,
                        occupancy_today=RATE, dial_rate_per_min=INT)))


async def wallboard(api: Api, req: Request) -> Any:
    """Per queue waiting calls, longest wait and today's service level; agents by state; campaigns."""
    now = api.clock()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tenant = _scope(req.principal)
    live = await api.live_queues() if api.live_queues is not None else None
    async with api.pool.connection() as conn:
        queue_rows = await views.queue_day(conn, tenant, day)
        agent_rows = await views.agents(conn, tenant)
        campaign_rows = await views.campaigns(conn, tenant)
        statuses = [await campaign_status(conn, c["code"], now) for c in campaign_rows]
    dialer_queues = {c["queue"] for c in campaign_rows}
    queues = []
    for q in queue_rows:
        if q["queue"] in dialer_queues:
            continue
        figures = (live or {}).get(q["queue"], {})
        queues.append({"queue": q["queue"], "waiting": figures.get("waiting", 0 if live is not None else None),
                       "longest_wait_s": figures.get("longest_wait_s"), "offered": q["offered"],
                       "answered": q["answered"], "abandoned": q["abandoned"],
                       "service_level": round(q["within_sla"] / q["offered"], 4) if q["offered"] else None,
                       "service_level_s": q["service_level_s"]})
    by_state = dict.fromkeys(AGENT_STATES, 0)
    for a in agent_rows:
        by_state[a["state"]] = by_state.get(a["state"], 0) + 1
    campaigns = [{"campaign": s["campaign"], "status": s["status"], "abandon_rate_today": s["today"]["abandon_rate"],
                  "abandon_rate_30d": s["last_30_days"]["abandon_rate"], "occupancy_today": s["occupancy_today"],
                  "dial_rate_per_min": s["dial_rate_per_min"]} for s in statuses if s is not None]
    return {"at": now, "queues": queues, "agents": by_state, "campaigns": campaigns}


# the table -----------------------------------------------------------------------------------------

V1 = "/api/v1"
LIMIT = Param("limit", "integer", minimum=1, maximum=1000, default=100, description="at most this many rows")
SINCE = Param("since", "date-time", description="from this instant (ISO 8601 with offset)")
UNTIL = Param("until", "date-time", description="before this instant")
CODE_PATH = Param("code", required=True, pattern=CODE, max_length=32)
NAME_PATH = Param("name", required=True, pattern=NAME, max_length=63)
ADDED_LEAD = obj(added=BOOL, lead=LEAD)
LEAD_LIST = obj(list=STR, priority=INT, active=BOOL, leads=INT, ready=INT, dialing=INT, done=INT, failed=INT,
                dnc=INT, resets=INT, reset_at=nullable(TIME))
ME = obj(token_id=INT, role=STR, tenant=nullable(STR), agent={"oneOf": [AGENT, {"type": "null"}]})

OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/me", get_me, "The token's own role, tenant and agent", "agent", "auth", ME),
    Operation("GET", f"{V1}/agents", list_agents, "Agents and their live state", "supervisor", "agents",
              array(AGENT), query=(Param("state", enum=AGENT_STATES),)),
    Operation("GET", f"{V1}/agents/{{code}}", get_agent, "One agent", "supervisor", "agents", AGENT,
              path_params=(CODE_PATH,)),
    *[Operation("POST", f"{V1}/agents/{{code}}/{event.value}", _agent_action(event),
                f"{event.value.title()} an agent (as the agent's own feature code would)", "supervisor", "agents",
                AGENT, path_params=(CODE_PATH,), errors=(409, 503),
                body=(Param("reason", max_length=80, description="shown in the agent's state history"),))
      for event in (AgentEvent.PAUSE, AgentEvent.UNPAUSE, AgentEvent.LOGOUT)],
    Operation("GET", f"{V1}/phones", list_phones, "SIP phones (without secrets)", "supervisor", "phones",
              array(PHONE)),
    Operation("GET", f"{V1}/queues", list_queues, "Queues and their members", "supervisor", "queues", array(QUEUE)),
    Operation("GET", f"{V1}/queues/{{name}}", get_queue, "One queue", "supervisor", "queues", QUEUE,
              path_params=(NAME_PATH,)),
    Operation("GET", f"{V1}/ivr-flows", list_flows, "IVR flows", "supervisor", "ivr", array(FLOW)),
    Operation("GET", f"{V1}/ivr-flows/{{name}}", get_flow, "An IVR flow with its YAML source", "supervisor", "ivr",
              array(FLOW_SOURCE), path_params=(Param("name", required=True, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                      max_length=64),)),
    Operation("GET", f"{V1}/campaigns", list_campaigns, "Outbound campaigns", "supervisor", "campaigns",
              array(CAMPAIGN), query=(Param("status", enum=("running", "paused", "stopped")),)),
    Operation("GET", f"{V1}/campaigns/{{code}}", get_campaign, "A campaign's live figures", "supervisor",
              "campaigns", CAMPAIGN_STATUS, path_params=(CODE_PATH,)),
    *[Operation("POST", f"{V1}/campaigns/{{code}}/{verb}", _status_change(status), f"{verb.title()} a campaign",
                "supervisor", "campaigns", CAMPAIGN, path_params=(CODE_PATH,), body=())
      for verb, status in (("start", "running"), ("pause", "paused"), ("stop", "stopped"))],
    Operation("GET", f"{V1}/campaigns/{{code}}/leads", list_leads, "A campaign's leads", "supervisor", "campaigns",
              array(LEAD), path_params=(CODE_PATH,),
              query=(Param("status", enum=("ready", "dialing", "done", "failed", "dnc")), LIMIT)),
    Operation("GET", f"{V1}/campaigns/{{code}}/lists", list_lead_lists,
              "A campaign's lead lists: priority, active flag, leads by status", "supervisor", "campaigns",
              array(LEAD_LIST), path_params=(CODE_PATH,)),
    Operation("POST", f"{V1}/campaigns/{{code}}/leads", add_lead, "Add one lead (E.164 normalised)", "supervisor",
              "campaigns", ADDED_LEAD, path_params=(CODE_PATH,), success=201,
              body=(Param("number", required=True, max_length=40, description="any dialable form"),
                    Param("name", max_length=200), Param("timezone", max_length=64),
                    Param("list", max_length=41, pattern=r"^[a-z0-9][a-z0-9_-]{0,40}\Z",
                          description="the campaign's list to add it to (default: default)"),
                    Param("region", pattern=r"^[A-Z]{2}\Z", max_length=2,
                          description="country for numbers without +"))),
    Operation("GET", f"{V1}/calls", list_calls, "Call records, newest first", "supervisor", "calls", array(CALL),
              query=(SINCE, UNTIL, Param("queue", pattern=NAME, max_length=63), Param("agent", pattern=CODE),
                     Param("direction", enum=("inbound", "outbound")), LIMIT)),
    Operation("GET", f"{V1}/calls/{{linkedid}}", get_call, "One call record with its legs", "supervisor", "calls",
              CALL_DETAIL, path_params=(Param("linkedid", required=True, pattern=r"^[A-Za-z0-9._-]{1,64}$",
                                              max_length=64),)),
    Operation("GET", f"{V1}/recordings", search_recordings, "Search recordings", "supervisor", "recordings",
              array(RECORDING),
              query=(Param("agent", pattern=CODE), Param("caller", pattern=r"^\+?[0-9]{1,20}$", max_length=21),
                     Param("queue", pattern=NAME, max_length=63), Param("campaign", pattern=CODE), SINCE, UNTIL,
                     Param("min_duration_s", "number", minimum=0, maximum=86400),
                     Param("disposition", max_length=40), LIMIT)),
    Operation("GET", f"{V1}/recordings/{{id}}", get_recording, "One recording's index row", "supervisor",
              "recordings", RECORDING, path_params=(Param("id", "integer", required=True, minimum=1),)),
    Operation("GET", f"{V1}/recordings/{{id}}/audio", download_recording, "The audio (HTTP Range supported)",
              "supervisor", "recordings", {"type": "string", "format": "binary"},
              path_params=(Param("id", "integer", required=True, minimum=1),), media="audio/wav"),
    Operation("GET", f"{V1}/reports/kpis", report, "KPIs of a period (default: the last 24 h)", "supervisor",
              "reports", REPORT,
              query=(SINCE, UNTIL, Param("by", enum=("queue", "agent", "campaign", "hour"), default="queue"),
                     Param("sla_s", "integer", minimum=1, maximum=3600, default=20),
                     Param("fcr_hours", "integer", minimum=1, maximum=24 * 30, default=24))),
    Operation("GET", f"{V1}/wallboard", wallboard, "What the wallboard shows, now", "supervisor", "wallboard",
              WALLBOARD),
]

# Errors a handler may meet that are the client's doing, not ours.
CLIENT_ERRORS: tuple[type[Exception], ...] = (pg_errors.CheckViolation, pg_errors.StringDataRightTruncation)
