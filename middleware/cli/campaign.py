"""`callcenter campaign|leads|dnc`: outbound campaigns, their lead lists and the do-not-call lists."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, emit_json, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.dialer import compliance
from middleware.dialer.leads import LeadError, Problem, parse_leads, parse_numbers
from middleware.dialer.outcomes import DISPOSITIONS
from middleware.dialer.pacing import MODES
from middleware.dialer.service import apply_disposition, campaign_status
from middleware.dialing.policy import DialingPolicy
from middleware.store import agents as agent_store
from middleware.store import campaigns as store
from middleware.store import flows, tenants

MACHINE_ACTIONS = ("hangup", "message", "agent")
PRIORITIES = tuple(store.WEIGHT_OF_PRIORITY)
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}\Z")
_PROMPT = re.compile(r"[A-Za-z0-9_/-]{1,120}\Z")
_CALLER_ID = re.compile(r"(\"[^\"\\\n,]{0,40}\" )?<?\+?[0-9]{3,20}>?\Z")


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("campaign", help="outbound campaigns and the predictive dialer")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    c = verbs.add_parser("create", help="a campaign, its agents and its dialing rules (then `asterisk sync`)")
    c.add_argument("code")
    c.add_argument("--tenant", required=True)
    c.add_argument("--name", default="")
    c.add_argument("--caller-id", required=True, help='number shown to customers, e.g. \'"Acme" <+15551000>\'')
    c.add_argument("--trunk", help="trunk to dial out on (default: the tenant's only allowed trunk)")
    c.add_argument("--mode", choices=MODES, default="predictive")
    c.add_argument("--agents", default="", help="agent codes, comma-separated")
    c.add_argument("--teams", default="", help="teams whose agents take the calls, comma-separated")
    c.add_argument("--abandon-target", type=float, default=0.03, help="abandoned / live answers, at most 0.03")
    c.add_argument("--window", default="08:00-21:00", help="HH:MM-HH:MM in the called party's time")
    c.add_argument("--retry", action="append", default=[], metavar="OUTCOME=SECONDS[/MAX]",
                   help="recycling rule of an outcome or a disposition: rest SECONDS, give up after MAX calls "
                        "ended so, e.g. no_answer=3600/3 busy=600 callback=86400/3 not_interested=2592000/2 "
                        "(repeatable)")
    c.add_argument("--max-attempts", type=int, default=3)
    c.add_argument("--ring-timeout", type=int, default=20, help="seconds to ring a customer (at least 15)")
    c.add_argument("--no-amd", dest="amd", action="store_false", help="no answering-machine detection")
    c.add_argument("--machine", choices=MACHINE_ACTIONS, default="hangup", help="what to do on a machine")
    c.add_argument("--amd-false-positive", type=float, default=0.0, metavar="SHARE",
                   help="share of machine verdicts that were people, as measured (e.g. 0.01): counted as "
                        "abandoned calls in the abandonment budget, as regulators count them")
    c.add_argument("--machine-prompt", default="", help="message left on a machine (with --machine message)")
    c.add_argument("--safe-harbor", required=True,
                   help="prompt played when no agent is free within 2 s: who called, a number, how to opt out")
    c.add_argument("--max-lines", type=int, default=50, help="calls in flight at most")
    c.add_argument("--max-ratio", type=float, default=4.0, help="calls in flight per logged-in agent at most")
    c.add_argument("--preview-seconds", type=int, default=10, help="preview mode: seconds the agent sees the lead")
    c.add_argument("--inbound-priority", choices=PRIORITIES, default="inbound",
                   help="for blended agents: inbound first (default), equal, or outbound first")
    c.add_argument("--wrap-up", type=int, default=5, help="seconds of wrap-up after a campaign call")
    c.set_defaults(func=cmd_create)
    se = verbs.add_parser("set", help="change a campaign's dialing rules and pacing settings (also while it runs)")
    se.add_argument("code")
    se.add_argument("--name")
    se.add_argument("--caller-id")
    se.add_argument("--mode", choices=MODES)
    se.add_argument("--abandon-target", type=float)
    se.add_argument("--window", help="HH:MM-HH:MM in the called party's time")
    se.add_argument("--retry", action="append", default=[], metavar="OUTCOME=SECONDS[/MAX]",
                    help="recycling rule, merged over the campaign's own (repeatable)")
    se.add_argument("--max-attempts", type=int)
    se.add_argument("--ring-timeout", type=int)
    amd = se.add_mutually_exclusive_group()
    amd.add_argument("--amd", dest="amd", action="store_const", const=True)
    amd.add_argument("--no-amd", dest="amd", action="store_const", const=False)
    se.add_argument("--machine", choices=MACHINE_ACTIONS)
    se.add_argument("--machine-prompt")
    se.add_argument("--amd-false-positive", type=float, metavar="SHARE")
    se.add_argument("--safe-harbor")
    se.add_argument("--max-lines", type=int)
    se.add_argument("--max-ratio", type=float)
    se.add_argument("--preview-seconds", type=int)
    se.set_defaults(func=cmd_set)
    for verb, status, text in (("start", "running", "start dialing"), ("pause", "paused", "stop placing new calls"),
                               ("stop", "stopped", "stop the campaign")):
        s = verbs.add_parser(verb, help=text)
        s.add_argument("code")
        s.set_defaults(func=cmd_status_change, status=status)
    st = verbs.add_parser("status", help="live figures: dial rate, agents, answers, abandonment, occupancy")
    st.add_argument("code")
    add_json_flag(st)
    st.set_defaults(func=cmd_status)
    ls = verbs.add_parser("list", help="list campaigns")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)

    p = nouns.add_parser("leads", help="campaign lead lists")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    i = verbs.add_parser("import", help="import a CSV (number, optional timezone, name, any other columns)")
    i.add_argument("file", type=Path)
    i.add_argument("--campaign", required=True)
    i.add_argument("--list", default=store.DEFAULT_LIST, dest="list_name",
                   help="the campaign's lead list to add them to (made if new; default: default)")
    i.add_argument("--region", help="country of numbers written without +CC (default: the tenant's own); "
                   "the tenant's dialing policy decides which numbers may be called")
    i.add_argument("--no-progress", action="store_true")
    i.set_defaults(func=cmd_import)
    ll = verbs.add_parser("list", help="leads of a campaign")
    ll.add_argument("--campaign", required=True)
    ll.add_argument("--status")
    ll.add_argument("--list", dest="list_name", help="only this list's leads")
    add_json_flag(ll)
    ll.set_defaults(func=cmd_leads)
    d = verbs.add_parser("disposition", help="set the disposition of an agent's last campaign call")
    d.add_argument("--agent", required=True)
    d.add_argument("disposition", choices=sorted(DISPOSITIONS.values()))
    d.set_defaults(func=cmd_disposition)

    p = nouns.add_parser("dnc", help="do-not-call lists (global, tenant, campaign)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    for verb, text in (("import", "import a file of numbers"), ("add", "add numbers")):
        a = verbs.add_parser(verb, help=text)
        if verb == "import":
            a.add_argument("file", type=Path)
        else:
            a.add_argument("numbers", nargs="+")
        scope = a.add_mutually_exclusive_group()
        scope.add_argument("--tenant", help="the tenant's list (default: the global list)")
        scope.add_argument("--campaign", help="one campaign's list")
        a.add_argument("--region", default="US")
        a.set_defaults(func=cmd_dnc_add)
    dl = verbs.add_parser("list", help="numbers on the lists")
    dl.add_argument("--scope", choices=("global", "tenant", "campaign"))
    add_json_flag(dl)
    dl.set_defaults(func=cmd_dnc_list)


def parse_window(text: str) -> tuple[time, time]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", text.strip())
    if not m:
        raise CliError(f"--window {text!r}: expected HH:MM-HH:MM")
    try:
        start = time(int(m[1]), int(m[2]))
        end = time(int(m[3]), int(m[4])) if (m[3], m[4]) != ("24", "00") else time(23, 59)
        return compliance.check_window(start, end)
    except ValueError as exc:
        raise CliError(f"--window {text!r}: {exc}") from exc


def parse_retry(items: list[str], base: dict[str, dict[str, int]] | None = None) -> dict[str, dict[str, int]]:
    """Recycling rules from OUTCOME=SECONDS[/MAX] items, over ``base`` (a campaign's own) or the defaults."""
    rules: dict[str, dict[str, int]] = {k: dict(v) for k, v in (base or {}).items()}
    for item in items:
        m = re.fullmatch(r"([a-z_]+)=(\d+)(?:/(\d+))?", item.strip())
        if not m:
            raise CliError(f"--retry {item!r}: expected OUTCOME=SECONDS[/MAX], e.g. no_answer=3600/3")
        rules[m[1]] = rules.get(m[1], {}) | {"after_s": int(m[2])} | ({"max": int(m[3])} if m[3] else {})
    try:
        return compliance.check_retry_rules(rules)
    except compliance.RuleError as exc:
        raise CliError(f"--retry: {exc}") from exc


def check_list_name(name: str) -> str:
    if not _CODE.match(name):
        raise CliError(f"list {name!r}: lower-case letters, digits, - and _ (at most 41)")
    return name


def check_settings(values: dict[str, Any]) -> None:
    """A campaign's settings (given at create, or its stored ones with a `set`'s changes over them)."""
    if not _CALLER_ID.match(values["caller_id"]):
        raise CliError(f"--caller-id {values['caller_id']!r}: a number, optionally with a quoted name")
    for option, key in (("--safe-harbor", "safe_harbor_prompt"), ("--machine-prompt", "machine_prompt")):
        if values[key] and not _PROMPT.match(values[key]):
            raise CliError(f"{option} {values[key]!r}: a sound file name (letters, digits, _ - /)")
    if not values["safe_harbor_prompt"]:
        raise CliError("--safe-harbor: a campaign must have a safe-harbor message")
    if values["machine_action"] == "message" and not values["machine_prompt"]:
        raise CliError("--machine message needs --machine-prompt")
    if not 0 < values["abandon_target"] <= 0.03:
        raise CliError("--abandon-target must be above 0 and at most 0.03 (3% of live answers)")
    if not 0 <= values["amd_false_positive"] <= 0.5:
        raise CliError("--amd-false-positive is a share of the machine verdicts, from 0 to 0.5")
    if values["ring_timeout_s"] < 15:
        raise CliError("--ring-timeout must be at least 15 s (customers get time to answer)")
    if not 1 <= values["max_attempts"] <= 20:
        raise CliError("--max-attempts must be from 1 to 20")
    if not 1 <= values["max_lines"] <= 1000:
        raise CliError("--max-lines must be from 1 to 1000")
    if not 1 <= values["max_ratio"] <= 20:
        raise CliError("--max-ratio must be from 1 to 20")
    if not 0 <= values["preview_s"] <= 600:
        raise CliError("--preview-seconds must be from 0 to 600")


def _check_create(args: argparse.Namespace) -> None:
    if not _CODE.match(args.code):
        raise CliError(f"campaign code {args.code!r}: lower-case letters, digits, - and _ (at most 41)")
    if not args.agents.strip() and not args.teams.strip():
        raise CliError("give --agents or --teams: who takes the campaign's calls")


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    _check_create(args)
    start, end = parse_window(args.window)
    rules = parse_retry(args.retry)

    settings_row: dict[str, Any] = {"name": args.name, "caller_id": args.caller_id, "mode": args.mode,
                    "abandon_target": args.abandon_target, "window_start": start, "window_end": end,
                    "retry_rules": rules, "max_attempts": args.max_attempts,
                    "ring_timeout_s": args.ring_timeout, "amd": args.amd, "machine_action": args.machine,
                    "amd_false_positive": args.amd_false_positive,
                    "machine_prompt": args.machine_prompt, "safe_harbor_prompt": args.safe_harbor,
                    "max_lines": args.max_lines, "max_ratio": args.max_ratio, "preview_s": args.preview_seconds}
    check_settings(settings_row)

    async def create(conn: AsyncConnection) -> list[str]:
        tenant_id = await require_tenant(conn, args.tenant)
        trunks = await flows.allowed_trunks(conn, tenant_id)
        trunk = args.trunk or (next(iter(trunks)) if len(trunks) == 1 else None)
        if trunk is None:
            raise CliError(f"tenant {args.tenant} may use {len(trunks)} trunks: choose one with --trunk")
        if trunk not in trunks:
            raise CliError(f"tenant {args.tenant} may not use trunk {trunk!r} (allowed: {', '.join(sorted(trunks))})")
        agents = [a.strip() for a in args.agents.split(",") if a.strip()]
        teams = [t.strip() for t in args.teams.split(",") if t.strip()]
        agents += await store.agents_of_teams(conn, tenant_id, teams)
        known = await agent_store.known_codes(conn, tenant_id, agents)
        if missing := sorted(set(agents) - known):
            raise CliError(f"no agent {', '.join(missing)} in tenant {args.tenant}")
        settings_row["trunk"] = trunk
        try:
            async with conn.transaction():
                await store.create_campaign(conn, tenant_id=tenant_id, code=args.code, settings=settings_row,
                                            agents=sorted(known), wrapup_s=args.wrap_up,
                                            inbound_priority=args.inbound_priority)
        except psycopg.errors.UniqueViolation as exc:
            raise CliError(f"campaign {args.code!r} (or queue {store.CAMPAIGN_QUEUE_PREFIX}{args.code}) "
                           "exists already") from exc
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"campaign {args.code!r}: a value is out of range ({exc.diag.constraint_name})") from exc
        return sorted(known)

    agents = with_connection(settings, create)
    print(f"campaign {args.code} ({args.mode}) with agents {', '.join(agents)}; queue "
          f"{store.CAMPAIGN_QUEUE_PREFIX}{args.code}: run `callcenter asterisk sync`, then "
          f"`callcenter leads import FILE --campaign {args.code}` and `callcenter campaign start {args.code}`")
    return 0


# `campaign set` option -> campaigns column
_SETTABLE = {"name": "name", "caller_id": "caller_id", "mode": "mode", "abandon_target": "abandon_target",
             "max_attempts": "max_attempts", "ring_timeout": "ring_timeout_s", "amd": "amd",
             "machine": "machine_action", "machine_prompt": "machine_prompt",
             "amd_false_positive": "amd_false_positive", "safe_harbor": "safe_harbor_prompt",
             "max_lines": "max_lines", "max_ratio": "max_ratio", "preview_seconds": "preview_s"}


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    changes: dict[str, Any] = {column: getattr(args, option) for option, column in _SETTABLE.items()
                               if getattr(args, option) is not None}
    if args.window:
        changes["window_start"], changes["window_end"] = parse_window(args.window)
    if not changes and not args.retry:
        raise CliError("nothing to change: give at least one option (see `campaign set --help`)")

    async def change(conn: AsyncConnection) -> dict[str, Any]:
        async with conn.transaction():
            campaign = await store.get_campaign(conn, args.code, lock=True)
            if campaign is None:
                raise CliError(f"no campaign {args.code!r}")
            if args.retry:
                changes["retry_rules"] = parse_retry(args.retry, campaign.retry_rules)
            values = {column: getattr(campaign, column) for column in (*_SETTABLE.values(), "retry_rules")}
            check_settings({**values, **changes})
            await store.update_campaign(conn, campaign.id, changes)
            return dict(changes)

    changed = with_connection(settings, change)
    shown = ", ".join(f"{k} {v:%H:%M}" if isinstance(v, time) else f"{k} {v}" for k, v in changed.items())
    print(f"campaign {args.code}: {shown}")
    return 0


def cmd_status_change(args: argparse.Namespace, settings: Settings) -> int:
    async def change(conn: AsyncConnection) -> bool:
        return await store.set_status(conn, args.code, args.status)

    if not with_connection(settings, change):
        raise CliError(f"no campaign {args.code!r}")
    print(f"campaign {args.code}: {args.status}")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    async def status(conn: AsyncConnection) -> dict[str, Any] | None:
        return await campaign_status(conn, args.code, datetime.now(UTC))

    report = with_connection(settings, status)
    if report is None:
        raise CliError(f"no campaign {args.code!r}")
    if args.json:
        emit_json(report)
        return 0

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2%}"

    print(f"campaign {report['campaign']} ({report['mode']}, {report['status']})")
    print(f"  dialing     {report['dial_rate_per_min']} calls in the last minute")
    print(f"  agents      {', '.join(f'{k} {v}' for k, v in sorted(report['agents'].items())) or 'none'}")
    today, window = report["today"], report["last_30_days"]
    print(f"  today       {today['live_answers']} live answers, {today['abandoned']} abandoned "
          f"({pct(today['abandon_rate'])}); " + ", ".join(f"{k} {v}" for k, v in sorted(today["outcomes"].items())))
    print(f"  30 days     {window['live_answers']} live answers, {window['abandoned']} abandoned "
          f"({pct(window['abandon_rate'])}; target {report['abandon_target']:.1%})")
    print(f"  occupancy   {pct(report['occupancy_today'])} of the agents' logged-in time today on calls")
    print(f"  leads       {', '.join(f'{k} {v}' for k, v in sorted(report['leads'].items())) or 'none'}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        return [{"code": c.code, "tenant": c.tenant_code, "mode": c.mode, "status": c.status, "queue": c.queue,
                 "caller_id": c.caller_id, "window": f"{c.window_start:%H:%M}-{c.window_end:%H:%M}"}
                for c in await store.list_campaigns(conn)]

    show_rows(args, with_connection(settings, rows), ["code", "tenant", "mode", "status", "queue", "caller_id",
                                                      "window"])
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _report_problems(problems: list[Problem], path: Path) -> None:
    for problem in problems:
        sys.stderr.write(f"{path}:{problem.line}: {problem.message}\n")


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    region = args.region.upper() if args.region else None
    if region is not None and not (len(region) == 2 and region.isalpha()):
        raise CliError(f"--region {args.region!r} is not a two-letter country code")
    text = _read(args.file)

    async def policy_of(conn: AsyncConnection) -> DialingPolicy:
        campaign = await store.get_campaign(conn, args.campaign)
        if campaign is None:
            raise CliError(f"no campaign {args.campaign!r}")
        policy = await tenants.dialing_policy(conn, campaign.tenant_id)
        assert policy is not None
        return policy

    try:
        leads, problems = parse_leads(text, with_connection(settings, policy_of), region)
    except LeadError as exc:
        raise CliError(f"{args.file}: {exc}") from exc
    _report_problems(problems, args.file)
    batch = 500
    show = not args.no_progress and sys.stderr.isatty()

    check_list_name(args.list_name)

    async def load(conn: AsyncConnection) -> int:
        campaign = await store.get_campaign(conn, args.campaign)
        if campaign is None:
            raise CliError(f"no campaign {args.campaign!r}")
        added = 0
        for i in range(0, len(leads), batch):
            async with conn.transaction():
                added += await store.import_leads(conn, campaign.id, leads[i:i + batch], args.list_name)
            if show:
                done = min(i + batch, len(leads))
                width = 30
                filled = width * done // max(1, len(leads))
                sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{len(leads)}")
        if show:
            sys.stderr.write("\n")
        return added

    added = with_connection(settings, load)
    print(f"{args.file}: {added} leads added to {args.campaign} (list {args.list_name}), "
          f"{len(leads) - added} already in the campaign, "
          f"{len(problems)} rows skipped")
    return 0 if not problems else 3


def cmd_leads(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        campaign = await store.get_campaign(conn, args.campaign)
        if campaign is None:
            raise CliError(f"no campaign {args.campaign!r}")
        return await store.list_leads(conn, campaign.id, args.status, args.list_name)

    show_rows(args, with_connection(settings, rows), store.LEAD_COLUMNS)
    return 0


def cmd_disposition(args: argparse.Namespace, settings: Settings) -> int:
    async def apply(conn: AsyncConnection) -> tuple[int, str] | None:
        last = await store.last_connected_attempt(conn, args.agent)
        if last is None:
            return None
        _attempt, lead_id, number, campaign_id = last
        async with conn.transaction():
            await apply_disposition(conn, lead_id, number, campaign_id, args.disposition, datetime.now(UTC))
        return lead_id, number

    done = with_connection(settings, apply)
    if done is None:
        raise CliError(f"agent {args.agent} has taken no campaign call")
    print(f"lead {done[0]} ({done[1]}): {args.disposition}")
    return 0


def cmd_dnc_add(args: argparse.Namespace, settings: Settings) -> int:
    if args.verb == "import":
        numbers, problems = parse_numbers(_read(args.file), args.region)
        _report_problems(problems, args.file)
    else:
        numbers, problems = parse_numbers("\n".join(args.numbers), args.region)
        for p in problems:
            sys.stderr.write(f"argument {p.line}: {p.message}\n")

    async def add(conn: AsyncConnection) -> tuple[str, int]:
        tenant_id = campaign_id = None
        scope = "global"
        if args.tenant:
            tenant_id, scope = await require_tenant(conn, args.tenant), "tenant"
        elif args.campaign:
            campaign = await store.get_campaign(conn, args.campaign)
            if campaign is None:
                raise CliError(f"no campaign {args.campaign!r}")
            campaign_id, scope = campaign.id, "campaign"
        async with conn.transaction():
            added = await store.add_dnc(conn, scope, tenant_id, campaign_id, [n for _, n in numbers],
                                        str(getattr(args, "file", "") or "cli"))
        return scope, added

    scope, added = with_connection(settings, add)
    print(f"{added} numbers added to the {scope} do-not-call list ({len(numbers) - added} there already, "
          f"{len(problems)} skipped)")
    return 0 if not problems else 3


def cmd_dnc_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, Any]]:
        return [{"scope": s, "tenant": t, "campaign": c, "number": n} for s, t, c, n in
                await store.list_dnc(conn, args.scope)]

    show_rows(args, with_connection(settings, rows), ["scope", "tenant", "campaign", "number"])
    return 0
