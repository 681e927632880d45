"""`callcenter trunk add|set|list|show|remove`: the carriers the center sends calls to and takes DIDs from."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import asdict, replace
from typing import Any

from psycopg import AsyncConnection

from middleware.ami import queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.cli.common import CliError, add_json_flag, emit_json, pool_for, print_table, show_rows, with_connection
from middleware.config import Settings
from middleware.store import trunks as store
from middleware.trunks import spec
from middleware.trunks.spec import Trunk

APPLY = "run `callcenter asterisk sync` to apply"


def _options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    p.add_argument("--host", help="the carrier's SIP proxy (and registrar): name or address")
    p.add_argument("--port", type=int, help="its UDP port (default 5060)")
    p.add_argument("--match", metavar="CIDR,CIDR",
                   help="the carrier's signalling networks, whose requests are its calls (default: the host; "
                        "'' for none, with --register)")
    p.add_argument("--username", help="outbound digest authentication (and registration) user")
    p.add_argument("--password", help="its password")
    p.add_argument("--register", action=argparse.BooleanOptionalAction, default=None,
                   help="REGISTER with the carrier to receive its calls")
    p.add_argument("--contact-user", help="user part of the registered Contact (default: the username)")
    p.add_argument("--codecs", metavar="CODEC,CODEC", help="in order of preference (default alaw,ulaw)")
    p.add_argument("--dtmf-mode", choices=sorted(spec.DTMF_MODES), help="default rfc4733")
    p.add_argument("--caller-id", choices=sorted(spec.CALLER_ID_MODES),
                   help="how the caller ID reaches the carrier: P-Asserted-Identity (default), Remote-Party-ID, "
                        "or From only")
    p.add_argument("--max-channels", type=int, help="calls in progress on the trunk at most (0: no cap)")
    p.add_argument("--qualify", type=int, metavar="SECONDS",
                   help="OPTIONS to the carrier this often (default 60; 0: never)")
    if not adding:
        p.add_argument("--no-auth", action="store_true", help="drop the username and password")


def register(nouns: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = nouns.add_parser("trunk", help="carrier trunks")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    verbs.required = True
    a = verbs.add_parser("add", help=f"add a trunk ({APPLY})")
    a.add_argument("name", help="e.g. carrier-a")
    _options(a, adding=True)
    a.set_defaults(func=cmd_add)
    s = verbs.add_parser("set", help=f"change a trunk's settings ({APPLY})")
    s.add_argument("name")
    _options(s, adding=False)
    s.set_defaults(func=cmd_set)
    ls = verbs.add_parser("list", help="list trunks with what Asterisk says of them now")
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)
    sh = verbs.add_parser("show", help="one trunk's settings, state and users")
    sh.add_argument("name")
    add_json_flag(sh)
    sh.set_defaults(func=cmd_show)
    rm = verbs.add_parser("remove", help=f"remove a trunk no tenant or campaign uses ({APPLY})")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)


def _changed(t: Trunk, args: argparse.Namespace) -> Trunk:
    """``t`` with what the command line gives; the rest as it was."""
    changes: dict[str, Any] = {}
    for option, field in (("host", "host"), ("port", "port"), ("username", "username"), ("password", "password"),
                          ("register", "register"), ("contact_user", "contact_user"), ("dtmf_mode", "dtmf_mode"),
                          ("caller_id", "caller_id"), ("qualify", "qualify_s")):
        if (value := getattr(args, option)) is not None:
            changes[field] = value
    if args.match is not None:
        changes["match"] = tuple(m for m in args.match.split(",") if m.strip())
    if args.codecs is not None:
        changes["codecs"] = tuple(args.codecs.split(","))
    if args.max_channels is not None:
        if args.max_channels < 0:
            raise CliError("--max-channels: 0 for no cap, or the cap")
        changes["max_channels"] = args.max_channels or None
    if getattr(args, "no_auth", False):
        if args.username or args.password:
            raise CliError("--no-auth drops the credentials: give it without --username/--password")
        changes.update(username=None, password=None, register=False, contact_user=None)
    if changes.get("register") is False:
        changes.setdefault("contact_user", None)
    return replace(t, **changes)


def _save(settings: Settings, trunk: Trunk) -> None:
    try:
        checked = spec.check(trunk)
    except spec.InvalidTrunk as exc:
        raise CliError(f"trunk {trunk.name}: {exc}") from exc

    async def save(conn: AsyncConnection) -> None:
        try:
            await store.save_trunk(conn, checked)
        except store.NameTaken as exc:
            raise CliError(str(exc)) from exc

    with_connection(settings, save)


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    async def exists(conn: AsyncConnection) -> bool:
        return await store.is_trunk(conn, args.name)

    if with_connection(settings, exists):
        raise CliError(f"trunk {args.name} exists; change it with `callcenter trunk set`")
    _save(settings, _changed(Trunk(args.name), args))
    print(f"trunk {args.name} added; {APPLY}")
    return 0


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    async def current(conn: AsyncConnection) -> Trunk | None:
        return await store.get_trunk(conn, args.name)

    trunk = with_connection(settings, current)
    if trunk is None:
        raise CliError(f"no trunk {args.name!r}")
    _save(settings, _changed(trunk, args))
    print(f"trunk {args.name} changed; {APPLY}")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(conn: AsyncConnection) -> bool:
        try:
            return await store.remove_trunk(conn, args.name)
        except store.TrunkInUse as exc:
            raise CliError(f"{exc}: move them to another trunk first") from exc

    if not with_connection(settings, remove):
        raise CliError(f"no trunk {args.name!r}")
    print(f"trunk {args.name} removed; {APPLY}")
    return 0


async def asterisk_view(settings: Settings, names: list[str]
                        ) -> tuple[dict[str, tuple[str, float | None]], dict[str, str]] | None:
    """Asterisk's view of these trunks: aor -> (qualify status, rtt ms), and the outbound registrations'
    states; None when it cannot say. A trunk Asterisk does not know (not synced yet) has no contact."""
    ami = AmiClient(host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
                    secret=settings.ami_secret, action_timeout=settings.ami_action_timeout)
    contacts: list[queries.ContactState] = []
    try:
        await ami.start(wait=5)
        for name in names:
            with contextlib.suppress(AmiActionFailed):  # "Unable to retrieve endpoint": not provisioned
                contacts += await queries.endpoint_contacts(ami, name)
        registrations = await queries.outbound_registrations(ami)
    except (AmiUnavailable, AmiActionFailed):
        return None
    finally:
        await ami.close()
    return {c.aor: (c.status, c.rtt_ms) for c in contacts}, registrations


def _row(t: Trunk, view: tuple[dict[str, tuple[str, float | None]], dict[str, str]] | None,
         used_by: list[str]) -> dict[str, Any]:
    state = spec.state(t, *view) if view is not None else None
    return {"name": t.name, "host": t.host and f"{t.host}:{t.port}", "match": ",".join(t.match) or None,
            "register": t.register, "codecs": ",".join(t.codecs), "caller_id": t.caller_id,
            "max_channels": t.max_channels, "qualify_s": t.qualify_s,
            "reachable": state.reachable if state else "asterisk down",
            "rtt_ms": state.rtt_ms if state else None, "registration": state.registration if state else None,
            "used_by": ", ".join(used_by) or None}


def _rows(settings: Settings, name: str | None) -> list[tuple[Trunk, dict[str, Any]]]:
    """Each trunk (one, or all) with its list row: settings, Asterisk's view of it, its users."""
    async def go() -> list[tuple[Trunk, dict[str, Any]]]:
        async with pool_for(settings) as pool, pool.connection() as conn:
            trunks = await store.list_trunks(conn) if name is None else [
                t for t in [await store.get_trunk(conn, name)] if t is not None]
            used = {t.name: await store.users(conn, t.name) for t in trunks}
        view = await asterisk_view(settings, [t.name for t in trunks]) if trunks else None
        return [(t, _row(t, view, used[t.name])) for t in trunks]

    return asyncio.run(go())


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    show_rows(args, [row for _, row in _rows(settings, None)],
              ("name", "host", "match", "register", "registration", "reachable", "rtt_ms", "max_channels", "used_by"))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    found = _rows(settings, args.name)
    if not found:
        raise CliError(f"no trunk {args.name!r}")
    trunk, row = found[0]
    shown = {**row, **asdict(trunk), "password": "(set)" if trunk.password else None,
             "match": list(trunk.match), "codecs": list(trunk.codecs)}
    if args.json:
        emit_json(shown)
    else:
        print_table([{"setting": k, "value": ", ".join(v) if isinstance(v, list) else v} for k, v in shown.items()],
                    ("setting", "value"))
    return 0
