"""`callcenter phone add|set|list`: SIP desk phones and softphones (PJSIP endpoint + auth + aor)."""

from __future__ import annotations

import argparse
import re
import secrets

import psycopg
from psycopg import AsyncConnection

from middleware.cli.common import CliError, add_json_flag, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import agents as agent_store


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("phone", help="SIP phones")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help="add a phone (then `callcenter asterisk sync`)")
    a.add_argument("endpoint", help="SIP user name, e.g. acme-1001")
    a.add_argument("--tenant", required=True)
    a.add_argument("--agent", help="agent who uses this phone")
    a.add_argument("--secret", help="SIP password (default: a random one, printed once)")
    a.set_defaults(func=cmd_add)
    st = verbs.add_parser("set", help="change a phone (then `callcenter asterisk sync`)")
    st.add_argument("endpoint")
    st.add_argument("--emergency-cid", required=True, metavar="E164",
                    help="the caller ID its emergency calls present: its location's number ('' for the tenant's)")
    st.set_defaults(func=cmd_set)
    ls = verbs.add_parser("list", help="list phones")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    secret = args.secret or secrets.token_urlsafe(12)

    async def add(conn: AsyncConnection) -> None:
        tenant_id = await require_tenant(conn, args.tenant)
        agent_id = None
        if args.agent:
            agent = await agent_store.get_agent(conn, args.agent)
            if agent is None:
                raise CliError(f"no agent {args.agent!r}")
            agent_id = agent.id
        try:
            await agent_store.upsert_phone(conn, tenant_id, args.endpoint, secret, agent_id)
        except psycopg.errors.CheckViolation as exc:
            raise CliError("endpoint: letters, digits, '.', '_' and '-'; secret: at least 8 characters") from exc

    with_connection(settings, add)
    print(f"phone {args.endpoint} secret {secret}; run `callcenter asterisk sync` to apply")
    return 0


def emergency_cid(text: str) -> str | None:
    """An emergency caller ID from the command line: E.164, or '' for none."""
    if text == "":
        return None
    if not re.fullmatch(r"\+[0-9]{4,15}", text):
        raise CliError(f"--emergency-cid: {text!r} is not an E.164 number such as +12125550100")
    return text


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    number = emergency_cid(args.emergency_cid)

    async def change(conn: AsyncConnection) -> bool:
        return await agent_store.set_emergency_cid(conn, args.endpoint, number)

    if not with_connection(settings, change):
        raise CliError(f"no phone {args.endpoint!r}")
    print(f"phone {args.endpoint}: emergency caller ID {number or '(the tenant default)'}; "
          "run `callcenter asterisk sync` to apply")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
        return [{"endpoint": p.endpoint, "tenant": p.tenant_code, "agent": p.agent_code, "codecs": p.codecs,
                 "emergency_cid": p.emergency_cid}
                for p in await agent_store.list_phones(conn)]

    show_rows(args, with_connection(settings, rows), ("endpoint", "tenant", "agent", "codecs", "emergency_cid"))
    return 0
