"""Write the generated config from PostgreSQL and have Asterisk reload what changed."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from psycopg import AsyncConnection

from middleware.ami import actions
from middleware.ami.client import AmiActionFailed, AmiClient
from middleware.dialing.emergency import emergency_numbers, emergency_trunks
from middleware.directory import EmergencyPlan
from middleware.ivr.flow import mailboxes
from middleware.ivr.validation import parse_flow
from middleware.provision.files import asterisk_gid, seal, write_private
from middleware.provision.render import (
    render_agents,
    render_cdr_pgsql,
    render_extensions,
    render_pjsip,
    render_queue_rules,
    render_queues,
    render_voicemail,
)
from middleware.security.auth_failures import render_acl
from middleware.store import agents as agent_store
from middleware.store import flows, routes, sip_blocks, tenants, trunks
from middleware.store.database import Pool
from middleware.trunks.render import render_trunk_contexts, render_trunks

log = structlog.get_logger(__name__)

# Generated file -> the CLI command that makes Asterisk read it again.
RELOADS: dict[str, str] = {
    "pjsip.conf": "module reload res_pjsip.so",
    "pjsip_acl.conf": "module reload res_pjsip.so",
    "queues.conf": "module reload app_queue.so",
    # "module reload" skips queuerules.conf when the top file is unchanged (ours only #includes);
    # the CLI command forces it.
    "queuerules.conf": "queue reload rules",
    "extensions.conf": "dialplan reload",
    "voicemail.conf": "module reload app_voicemail.so",
    "agents.conf": "module reload app_agent_pool.so",
}


@dataclass(frozen=True)
class ProvisionResult:
    phones: int
    queues: int
    dids: int
    changed: tuple[str, ...]
    trunks: int = 0


def write_if_changed(path: Path, text: str, gid: int | None = None) -> bool:
    """Write a generated file (0640 root:asterisk, see files.py) unless it already holds ``text``."""
    if path.exists() and path.read_text() == text:
        seal(path, gid)  # a file of an earlier release may still be world-readable
        return False
    before = path.stat().st_mtime if path.exists() else 0.0
    write_private(path, text, gid)
    # Asterisk compares whole-second mtimes: a rewrite within the second it last loaded must still look new.
    stamp = max(time.time(), before + 1.0)
    os.utime(path, (stamp, stamp))
    return True


async def _raw_cdr_writer(ami: AmiClient, changed: bool) -> None:
    """Load cdr_pgsql once it points at our database (migrated, so its `cdr` table exists), or reload it
    when that changed. Never at Asterisk's boot: it crashes Asterisk 22 against a database without the table."""
    try:
        await ami.action({"Action": "ModuleCheck", "Module": "cdr_pgsql"})
        loaded = True
    except AmiActionFailed:
        loaded = False
    if not loaded or changed:  # (the Command action refuses "module load": AMI has an action for it)
        await ami.action({"Action": "ModuleLoad", "Module": "cdr_pgsql.so", "LoadType": "reload" if loaded else "load"})


async def emergency_plans(conn: AsyncConnection, every_trunk: list[str]) -> dict[str, EmergencyPlan]:
    """Per tenant: its country's emergency numbers, the trunks to try (its routes', its allowed ones,
    then every other), its default emergency caller ID."""
    plans = {}
    for tenant_id, code, country, caller_id in await tenants.emergency_settings(conn):
        route_trunks = [t for r in await routes.list_routes(conn, tenant_id) for t in r.trunks]
        allowed = await flows.allowed_trunks(conn, tenant_id)
        plans[code] = EmergencyPlan(emergency_numbers(country or "US"),
                                    emergency_trunks(route_trunks, allowed & set(every_trunk), every_trunk), caller_id)
    return plans


async def provision(pool: Pool, generated_dir: Path, ami: AmiClient | None,
                    *, force_reload: bool = False, cdr_conninfo: str | None = None) -> ProvisionResult:
    """Render every generated file from PostgreSQL and reload what changed. ``cdr_conninfo``: the
    least-privileged role cdr_pgsql writes Asterisk's own CDR rows with (default: the pool's)."""
    async with pool.connection() as conn:
        phones = await agent_store.list_phones(conn)
        queues = await tenants.list_queues(conn)
        dids = await tenants.list_dids(conn)
        flow_rows = await flows.list_flows(conn)
        agents = await agent_store.agent_names(conn)
        blocked = await sip_blocks.active(conn, datetime.now(UTC))
        carriers = await trunks.list_trunks(conn)
        emergency = await emergency_plans(conn, [t.name for t in carriers])
    boxes = [(row.tenant_code, box) for row in flow_rows for box in mailboxes(parse_flow(row.definition))]
    generated_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "pjsip.conf": render_pjsip(phones) + render_trunks(carriers),
        "pjsip_acl.conf": render_acl(blocked),
        "queues.conf": render_queues(queues),
        "queuerules.conf": render_queue_rules(queues),
        "extensions.conf": render_extensions(dids, phones, queues, emergency) + render_trunk_contexts(carriers),
        "voicemail.conf": render_voicemail(boxes),
        "agents.conf": render_agents(agents),
        "cdr_pgsql.conf": render_cdr_pgsql(cdr_conninfo or str(pool.conninfo)),
    }
    gid = asterisk_gid(generated_dir.parent.parent)  # <root>/etc/group of the Asterisk it serves
    changed = tuple(name for name, text in texts.items() if write_if_changed(generated_dir / name, text, gid))
    if ami is not None:
        names = RELOADS if force_reload else [name for name in changed if name in RELOADS]
        commands = dict.fromkeys(RELOADS[name] for name in names)
        for command in commands:  # each module once, in order
            await ami.action(actions.command(command))
        await _raw_cdr_writer(ami, force_reload or "cdr_pgsql.conf" in changed)
    log.info("provision.done", phones=len(phones), queues=len(queues), dids=len(dids), trunks=len(carriers),
             changed=changed)
    return ProvisionResult(len(phones), len(queues), len(dids), changed, len(carriers))
