"""`callcenter queue add|set|show|list|member`: app_queue queues owned by a tenant, with skills routing."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, emit_json, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.routing.overflow import OverflowRule
from middleware.routing.skills import InvalidSteps, parse_steps
from middleware.routing.wait_estimate import accuracy
from middleware.store import agents as agent_store
from middleware.store import calls, teams, tenants

STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered", "linear", "wrandom")


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("queue", help="queues")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add or change a queue (then `callcenter asterisk sync`)")
    a.add_argument("name")
    a.add_argument("--tenant", required=True)
    a.add_argument("--strategy", choices=STRATEGIES, default="ringall")
    a.add_argument("--ring-timeout", type=int, default=15, help="seconds to ring one agent")
    a.add_argument("--wrap-up", type=int, default=5, help="seconds of wrap-up after a call")
    a.add_argument("--service-level", type=int, default=20, help="service-level threshold, seconds")
    _routing_args(a)
    _caller_args(a)
    a.set_defaults(func=cmd_add)
    st = verbs.add_parser("set", help="change some settings of an existing queue")
    st.add_argument("name")
    st.add_argument("--strategy", choices=STRATEGIES)
    st.add_argument("--ring-timeout", type=int)
    st.add_argument("--wrap-up", type=int)
    st.add_argument("--service-level", type=int)
    _routing_args(st)
    _caller_args(st)
    st.add_argument("--overflow-team", help="team that joins when callers wait too long ('' to drop the rule)")
    st.add_argument("--overflow-join", type=int, help="expected wait (s) at which the team joins")
    st.add_argument("--overflow-leave", type=int, default=None, help="expected wait (s) at which it leaves")
    st.set_defaults(func=cmd_set)
    sh = verbs.add_parser("show", help="a queue's settings and members")
    sh.add_argument("name")
    add_json_flag(sh)
    sh.set_defaults(func=cmd_show)
    ls = verbs.add_parser("list", help="list queues")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    e = verbs.add_parser("estimates", help="how the announced wait estimates compared with the real waits")
    e.add_argument("name", nargs="?", help="one queue (default: every queue)")
    e.add_argument("--days", type=int, default=30, help="calls of the last N days (default 30)")
    add_json_flag(e)
    e.set_defaults(func=cmd_estimates)
    m = verbs.add_parser("member", help="make an agent a member of a queue")
    m.add_argument("name")
    m.add_argument("agent")
    m.add_argument("--penalty", type=int, default=0)
    m.set_defaults(func=cmd_member)


def _routing_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skill", help="the skill its calls need ('' for none): members get penalty 6 - proficiency")
    parser.add_argument("--widen", help='SECONDS:PROFICIENCY steps, e.g. "0:5,15:4,30:2": who may answer as '
                                        "the caller waits ('' for none)")


def _caller_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--extension", help="digits agents dial to transfer a caller here ('' for none)")
    parser.add_argument("--announce-every", type=int,
                        help="seconds between position/wait announcements to waiting callers (0: on entry only)")


async def _save_caller_settings(conn: AsyncConnection, name: str, args: argparse.Namespace) -> None:
    if args.extension is None and args.announce_every is None:
        return
    try:
        await tenants.set_queue_caller_settings(conn, name, args.extension, args.announce_every)
    except psycopg.errors.UniqueViolation as exc:
        raise CliError(f"extension {args.extension} is already another queue's in this tenant") from exc
    except psycopg.errors.CheckViolation as exc:
        raise CliError(f"queue {name!r}: --extension must be 2-8 digits and --announce-every 0 or "
                       f"at least 15 seconds ({exc.diag.constraint_name})") from exc


def _steps(text: str | None) -> list[tuple[int, int]] | None:
    if text is None:
        return None
    try:
        return [(s.after_s, s.min_proficiency) for s in parse_steps(text)]
    except InvalidSteps as exc:
        raise CliError(f"--widen: {exc}") from exc


async def _save(conn: AsyncConnection, tenant_id: int, name: str, strategy: str, ring_timeout: int, wrap_up: int,
                service_level: int, skill: str | None, steps: list[tuple[int, int]]) -> None:
    if steps and not skill:
        raise CliError("--widen needs --skill: the steps are proficiencies in that skill")
    try:
        await tenants.upsert_queue(conn, tenant_id, name, strategy=strategy, ring_timeout_s=ring_timeout,
                                   wrapup_s=wrap_up, service_level_s=service_level)
    except psycopg.errors.CheckViolation as exc:
        raise CliError(f"queue {name!r}: a value is out of range ({exc.diag.constraint_name})") from exc
    await tenants.set_queue_routing(conn, name, skill, steps)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    steps = _steps(args.widen) or []

    async def add(conn: AsyncConnection) -> None:
        await _save(conn, await require_tenant(conn, args.tenant), args.name, args.strategy, args.ring_timeout,
                    args.wrap_up, args.service_level, args.skill or None, steps)
        await _save_caller_settings(conn, args.name, args)

    with_connection(settings, add)
    print(f"queue {args.name} ({args.strategy}); run `callcenter asterisk sync` to apply")
    return 0


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    steps = _steps(args.widen)

    async def change(conn: AsyncConnection) -> None:
        current = next((q for q in await tenants.list_queues(conn) if q.name == args.name), None)
        if current is None:
            raise CliError(f"no queue {args.name!r}")
        tenant_id = await require_tenant(conn, current.tenant_code)
        skill = current.skill if args.skill is None else (args.skill or None)
        await _save(conn, tenant_id, args.name, args.strategy or current.strategy,
                    args.ring_timeout if args.ring_timeout is not None else current.ring_timeout_s,
                    args.wrap_up if args.wrap_up is not None else current.wrapup_s,
                    args.service_level if args.service_level is not None else current.service_level_s,
                    skill, list(current.widen_steps) if steps is None else steps)
        await _save_caller_settings(conn, args.name, args)
        if args.overflow_team is not None:
            await _overflow(conn, args)

    with_connection(settings, change)
    print(f"queue {args.name} changed; run `callcenter asterisk sync` to apply")
    return 0


async def _overflow(conn: AsyncConnection, args: argparse.Namespace) -> None:
    if args.overflow_team == "":
        await teams.set_overflow(conn, args.name, None, None, None)
        return
    join, leave = args.overflow_join, args.overflow_leave if args.overflow_leave is not None else 0
    if join is None:
        raise CliError("--overflow-team needs --overflow-join SECONDS")
    try:
        OverflowRule(args.overflow_team, join, leave)
    except ValueError as exc:
        raise CliError(f"overflow: {exc}") from exc
    if not await teams.team_exists(conn, args.overflow_team):
        raise CliError(f"no team {args.overflow_team!r} (`callcenter team add` it first)")
    await teams.set_overflow(conn, args.name, args.overflow_team, join, leave)


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def one(conn: AsyncConnection) -> dict[str, Any]:
        queue = next((q for q in await tenants.list_queues(conn) if q.name == args.name), None)
        if queue is None:
            raise CliError(f"no queue {args.name!r}")
        members = [m for m in await agent_store.memberships(conn) if m.queue == args.name]
        rule = next((r for r in await teams.overflow_rules(conn) if r.queue == args.name), None)
        history = await teams.overflow_log(conn, args.name)
        return {**asdict(queue), "members": [{"agent": m.agent_code, "penalty": m.penalty, "state": m.state.value,
                                              "eligible": m.eligible} for m in members],
                "overflow": None if rule is None else {**asdict(rule.rule), "active": rule.active},
                "overflow_log": [{"at": at, "action": action, "team": team, "expected_wait_s": ewt}
                                 for at, action, team, ewt in history]}

    data = with_connection(settings, one)
    if args.json:
        emit_json(data)
        return 0
    for key in ("name", "tenant_code", "strategy", "ring_timeout_s", "wrapup_s", "service_level_s", "skill",
                "extension", "announce_every_s"):
        print(f"{key:16} {data[key] if data[key] not in (None, '') else '-'}")
    steps = ", ".join(f"after {s}s proficiency >= {p}" for s, p in data["widen_steps"])
    print(f"{'widening':16} {steps or '-'}")
    overflow = data["overflow"]
    if overflow:
        print(f"{'overflow':16} team {overflow['team']} joins at {overflow['join_wait_s']}s expected wait, "
              f"leaves at {overflow['leave_wait_s']}s; now {'IN' if overflow['active'] else 'out'}")
        for entry in data["overflow_log"]:
            print(f"  {entry['at']:%Y-%m-%d %H:%M:%S}  {entry['team']} {entry['action']}s "
                  f"(expected wait {entry['expected_wait_s']:.0f}s)")
    print("members")
    for m in data["members"]:
        note = "" if m["eligible"] else "  (lacks the skill: kept out)"
        print(f"  {m['agent']:10} penalty {m['penalty']:<3} {m['state']}{note}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [asdict(q) for q in await tenants.list_queues(conn)]

    show_rows(args, with_connection(settings, rows),
              ("name", "tenant_code", "strategy", "ring_timeout_s", "wrapup_s", "service_level_s"))
    return 0


def cmd_estimates(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 1:
        raise CliError("--days must be at least 1")
    since = datetime.now(UTC) - timedelta(days=args.days)

    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        if args.name and await tenants.get_queue(conn, args.name) is None:
            raise CliError(f"no queue {args.name!r}")
        pairs = await calls.estimate_pairs(conn, args.name, since)
        return [{"queue": q, **asdict(accuracy(p))} for q, p in sorted(pairs.items())]

    show_rows(args, with_connection(settings, rows),
              ("queue", "calls", "mean_abs_error_s", "bias_s", "within_30s", "within_25pct"))
    return 0


def cmd_member(args: argparse.Namespace, settings: Settings) -> int:
    async def add(conn: AsyncConnection) -> None:
        if await agent_store.get_agent(conn, args.agent) is None:
            raise CliError(f"no agent {args.agent!r}")
        if not await tenants.queue_exists(conn, args.name):
            raise CliError(f"no queue {args.name!r}")
        await agent_store.add_membership(conn, args.name, args.agent, args.penalty)

    with_connection(settings, add)
    print(f"agent {args.agent} is a member of {args.name} (penalty {args.penalty})")
    return 0
