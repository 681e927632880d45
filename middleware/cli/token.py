"""`callcenter token create|revoke|list`: API tokens for supervisors, agents and admins.

A token is printed once, at creation; only its SHA-256 digest is stored.
"""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime

from psycopg import AsyncConnection

from middleware.api import auth
from middleware.cli.common import CliError, add_json_flag, emit_json, require_tenant, show_rows, with_connection
from middleware.config import Settings
from middleware.store import agents as agent_store
from middleware.store import tokens


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("token", help="API tokens (supervisor API, wallboard, event stream)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    c = verbs.add_parser("create", help="create a token and print it (once)")
    c.add_argument("--role", required=True, choices=auth.ROLES)
    c.add_argument("--tenant", help="the tenant it may see (required except for a platform admin)")
    c.add_argument("--agent", help="the agent an agent token speaks for")
    c.add_argument("--name", default="", help="what it is for, e.g. 'wallboard floor 2'")
    add_json_flag(c)
    c.set_defaults(func=cmd_create)
    r = verbs.add_parser("revoke", help="revoke a token by its id")
    r.add_argument("id", type=int)
    r.set_defaults(func=cmd_revoke)
    ls = verbs.add_parser("list", help="list tokens (never the tokens themselves)")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        auth.check_grant(args.role, args.tenant, args.agent)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if len(args.name) > 200:
        raise CliError("--name is longer than 200 characters")
    token = auth.new_token(secrets.token_bytes(32))

    async def create(conn: AsyncConnection) -> int:
        tenant_id = await require_tenant(conn, args.tenant) if args.tenant else None
        if args.agent is not None:
            agent = await agent_store.get_agent(conn, args.agent)
            if agent is None or agent.tenant_code != args.tenant:
                raise CliError(f"no agent {args.agent!r} in tenant {args.tenant}")
        return await tokens.create(conn, digest=auth.token_digest(token), role=args.role, tenant_id=tenant_id,
                                   agent=args.agent, name=args.name)

    token_id = with_connection(settings, create)
    if args.json:
        emit_json({"id": token_id, "token": token, "role": args.role, "tenant": args.tenant, "agent": args.agent})
    else:
        print(f"token {token_id} ({args.role}{' of ' + args.tenant if args.tenant else ', every tenant'}):")
        print(token)
        print("keep it now: it is not stored and cannot be shown again")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def revoke(conn: AsyncConnection) -> bool:
        return await tokens.revoke(conn, args.id, datetime.now(UTC))

    if not with_connection(settings, revoke):
        raise CliError(f"no live token {args.id}")
    print(f"token {args.id} revoked")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = with_connection(settings, tokens.list_tokens)
    show_rows(args, rows, ["id", "name", "role", "tenant", "agent", "created_at", "last_used_at", "revoked_at"])
    return 0
