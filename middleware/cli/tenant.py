"""`callcenter tenant add|list|allow-trunk|recording|dialing`: the client companies this call center serves."""

from __future__ import annotations

import argparse
import dataclasses
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.cli.phone import emergency_cid
from middleware.config import Settings
from middleware.dialing.policy import RESTRICTED_TYPES, DialingPolicy
from middleware.store import flows, tenants, trunks


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("tenant", help="tenants (client companies)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add or rename a tenant")
    a.add_argument("code", help="short lowercase code, e.g. acme")
    a.add_argument("--name", required=True)
    a.add_argument("--timezone", default="UTC", help="IANA zone, e.g. Europe/Paris (default UTC)")
    a.set_defaults(func=cmd_add)
    t = verbs.add_parser("allow-trunk", help="let a tenant's IVR transfers call out through a trunk")
    t.add_argument("code")
    t.add_argument("trunk", help="a trunk of `callcenter trunk list`, e.g. carrier-sim")
    t.set_defaults(func=cmd_allow_trunk)
    r = verbs.add_parser("recording", help="a tenant's recording and survey policy (then `callcenter asterisk sync`)")
    r.add_argument("code")
    r.add_argument("--record", choices=("yes", "no"), help="record answered calls")
    r.add_argument("--consent-prompt", help="prompt played to callers first ('' for none), e.g. custom/recorded")
    r.add_argument("--retention-days", type=int, help="recordings older than this are purged")
    r.add_argument("--survey-prompt", help="post-call survey question, a sound name ('' for no survey)")
    r.set_defaults(func=cmd_recording)
    d = verbs.add_parser("dialing", help="a tenant's outbound dialing policy (countries, number types, callbacks)")
    d.add_argument("code")
    d.add_argument("--country", help="the tenant's own country (ISO 3166, e.g. US): national numbers are its")
    d.add_argument("--allow-countries", metavar="CC,CC", help="other countries it may call ('' for none)")
    d.add_argument("--allow-types", metavar="TYPE,TYPE",
                   help="restricted number types it may call anyway ('' for none): "
                        + ", ".join(sorted(RESTRICTED_TYPES)))
    d.add_argument("--callbacks-per-number-day", type=int, help="callback requests per number in 24 h")
    d.add_argument("--callbacks-per-hour", type=int, help="callback requests per hour, all callers together")
    d.add_argument("--emergency-cid", metavar="E164",
                   help="caller ID of emergency calls from phones with none of their own (the site's number; '' "
                        "for none); then `callcenter asterisk sync`")
    add_json_flag(d)
    d.set_defaults(func=cmd_dialing)
    ls = verbs.add_parser("list", help="list tenants")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CliError(f"unknown time zone {args.timezone!r}") from exc

    async def add(conn: AsyncConnection) -> int:
        try:
            return await tenants.upsert_tenant(conn, args.code, args.name, args.timezone)
        except psycopg.errors.CheckViolation as exc:
            raise CliError(f"tenant code {args.code!r} must be lowercase letters, digits and '-'") from exc

    print(f"tenant {args.code} (id {with_connection(settings, add)})")
    return 0


def cmd_allow_trunk(args: argparse.Namespace, settings: Settings) -> int:
    async def allow(conn: AsyncConnection) -> None:
        tenant_id = await require_tenant(conn, args.code)
        if not await trunks.is_trunk(conn, args.trunk):
            raise CliError(f"no trunk {args.trunk!r} (add it with `callcenter trunk add`)")
        await flows.allow_trunk(conn, tenant_id, args.trunk)

    with_connection(settings, allow)
    print(f"tenant {args.code} may transfer out through {args.trunk}")
    return 0


def cmd_recording(args: argparse.Namespace, settings: Settings) -> int:
    if args.retention_days is not None and args.retention_days < 1:
        raise CliError("--retention-days must be at least 1")

    async def change(conn: AsyncConnection) -> None:
        await require_tenant(conn, args.code)
        try:
            await tenants.set_recording_policy(
                conn, args.code, record=None if args.record is None else args.record == "yes",
                consent_prompt=args.consent_prompt, retention_days=args.retention_days,
                csat_prompt=args.survey_prompt)
        except psycopg.errors.CheckViolation as exc:
            raise CliError("prompts must be sound names: letters, digits, '_', '-', '/'") from exc

    with_connection(settings, change)
    print(f"tenant {args.code} recording policy changed; run `callcenter asterisk sync` to apply")
    return 0


def _codes(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(c.strip() for c in text.split(",") if c.strip())


def cmd_dialing(args: argparse.Namespace, settings: Settings) -> int:
    async def change(conn: AsyncConnection) -> DialingPolicy:
        tenant_id = await require_tenant(conn, args.code)
        policy = await tenants.dialing_policy(conn, tenant_id)
        assert policy is not None
        countries = _codes(args.allow_countries)
        types = _codes(args.allow_types)
        try:
            policy = dataclasses.replace(
                policy, home_country=(args.country or policy.home_country).upper(),
                countries=policy.countries if countries is None else frozenset(c.upper() for c in countries),
                number_types=policy.number_types if types is None else types,
                callbacks_per_number_day=policy.callbacks_per_number_day if args.callbacks_per_number_day is None
                else args.callbacks_per_number_day,
                callbacks_per_hour=policy.callbacks_per_hour if args.callbacks_per_hour is None
                else args.callbacks_per_hour)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if policy.callbacks_per_number_day < 0 or policy.callbacks_per_hour < 0:
            raise CliError("callback limits cannot be negative")
        await tenants.set_dialing_policy(conn, tenant_id, policy)
        if args.emergency_cid is not None:
            await tenants.set_emergency_cid(conn, tenant_id, emergency_cid(args.emergency_cid))
        return policy

    policy = with_connection(settings, change)
    row = {"code": args.code, "country": policy.home_country, "allow_countries": ",".join(sorted(policy.countries)),
           "allow_types": ",".join(sorted(policy.number_types)),
           "callbacks_per_number_day": policy.callbacks_per_number_day,
           "callbacks_per_hour": policy.callbacks_per_hour}
    show_rows(args, [row], list(row))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [{k: ",".join(v) if isinstance(v, list) else v for k, v in row.items()}
                for row in await tenants.list_tenants(conn)]

    show_rows(args, with_connection(settings, rows), tenants.TENANT_COLUMNS)
    return 0
